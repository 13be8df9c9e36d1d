"""autodiff_compiler: source-to-source automatic differentiation of numeric Python."""

__version__ = "0.1.0"
