"""Frontend: source -> gast AST -> fence -> name resolution -> structured SSA."""
