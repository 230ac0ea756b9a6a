"""Chinese class names in the plots are drawn as glyphs, not as empty boxes (tofu)."""

import warnings

import matplotlib.pyplot as plt
import numpy as np

from tasks.evaluation.plots import confusion_matrix, training_curves
from tasks.ui.fonts import cjk_fonts, plot_font_families
from tests.tasks.evaluation.test_plots import assert_png, epochs

NAMES = ["正面", "负面", "中性"]


def missing_glyph_warnings(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def drawn(char: str) -> np.ndarray:
    """The pixels of one character alone on a small canvas, drawn with the plots' fonts."""
    with cjk_fonts():
        fig = plt.figure(figsize=(0.6, 0.6), dpi=100)
        fig.text(0.5, 0.5, char, fontsize=24, ha="center", va="center")
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()
    plt.close(fig)
    return pixels


def test_the_packaged_cjk_font_is_in_the_fallback_list():
    families = plot_font_families()
    assert families[0] == "DejaVu Sans"  # Latin text and digits keep matplotlib's own font
    assert "WenQuanYi Micro Hei" in families  # from the paperang-p2-fonts-cjk dependency


def test_confusion_matrix_with_chinese_class_names_has_no_missing_glyphs(tmp_path):
    assert missing_glyph_warnings(lambda: assert_png(confusion_matrix(
        NAMES, [[9, 1, 0], [2, 7, 1], [0, 0, 10]], tmp_path / "plots/confusion_matrix.png"))) == []
    assert missing_glyph_warnings(lambda: training_curves(epochs([0.6, 0.8], 2), tmp_path / "curves.png")) == []


def test_chinese_characters_are_distinct_glyphs_not_one_box():
    # A font without the characters draws each as the same .notdef box: equal pixels for different characters.
    glyphs = {char: drawn(char) for char in "正负面中性積極"}
    blank = drawn(" ")
    for char, pixels in glyphs.items():
        assert (pixels != blank).any(), char
    pairs = [(a, b) for a in glyphs for b in glyphs if a < b]
    assert all((glyphs[a] != glyphs[b]).any() for a, b in pairs)
