"""The training run's artifacts in the Prefect UI: epochs table, test report, plots, and where its outputs are.

A key makes each new run's artifact the next version of the same one, so the Artifacts page shows how a
table changed across runs. Outside a Prefect run (plain calls in tests and benchmarks) nothing is created.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.core.logs import in_prefect_run
from tasks.core.records import Predictions, Promotion, RunDir, TrainResult
from tasks.evaluation.report_markdown import promotion_section
from tasks.training.artifacts import epoch_rows
from tasks.training.evaluations import by_step, selected_name
from tasks.ui.images import ARTIFACT_IMAGE_BUDGET, images_markdown

EPOCHS_KEY = "training-epochs"
TEST_KEY = "test-report"
OUTPUTS_KEY = "model-and-predictions"
PLOTS_KEY = "training-plots"
TEST_PLOTS = ("confusion_matrix", "reliability")  # the plots of the test set, shown in the test-report too


def plots_note(test_markdown: str, plots: Sequence[Path]) -> str:
    """The test plots as images below the test report, within the artifact's image budget."""
    shown = [plot for plot in plots if plot.stem in TEST_PLOTS]
    if not shown:
        return ""
    images = images_markdown(shown, ARTIFACT_IMAGE_BUDGET - len(test_markdown.encode()))
    return f"\n## Plots\n\nAll of this run's plots: the `{PLOTS_KEY}` artifact.\n\n{images}\n"


def plots_markdown(run: RunDir, plots: Sequence[Path]) -> str:
    return f"# Plots of run `{run.path.name}`\n\n{images_markdown(plots)}\n"


def outputs_markdown(run: RunDir, train: TrainResult | None, predictions: Predictions | None,
                     promotion: Promotion | None, plots: Sequence[Path]) -> str:
    # A list, not a table: long absolute paths wrap instead of being cut off at the table's edge.
    items = [f"- **run directory**: `{run.path}`", f"- **report**: `{run.file('report.md')}`"]
    if train is not None:
        items.append(f"- **model** ({selected_name(train.epochs, train.best_epoch, train.best_step)}, dev "
                     f"{train.selection_metric} "
                     f"{train.best_dev_metric:.4f}): `{train.model_dir}`")
    if predictions is not None:
        items.append(f"- **test predictions** ({predictions.rows} rows, model digest "
                     f"`{predictions.model_digest[:16]}`): `{predictions.path}`")
    items += [f"- **plot** {plot.stem.replace('_', ' ')}: `{plot}`" for plot in plots]
    page = f"# Model and predictions of run `{run.path.name}`\n\n" + "\n".join(items) + "\n"
    return page + (f"\n{promotion_section(promotion)}" if promotion is not None else "")


def publish_run(run: RunDir, train: TrainResult | None, test_markdown: str | None, predictions: Predictions | None,
                promotion: Promotion | None, plots: Sequence[Path]) -> None:
    """The training run's artifacts: epochs table, test report, plots, and where the model and predictions are."""
    if not in_prefect_run():
        return
    if train is not None:
        per = "evaluation (by step)" if by_step(train.epochs) else "epoch"
        create_table_artifact(key=EPOCHS_KEY, table=epoch_rows(train.epochs), description=(
            f"Per {per} of run `{run.path.name}`; {selected_name(train.epochs, train.best_epoch, train.best_step)} "
            f"selected by dev {train.selection_metric}"))
    if test_markdown is not None:
        create_markdown_artifact(key=TEST_KEY, markdown=f"{test_markdown}{plots_note(test_markdown, plots)}",
                                 description=f"Test metrics of run `{run.path.name}`")
    if plots:
        create_markdown_artifact(key=PLOTS_KEY, markdown=plots_markdown(run, plots), description=(
            f"Training curves and test plots of run `{run.path.name}`, as in its `plots/` folder and `report.md`"))
    create_markdown_artifact(key=OUTPUTS_KEY, markdown=outputs_markdown(run, train, predictions, promotion, plots),
                             description="Where this run's model, predictions, report and plots are")
