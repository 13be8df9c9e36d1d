"""`python -m autodiff_compiler`: see autodiff_compiler.cli."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
