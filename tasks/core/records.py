"""Small records passed between Prefect tasks: paths, counts and digests, never models or frames."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tasks.core.config import Setting
from tasks.core.truncation import Truncation


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunDir(Record):
    """A run's directory under ``artifacts/runs`` and the fixed names of what it holds."""

    path: Path

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_dir(self) -> Path:
        return self.path / "model"


class LabelSet(Record):
    """Class names in id order; ``kind`` restores the label's JSON type (0/1 stay ints)."""

    names: tuple[str, ...]
    kind: str  # "int" or "str"

    def id_of(self, value: int | str) -> int | None:
        """The class id, or None for an unknown label; "1" is not the label 1 (types must match)."""
        if (self.kind == "int") != (isinstance(value, int) and not isinstance(value, bool)):
            return None
        try:
            return self.names.index(str(value))
        except ValueError:
            return None

    def unknown_reason(self, value: int | str) -> str:
        """Why ``value`` is no class: a type mismatch ("1" where train has 1) is named as one."""
        known = [self.value_of(i) for i in range(len(self.names))]
        shown = ", ".join(map(repr, known)) if self.kind == "str" else ", ".join(self.names)
        if isinstance(value, str) and self.kind == "int":
            return f"label {value!r} is a string, but the training labels are integers ({shown})"
        if isinstance(value, int) and self.kind == "str":
            return f"label {value} is an integer, but the training labels are strings ({shown})"
        return f"unknown label {value!r}: the training labels are {shown}"

    def value_of(self, label_id: int) -> int | str:
        name = self.names[label_id]
        return int(name) if self.kind == "int" else name

    def prediction(self, probs) -> dict:
        """The fields every prediction carries: the class, its probability, and every class's."""
        best = int(probs.argmax())
        return {"pred_label": self.value_of(best), "pred_prob": float(probs[best]),
                "probs": {name: float(p) for name, p in zip(self.names, probs, strict=True)}}


class SplitData(Record):
    """One validated JSONL file: its fingerprint and the accounting of its lines."""

    split: str
    path: Path
    sha256: str
    lines_read: int
    blank_lines: int
    valid_rows: int
    rejected_rows: int
    rows_file: Path  # the valid rows as Parquet (tasks/data/row_store.py): what every later step reads
    rejects_path: Path | None = None
    rejected_by_reason: dict[str, int] = {}
    label_counts: dict[str, int] = {}
    utf8_bom: bool = False
    crlf_lines: int = 0
    excluded_lines: tuple[int, ...] = ()  # valid rows left out by policy (--leakage drop)


class SplitQuality(Record):
    """What the data-set checks found in one split (tasks/data/quality.py)."""

    duplicate_rows: int  # rows whose text already occurred earlier in the same split
    duplicate_examples: tuple[tuple[int, int], ...]  # (line, line of its first occurrence)
    leaked_lines: tuple[int, ...] = ()  # dev/test rows whose text occurs in train
    conflicting_texts: int = 0  # distinct texts with more than one label in this split
    conflict_examples: tuple[tuple[int, ...], ...] = ()  # lines of one conflicting text
    shared_with: dict[str, int] = {}  # rows of this split whose text also occurs in another split
    length_chars: dict[str, int] = {}  # percentiles of text length in characters


class DataSummary(Record):
    labels: LabelSet
    splits: dict[str, SplitData]
    quality: dict[str, SplitQuality] = {}
    leakage_policy: str = "warn"


class TokenizerRecord(Record):
    """Where a tokenizer can be loaded from, and a digest of everything that changes its output."""

    path: str
    fingerprint: str
    trained_here: bool


class TokenizedSplit(Record):
    split: str
    parquet: Path
    cache_key: str
    cache_hit: bool
    rows: int
    truncated: int = 0  # texts longer than max_seq_length tokens, cut to it
    truncation: Truncation = Truncation()  # what of them the input_ids keep
    windows: Path | None = None  # with windows asked for: (row, input_ids) of every window of each text over the limit
    window_count: int = 0


class EpochRecord(Record):
    """One dev evaluation: at an epoch's end, or every --eval_steps optimizer steps (tasks/training/evaluations.py)."""

    epoch: int  # the epoch it happened in
    train_loss: float
    dev_accuracy: float
    dev_macro_f1: float
    learning_rate: float
    seconds: float
    texts_per_second: float
    weights_digest: str
    selected: bool = False
    step: int = 0  # optimizer steps taken (over all epochs) when evaluated; train_loss is the mean since the last


class SweepEntry(Record):
    """One setting of a sweep as the selection step saw it."""

    setting: Setting
    best_epoch: int
    best_step: int = 0
    best_dev_metric: float
    epochs_run: int
    stop_reason: str | None
    seconds: float
    winner: bool


class TrainResult(Record):
    model_dir: Path
    best_epoch: int
    best_step: int = 0  # the optimizer step of the selected evaluation
    best_dev_metric: float
    selection_metric: str
    epochs: tuple[EpochRecord, ...]
    temperature: float = 1.0
    dev_nll: tuple[float, float] | None = None  # before, after temperature scaling
    setting: Setting | None = None
    stop_reason: str | None = None  # why early stopping ended training, if it did
    seconds: float = 0.0
    sweep: tuple[SweepEntry, ...] = ()  # every setting trained, when selection chose among several


class Predictions(Record):
    path: Path
    scores: Path  # line, label and predicted ids, probabilities (tasks/evaluation/predict.py): what reports read
    rows: int
    model_digest: str
    precision: str = "fp32"  # what --precision resolved to for this model on this machine; scoring uses the same
    long_texts: str = "cut"  # texts over max_seq_length: "cut" to one sequence, or scored as "window"s, pooled
    windowed_rows: int = 0  # rows scored as more than one window
    windows: int = 0  # the windows those rows made


class Promotion(Record):
    """The gate's verdict (tasks/evaluation/promote.py): ``checks`` lists every check as ``PASS/FAIL/WARN: ...``."""

    promoted: bool
    reason: str
    pointer: Path
    checks: list[str] = []
    warnings: list[str] = []  # checks passed that a user must still hear of (the baseline significantly better)


class ModelSource(Record):
    """A pretrained checkpoint ready for ``from_pretrained``; ``None`` name means from scratch."""

    name_or_path: str | None
    local_files_only: bool = True
    max_positions: int | None = None  # the most tokens the model can take (its position embeddings)
    truncation: Truncation | None = None  # a saved classifier's: what it was trained to see of a long text

    def seq_length(self, requested: int) -> int:
        return min(requested, self.max_positions) if self.max_positions else requested


class ScoringInput(Record):
    """One file to score: where it is, as found (a symlink keeps its own name), and its place under the input root.

    Outputs mirror ``relative`` under ``--output_dir``, so ``in/a.jsonl`` and ``in/sub/a.jsonl`` never share one.
    """

    path: Path
    relative: Path


class SkippedPath(Record):
    path: Path
    reason: str


class InputListing(Record):
    """What ``--inputs`` matched: the files to score, and every other match with the reason it is not scored."""

    files: tuple[ScoringInput, ...] = ()
    skipped: tuple[SkippedPath, ...] = ()


class ScoredFile(Record):
    """What one input file became; ``status`` is scored, skipped (already done), busy (another run) or refused
    (its outputs' paths hold files this scorer did not write, or another input's outputs).

    ``warning`` says when a file gave no predictions: empty, every row rejected (with the top reasons), refused.
    """

    input: Path
    status: str
    predictions: Path
    manifest: Path
    rows_in: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    warning: str | None = None

    @property
    def all_rejected(self) -> bool:
        return self.rows_scored == 0 and self.rows_rejected > 0
