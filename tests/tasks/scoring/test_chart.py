"""The scoring-summary chart: one bar per scored file, drawn from the rows and seconds of each."""

import io
from pathlib import Path

from PIL import Image

from tasks.core.records import ScoredFile
from tasks.scoring.chart import CHART_BUDGET, CHART_FILES, chart_markdown, charted, scoring_chart
from tests.tasks.evaluation.test_plots import PNG_MAGIC
from tests.tasks.ui.test_fonts import missing_glyph_warnings
from tests.tasks.ui.test_images import images


def scored(name: str, rows: int, seconds: float, status: str = "scored", rejected: int = 0) -> ScoredFile:
    return ScoredFile(input=Path(name), status=status, predictions=Path(f"{name}.pred"), manifest=Path(f"{name}.m"),
                      rows_in=rows + rejected, rows_scored=rows, rows_rejected=rejected, seconds=seconds)


def test_chart_draws_the_scored_files_and_changes_with_their_speed():
    files = [scored("a.jsonl", 1200, 2.0), scored("b.jsonl", 300, 1.5, rejected=12), scored("c.jsonl", 0, 0.0,
                                                                                           status="skipped")]
    assert [r.input.name for r in charted(files)] == ["a.jsonl", "b.jsonl"]  # skipped files took no time
    png = scoring_chart(files)
    assert png[:8] == PNG_MAGIC and len(png) > 5_000
    slower = scoring_chart([scored("a.jsonl", 1200, 6.0), *files[1:]])
    assert slower != png and scoring_chart(files) == png
    with Image.open(io.BytesIO(png)) as image:
        assert 500 <= image.width <= 760  # the width of the artifact page's column, at the plots' DPI


def test_markdown_holds_the_chart_as_an_image_under_its_budget():
    files = [scored(f"part-{i:04d}.jsonl", 100 + i, 1.0) for i in range(3 * CHART_FILES)]
    (png,) = images(chart_markdown(files)).values()
    assert png[:8] == PNG_MAGIC and len(png) * 4 / 3 <= CHART_BUDGET
    with Image.open(io.BytesIO(png)) as many, Image.open(io.BytesIO(scoring_chart(files[:5]))) as few:
        assert many.height > few.height  # one bar per file, but at most CHART_FILES of them
    assert len(charted(files)) == CHART_FILES


def test_nothing_scored_draws_no_chart():
    assert chart_markdown([scored("a.jsonl", 50, 0.0, status="skipped"), scored("b.jsonl", 0, 0.0, "busy")]) == ""


def test_chinese_file_names_draw_as_glyphs():
    assert missing_glyph_warnings(lambda: scoring_chart([scored("新闻-一月.jsonl", 80, 0.5)])) == []
