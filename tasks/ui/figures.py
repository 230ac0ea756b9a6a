"""Drawing a figure for people: CJK-capable text, PNG bytes at the UI's width, and an atomic save.

Every stage's charts (training curves and test plots, drift, scoring) go through here, so they share one
headless backend, one resolution and one font fallback (tasks/ui/fonts.py).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib

matplotlib.use("Agg")  # headless: flows run on servers and in CI without a display

import matplotlib.pyplot as plt  # after the backend choice

from tasks.core.files import atomic_path
from tasks.ui.fonts import cjk_fonts

# 100 dpi: a 6.4 x 4 inch figure is 640 x 400 px, about the width of the Prefect UI's artifact column (~720 px
# in a 1280 px window), so the artifact pages show the PNGs at their own size, and each stays 10-60 KB.
PLOT_DPI = 100


P = ParamSpec("P")
R = TypeVar("R")


def with_cjk_fonts(draw: Callable[P, R]) -> Callable[P, R]:
    """Draws with the CJK fallback fonts, for the whole function: text takes its font when it is created."""
    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> R:
        with cjk_fonts():
            return draw(*args, **kwargs)
    return drawn


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PLOT_DPI, bbox_inches="tight")
    plt.close(fig)  # pyplot keeps every open figure alive otherwise: a long-lived worker would leak them
    return buffer.getvalue()


def save_png(fig, path: Path) -> Path:
    png = png_bytes(fig)
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)
    return path
