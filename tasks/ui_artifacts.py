"""What a person sees in the Prefect UI: artifacts under stable keys, and progress bars.

A key makes each new run's artifact the next version of the same one, so the Artifacts page shows how a
table changed across runs. Outside a Prefect run (plain calls in tests and benchmarks) nothing is created.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext

from tasks.evaluations import by_step, selected_name
from tasks.logs import in_prefect_run
from tasks.plot_images import ARTIFACT_IMAGE_BUDGET, images_markdown
from tasks.records import EpochRecord, Predictions, Promotion, RunDir, TrainResult
from tasks.train_progress import TrainProgress

EPOCHS_KEY = "training-epochs"
TEST_KEY = "test-report"
OUTPUTS_KEY = "model-and-predictions"
PLOTS_KEY = "training-plots"
TEST_PLOTS = ("confusion_matrix", "reliability")  # the plots of the test set, shown in the test-report too
TRAINING_PROGRESS_KEY = "training-progress"

_bars: dict[UUID, UUID] = {}  # run id -> its progress artifact, so each run has one bar, not one per call
_bars_lock = threading.Lock()  # task runs share this process's threads


def _current_run_id() -> UUID | None:
    if (task_run := TaskRunContext.get()) is not None:
        return task_run.task_run.id
    flow_run = FlowRunContext.get()
    return flow_run.flow_run.id if flow_run is not None and flow_run.flow_run else None


def report_progress(fraction: float, description: str, key: str | None = None) -> None:
    """One progress bar per run (task or flow): created on the first call, then moved on."""
    run_id = _current_run_id() if in_prefect_run() else None
    if run_id is None:
        return
    percent = round(100 * min(max(fraction, 0.0), 1.0), 1)
    with _bars_lock:
        bar = _bars.get(run_id)
        if bar is None:
            _bars[run_id] = create_progress_artifact(percent, key=key, description=description)
            return
    update_progress_artifact(bar, percent, description=description)


def epoch_progress(record: EpochRecord, total_epochs: int, total_steps: int = 0) -> None:
    """After an evaluation: at an epoch's end, or (``total_steps`` given) at a step of ``--eval_steps``."""
    scores = f"train loss {record.train_loss:.4f}, dev accuracy {record.dev_accuracy:.4f}"
    if total_steps:
        report_progress(record.step / total_steps, f"Training: step {record.step:,} of {total_steps:,} (epoch "
                        f"{record.epoch} of {total_epochs}) evaluated, {scores}", TRAINING_PROGRESS_KEY)
    else:
        report_progress(record.epoch / total_epochs, f"Training: epoch {record.epoch} of {total_epochs} done, "
                        f"{scores}", TRAINING_PROGRESS_KEY)


def step_progress(progress: TrainProgress, setting: str) -> None:
    """Inside an epoch: the same bar, moved on with the step, the pace and the time left."""
    report_progress(progress.fraction, f"Training ({setting}): {progress.line()}", TRAINING_PROGRESS_KEY)


def epoch_rows(epochs: Sequence[EpochRecord]) -> list[dict]:
    """The rows of the training-epochs table, rounded as in report.md so both show the same numbers; with
    evaluations by step (``--eval_steps``), each row is one evaluation and starts with its step."""
    steps = by_step(epochs)
    return [{**({"step": e.step} if steps else {}), "epoch": e.epoch, "train loss": f"{e.train_loss:.4f}",
             "dev accuracy": f"{e.dev_accuracy:.4f}", "dev macro-F1": f"{e.dev_macro_f1:.4f}",
             "learning rate": f"{e.learning_rate:.2e}", "seconds": f"{e.seconds:.1f}",
             "texts/s": f"{e.texts_per_second:.0f}", "selected": "selected" if e.selected else ""} for e in epochs]


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
    if promotion is not None:
        items.append(f"- **{'promoted' if promotion.promoted else 'not promoted'}**: {promotion.reason}; "
                     f"pointer `{promotion.pointer.resolve()}`")
    return f"# Model and predictions of run `{run.path.name}`\n\n" + "\n".join(items) + "\n"


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
