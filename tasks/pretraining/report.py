"""What pre-training shows a person: UI progress and epochs table, a perplexity plot, a report section."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: flows run on servers and in CI without a display

import matplotlib.pyplot as plt  # after the backend choice
from prefect.artifacts import create_table_artifact

from tasks.core.files import atomic_path
from tasks.core.logs import in_prefect_run
from tasks.pretraining.records import MlmEpochRecord, PretrainResult
from tasks.ui.artifacts import report_progress
from tasks.ui.markdown import markdown_table

PRETRAIN_EPOCHS_KEY = "pretraining-epochs"
PRETRAIN_PROGRESS_KEY = "pretraining-progress"
PLOT = "plots/pretraining_perplexity.png"


def epoch_progress(record: MlmEpochRecord, total_epochs: int) -> None:
    report_progress(record.epoch / total_epochs, f"Pre-training: epoch {record.epoch} of {total_epochs} done, MLM "
                    f"loss {record.train_loss:.4f}, held-out perplexity {record.heldout_perplexity:.1f}",
                    PRETRAIN_PROGRESS_KEY)


def pretrain_rows(epochs: Sequence[MlmEpochRecord]) -> list[dict]:
    """One row per epoch, rounded alike in the UI table and in report.md."""
    return [{"epoch": e.epoch, "MLM loss": f"{e.train_loss:.4f}", "held-out loss": f"{e.heldout_loss:.4f}",
             "held-out perplexity": f"{e.heldout_perplexity:.2f}", "learning rate": f"{e.learning_rate:.2e}",
             "seconds": f"{e.seconds:.1f}", "tokens/s": f"{e.tokens_per_second:.0f}"} for e in epochs]


def perplexity_plot(epochs: Sequence[MlmEpochRecord], path: Path) -> Path:
    """MLM training loss and held-out perplexity per epoch (perplexity on a log scale)."""
    x = [e.epoch for e in epochs]
    fig, loss_ax = plt.subplots(figsize=(6.4, 4))
    loss_ax.plot(x, [e.train_loss for e in epochs], "o-", color="tab:red", label="MLM loss (train)")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy per predicted token")
    loss_ax.set_xticks(x)
    ppl_ax = loss_ax.twinx()
    ppl_ax.plot(x, [e.heldout_perplexity for e in epochs], "s-", color="tab:blue", label="held-out perplexity")
    ppl_ax.set_yscale("log")
    ppl_ax.set_ylabel("held-out perplexity")
    handles = loss_ax.get_legend_handles_labels()[0] + ppl_ax.get_legend_handles_labels()[0]
    loss_ax.legend(handles=handles, loc="upper right", fontsize="small")
    loss_ax.set_title("Masked-language-model pre-training")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def publish_pretraining(result: PretrainResult, folder: Path) -> Path:
    """The perplexity plot beside the encoder, and the epochs table in the UI (inside a Prefect run)."""
    plot = perplexity_plot(result.epochs, folder / PLOT)
    if in_prefect_run():
        reused = " (reused from the cache: no training in this run)" if result.cache_hit else ""
        create_table_artifact(key=PRETRAIN_EPOCHS_KEY, table=pretrain_rows(result.epochs), description=(
            f"Masked-LM pre-training per epoch{reused}: {result.corpus}; encoder `{result.model_dir}`"))
    return plot


def pretraining_section(result: PretrainResult) -> str:
    """The report.md section: what the encoder was pre-trained on, how long, and its perplexity per epoch."""
    rows = pretrain_rows(result.epochs)
    table = markdown_table(list(rows[0]), [list(r.values()) for r in rows])
    reused = (" This run reused it from the cache (same corpus, start and settings): it did not train again."
              if result.cache_hit else "")
    last = result.epochs[-1]
    return (f"## Pre-training\n\nThe encoder was pre-trained by masked-language modelling "
            f"({100 * result.mask_probability:g} % of tokens, whole words where segmented; 80/10/10) "
            f"{result.start}, on {result.corpus}: {result.texts:,} texts, "
            f"{result.sequences:,} sequences, {result.tokens:,} tokens, {len(result.epochs)} epochs in "
            f"{result.seconds / 60:.1f} min of training. Held-out perplexity ({result.heldout_sequences:,} sequences "
            f"never trained on) after the last epoch: {last.heldout_perplexity:.2f}.{reused} Encoder: "
            f"`{result.model_dir}` (key `{result.cache_key}`); plot: `{result.model_dir.parent / PLOT}`.\n\n"
            f"{table}\n")


def pretrained_model_note(result: PretrainResult) -> str:
    return (f"**a BERT pre-trained here by masked-language modelling** {result.start}, on {result.corpus} "
            f"({len(result.epochs)} epochs), then fine-tuned (see [Pre-training](#pre-training)).")
