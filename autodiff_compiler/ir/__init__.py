"""Structured SSA IR: types, values, ops, regions, builder, printer, verifier."""
