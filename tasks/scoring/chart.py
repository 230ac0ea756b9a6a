"""A small chart for the scoring-summary artifact: rows and texts/s of each scored file.

Drawn in memory only: scoring writes nothing but its own outputs (see README, "Resuming and safety"), so the
chart lives in the artifact's description, where the UI shows it above the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

from tasks.core.records import ScoredFile
from tasks.ui.figures import png_bytes, with_cjk_fonts
from tasks.ui.images import data_uri, fit_png

CHART_FILES = 25  # bars that stay readable in ~300 px of height; a larger run charts its first 25 files
CHART_BUDGET = 200_000  # characters of data URI: the description also travels in the artifact's event


def charted(results: Sequence[ScoredFile]) -> list[ScoredFile]:
    """Files scored in this run (skipped and busy files took no time), in the order of the table."""
    return [r for r in results if r.status == "scored" and r.seconds > 0][:CHART_FILES]


@with_cjk_fonts  # file names may be Chinese too
def scoring_chart(results: Sequence[ScoredFile]) -> bytes | None:
    """Rows per file (scored and rejected) beside texts/s per file; None when this run scored no file."""
    shown = charted(results)
    if not shown:
        return None
    y = list(range(len(shown)))
    fig, (rows_ax, speed_ax) = plt.subplots(1, 2, sharey=True, figsize=(7, 1.2 + 0.28 * len(shown)))
    scored = [r.rows_scored for r in shown]
    rows_ax.barh(y, scored, color="tab:blue", label="scored")
    rows_ax.barh(y, [r.rows_rejected for r in shown], left=scored, color="tab:red", label="rejected")
    rows_ax.set_yticks(y, labels=[r.input.name for r in shown], fontsize="small")
    rows_ax.invert_yaxis()  # first file at the top, as in the table
    rows_ax.set_xlabel("rows")
    rows_ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, fontsize="x-small", frameon=False)
    speed_ax.barh(y, [r.rows_scored / r.seconds for r in shown], color="tab:green")
    speed_ax.set_xlabel("texts/s")
    more = sum(r.status == "scored" for r in results) - len(shown)
    speed_ax.set_title(f"Scored files{f' (first {len(shown)}; {more} more in the table)' if more > 0 else ''}",
                       fontsize="medium", loc="right")
    return png_bytes(fig)


def chart_markdown(results: Sequence[ScoredFile]) -> str:
    """The chart as a markdown image to follow the summary's description; empty when there is nothing to chart."""
    png = scoring_chart(results)
    return "" if png is None else f"\n\n![rows and texts/s per file]({data_uri(fit_png(png, CHART_BUDGET))})"
