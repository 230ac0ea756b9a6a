"""Plots as data-URI images in the artifacts' markdown: the same PNG bytes, and never over the size budget."""

import base64
import io
import re

from PIL import Image

from tasks.core.records import RunDir
from tasks.evaluation.artifacts import plots_markdown, plots_note
from tasks.evaluation.plots import confusion_matrix, training_curves
from tasks.ui.images import ARTIFACT_IMAGE_BUDGET, PREFIX, fit_png, images_markdown
from tests.tasks.evaluation.test_plots import PNG_MAGIC, epochs

IMAGE = re.compile(r"!\[([^\]]*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def images(markdown: str) -> dict[str, bytes]:
    return {alt: base64.b64decode(data) for alt, data in IMAGE.findall(markdown)}


def test_small_plots_are_embedded_byte_for_byte_with_their_path(tmp_path):
    curves = training_curves(epochs([0.6, 0.8, 0.7], selected=2), tmp_path / "plots/training_curves.png")
    matrix = confusion_matrix(["neg", "pos"], [[40, 8], [5, 43]], tmp_path / "plots/confusion_matrix.png")
    markdown = images_markdown([curves, matrix])
    assert images(markdown) == {"training curves": curves.read_bytes(), "confusion matrix": matrix.read_bytes()}
    assert f"`{curves}`" in markdown and f"`{matrix}`" in markdown
    assert "shrunk" not in markdown


def test_a_plot_over_its_share_is_shrunk_to_fit_and_stays_a_png(tmp_path):
    # The figure grows with the classes (60 classes: 74 inches); here a budget of half the plot stands for that.
    n = 12
    names = [f"class-{i}" for i in range(n)]
    matrix = confusion_matrix(names, [[(i * 7 + j * 13) % 50 for j in range(n)] for i in range(n)],
                              tmp_path / "plots/confusion_matrix.png")
    budget = len(PREFIX) + len(base64.b64encode(matrix.read_bytes())) // 2
    markdown = images_markdown([matrix], budget)
    (png,) = images(markdown).values()
    assert len(PREFIX) + len(base64.b64encode(png)) <= budget and png[:8] == PNG_MAGIC
    with Image.open(io.BytesIO(png)) as small, Image.open(matrix) as full:
        assert 0 < small.width < full.width and abs(small.width / small.height - full.width / full.height) < 0.05
    assert "shrunk to" in markdown


def test_fit_png_returns_the_same_bytes_when_they_fit(tmp_path):
    png = training_curves(epochs([0.6, 0.8], 2), tmp_path / "a.png").read_bytes()
    assert fit_png(png, ARTIFACT_IMAGE_BUDGET) is png


def test_training_plots_show_every_plot_and_the_test_report_the_test_plots(tmp_path):
    run = RunDir(path=tmp_path / "run")
    plots = [training_curves(epochs([0.6, 0.8], 2), run.file("plots/training_curves.png")),
             confusion_matrix(["neg", "pos"], [[4, 1], [0, 5]], run.file("plots/confusion_matrix.png"))]
    assert list(images(plots_markdown(run, plots))) == ["training curves", "confusion matrix"]
    note = plots_note("## Test\n", plots)
    assert list(images(note)) == ["confusion matrix"] and "`training-plots` artifact" in note
    assert plots_note("## Test\n", plots[:1]) == ""
