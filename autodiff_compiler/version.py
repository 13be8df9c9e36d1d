"""The compiler's version, in a module of its own: generated modules and cache keys record
it, and the stages that need it import it from here rather than from the package (whose
__init__ imports the user-facing modules, which would close an import cycle)."""

__version__ = "0.1.0"
