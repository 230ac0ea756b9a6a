"""Every default of the scoring flow, in one pydantic model (re-exported by tasks/core/config.py).

Each field is one command-line option of ``flows/score_flow.py``; a value out of bounds, an unknown device or
one this machine lacks is refused when the config is built, so the command line stops before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tasks.core.device_option import DEVICE_HELP, DeviceName, device_usable
from tasks.core.truncation import (
    HEAD_TOKENS_HELP,
    HEAD_TOKENS_WORDS,
    TRUNCATION_HELP,
    WINDOW_STRIDE_HELP,
    WINDOW_STRIDE_WORDS,
    LongTexts,
    TruncationMode,
    check_long_text_options,
)

DEFAULT_SCORING_CRON = "*/10 * * * *"  # the served scoring deployment: every ten minutes


class ScoreConfig(BaseModel):
    """Parameters of ``flows/score_flow.py``; each field is one command-line option."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # What a None default means, in words: --help shows these instead of "None" (flows/cli.py).
    default_words: ClassVar[dict[str, str]] = {
        "model_dir": "the promoted model, found under --artifacts_dir",
        "max_batch_tokens": "2048 on a CPU in fp32, 8192 on a CPU in bf16, 65536 on a GPU",
        "dask_address": "none, files are scored on this machine, or by --dask_workers local processes",
        "truncation": "the model's own, as it was trained",
        "head_tokens": HEAD_TOKENS_WORDS,
        "window_stride": WINDOW_STRIDE_WORDS,
    }

    inputs: str = Field("data/incoming", min_length=1,
                        description="A JSONL file, a glob, or a directory of *.jsonl files.")
    output_dir: Path = Field(Path("data/scored"), description="Where predictions, rejects and manifests go.")
    text_field: str = Field("news", min_length=1, description="JSON field holding the text; every other field is kept.")
    model_dir: Path | None = Field(None, description="A saved classifier to score with.")
    artifacts_dir: Path = Field(
        Path("artifacts"), description="Where the promoted-model pointer and the measured precision records live."
    )
    chunk_rows: int = Field(4096, gt=0, description="Rows read, scored and written at a time (flat memory).")
    batch_size: int = Field(64, gt=0, description="Most texts per forward pass.")
    max_batch_tokens: int | None = Field(
        None, gt=0, description="Padded tokens per forward pass."
    )
    truncation: TruncationMode | None = Field(None, description=TRUNCATION_HELP)
    head_tokens: int | None = Field(None, ge=0, description=HEAD_TOKENS_HELP)
    long_texts: LongTexts = Field(
        "cut", description="Texts over the model's limit: 'cut' as --truncation keeps them, or 'window': scored as "
        "overlapping windows that hold all of the text, their probabilities averaged (one output row per text).")
    window_stride: int | None = Field(None, gt=0, description=WINDOW_STRIDE_HELP)
    write_parquet: bool = Field(False, description="Also write the predictions as Parquet.")
    dask_address: str | None = Field(None, description="Score files on this Dask cluster (tcp://host:8786).")
    dask_workers: int = Field(0, ge=0, description="Without --dask_address: a local Dask cluster of N processes.")
    device: DeviceName = Field("auto", description=DEVICE_HELP)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="'auto': bf16 autocast on CUDA, or on a CPU with native bf16 (avx512_bf16/AMX)."
    )
    # Drift report against the model's reference profile (tasks/drift/compare.py); never changes predictions.
    drift_psi_watch: float = Field(0.1, gt=0, description="PSI from which a feature is reported as worth watching.")
    drift_psi_alert: float = Field(
        0.25, gt=0, description="PSI from which a feature counts as drift: a warning and a drift.detected event "
        "(at least --drift_psi_watch)."
    )
    drift_alpha: float = Field(0.01, gt=0, lt=1, description="Significance of the chi-square test on the label mix.")
    drift_min_rows: int = Field(100, ge=1, description="Fewest rows in a file or run that get a drift verdict.")

    @model_validator(mode="after")
    def _options_agree(self) -> ScoreConfig:
        if self.drift_psi_alert < self.drift_psi_watch:
            raise ValueError(f"--drift_psi_alert {self.drift_psi_alert:g} is below --drift_psi_watch "
                             f"{self.drift_psi_watch:g}: drift must be at least worth watching")
        check_long_text_options(self.truncation, self.head_tokens, self.long_texts, self.window_stride)
        if self.dask_address and self.dask_workers:
            raise ValueError("give --dask_address (a running cluster) or --dask_workers (a local one), not both")
        if not self.dask_address:  # on a cluster the workers' devices count, not this machine's
            device_usable(self.device, self.precision)
        return self
