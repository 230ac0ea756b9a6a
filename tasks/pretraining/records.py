"""Records of masked-language-model pre-training, passed between its tasks and into the train flow."""

from __future__ import annotations

from pathlib import Path

from tasks.core.records import Record


class CorpusFile(Record):
    """One file of an unlabelled corpus and the accounting of its lines: read = valid + rejected + blank."""

    path: Path
    sha256: str
    lines_read: int
    valid_rows: int
    rejected_rows: int
    blank_lines: int
    rejected_by_reason: dict[str, int] = {}  # noqa: RUF012 (pydantic copies defaults)


class MlmCorpus(Record):
    """A tokenized corpus in the Parquet token cache: one row per sequence of at most max_seq_length tokens."""

    description: str  # what the texts are, in words, for the report
    parquet: Path
    cache_key: str
    cache_hit: bool
    files: tuple[CorpusFile, ...]
    texts: int
    sequences: int
    tokens: int
    segmented_texts: int = 0  # texts that came with a word segmentation (whole-word masking)


class MlmEpochRecord(Record):
    epoch: int
    train_loss: float  # mean cross-entropy per predicted token
    heldout_loss: float
    heldout_perplexity: float
    learning_rate: float
    seconds: float
    tokens_per_second: float
    weights_digest: str


class PretrainResult(Record):
    """A pre-trained encoder: a directory ``--model_checkpoint`` loads as it is, and how it came to be."""

    model_dir: Path
    cache_key: str
    cache_hit: bool
    corpus: str
    texts: int
    sequences: int
    tokens: int
    heldout_sequences: int
    epochs: tuple[MlmEpochRecord, ...]
    seconds: float
    start: str  # "from scratch (...)" or the checkpoint continued from
    mask_probability: float = 0.15
