"""Saving the examples' figures: matplotlib is optional (the `plots` extra).

`save_plot(draw, path)` calls `draw(plt)` and writes the figure to `path` when matplotlib is
installed, and says how to install it when it is not; the examples run either way.
"""

from __future__ import annotations

from pathlib import Path

#: Where the examples write their figures unless told otherwise (ignored by git).
OUTPUT = Path(__file__).resolve().parent / "output"


def default_path(name: str) -> Path:
    """examples/output/NAME.png."""
    return OUTPUT / f"{name}.png"


def save_plot(draw, path, what: str = "plot") -> bool:
    """Draw with `draw(plt)` and save to `path`; False (with a message) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: no {what} saved "
              "(pip install -e \".[plots]\" to get it)")
        return False
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.figure(figsize=(6.4, 4.0))
    draw(plt)
    plt.tight_layout()
    plt.savefig(path, dpi=100)
    plt.close()
    print(f"saved the {what} to {path}")
    return True
