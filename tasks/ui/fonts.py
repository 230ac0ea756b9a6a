"""Fonts for the plots: class names may be Chinese (正面/负面), and matplotlib's own DejaVu Sans has no CJK glyphs.

The font comes from a PyPI package (``paperang-p2-fonts-cjk``, a dependency: ``pip install -e .`` brings it):
WenQuanYi Micro Hei, 5 MB, with every CJK Unified Ideograph of U+4E00-U+9FA5 (all of GB2312, GBK and Big5,
simplified and traditional), kana and the 11,172 Hangul syllables. matplotlib falls back glyph by glyph along
``font.family``: Latin text keeps DejaVu Sans, CJK characters take the first family that has them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from importlib import resources

from matplotlib import font_manager, rc_context

PACKAGED_CJK_FONT = ("paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc")
# After the packaged font, CJK fonts a machine may have installed itself (Debian, macOS, Windows), in that order.
CJK_FALLBACKS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                 "Microsoft YaHei", "PingFang SC", "SimHei")


def register_packaged_font() -> str | None:
    """Adds the packaged CJK font to matplotlib's font manager; its family name, or None when not installed."""
    package, name = PACKAGED_CJK_FONT
    try:
        path = resources.files(package) / name
    except ModuleNotFoundError:
        return None
    if not path.is_file():
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


@functools.cache  # the font manager keeps what was added: once per process is enough
def plot_font_families() -> tuple[str, ...]:
    """DejaVu Sans first, then every CJK family of the fallback list that this machine has."""
    register_packaged_font()
    known = {font.name for font in font_manager.fontManager.ttflist}
    # Only families that exist: a missing one in font.family makes matplotlib log "font family not found".
    return ("DejaVu Sans", *(family for family in CJK_FALLBACKS if family in known))


@contextlib.contextmanager
def cjk_fonts() -> Iterator[None]:
    """Text created inside takes its glyphs from the fallback list (fonts are resolved when text is made)."""
    with rc_context({"font.family": list(plot_font_families())}):
        yield
