"""The classifier: any ``AutoModel`` encoder, dropout and a linear head on the first ([CLS]) vector.

Saved as a directory that loads on its own: the encoder via ``save_pretrained`` (safetensors and a
config carrying the label map), the head as ``classifier.safetensors``, and the tokenizer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from tasks.core.config import ScratchModel
from tasks.core.errors import DataError
from tasks.core.files import atomic_path, read_json, sha256_file, write_json
from tasks.core.records import LabelSet
from tasks.core.truncation import Truncation
from tasks.tokens.tokenizer import load_tokenizer

HEAD_FILE = "classifier.safetensors"
PROFILE_FILE = "profile.json"  # the reference profile for drift reports (tasks/drift/profile.py)
# Saving every improved epoch would print a "Writing model shards" bar each time; our own logs say it.
hf_logging.disable_progress_bar()


class EncoderClassifier(nn.Module):
    def __init__(self, encoder: PreTrainedModel, num_labels: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        self.temperature = 1.0  # fitted on dev after training (tasks/evaluation/calibration.py); 1.0 while training
        std = getattr(encoder.config, "initializer_range", 0.02)
        nn.init.normal_(self.classifier.weight, std=std)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.classifier(self.dropout(hidden[:, 0])) / self.temperature


def _without_pooler(factory, *args, **kwargs) -> PreTrainedModel:
    # The [CLS] head never uses BERT's pooler; dropping it saves parameters that would get no gradient.
    try:
        return factory(*args, add_pooling_layer=False, **kwargs)
    except TypeError:  # encoders without a pooler (DistilBERT, DeBERTa, ...) do not take the argument
        return factory(*args, **kwargs)


def scratch_encoder(shape: ScratchModel, tokenizer: PreTrainedTokenizerBase, max_seq_length: int) -> PreTrainedModel:
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=shape.hidden_size, num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads, intermediate_size=4 * shape.hidden_size,
        max_position_embeddings=max(max_seq_length, 64), pad_token_id=tokenizer.pad_token_id,
    )
    return _without_pooler(AutoModel.from_config, config)


def pretrained_encoder(name_or_path: str, local_files_only: bool) -> PreTrainedModel:
    return _without_pooler(AutoModel.from_pretrained, name_or_path, local_files_only=local_files_only)


def new_classifier(encoder: PreTrainedModel, labels: LabelSet) -> EncoderClassifier:
    dropout = getattr(encoder.config, "hidden_dropout_prob", getattr(encoder.config, "dropout", 0.1))
    return EncoderClassifier(encoder, len(labels.names), dropout)


def weights_digest(model: nn.Module) -> str:
    """Digest of every parameter's bytes: two models with equal digests hold identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_classifier(
    model: EncoderClassifier, tokenizer: PreTrainedTokenizerBase, labels: LabelSet, out_dir: Path,
    max_seq_length: int = 512, truncation: Truncation | None = None,
) -> Path:
    """Write a snapshot of the weights as they are *now* (the seed kept a live reference instead)."""
    config = model.encoder.config
    config.classifier_max_seq_length = max_seq_length  # scoring truncates as training did
    # What of a long text the model learned from: scoring keeps the same unless told otherwise.
    kept = (truncation or Truncation()).resolved(max_seq_length - tokenizer.num_special_tokens_to_add(pair=False))
    config.classifier_truncation, config.classifier_head_tokens = kept.mode, kept.head_tokens
    config.id2label = dict(enumerate(labels.names))
    config.label2id = {name: i for i, name in enumerate(labels.names)}
    config.label_kind = labels.kind
    config.classifier_head = "cls-dropout-linear"
    config.classifier_dropout_prob = model.dropout.p
    config.classifier_temperature = model.temperature
    with atomic_path(out_dir) as tmp:
        model.encoder.save_pretrained(tmp)
        save_file({k: v.detach().cpu().contiguous() for k, v in model.classifier.state_dict().items()}, tmp / HEAD_FILE)
        tokenizer.save_pretrained(tmp)
    return out_dir


def is_saved_classifier(model_dir: Path) -> bool:
    return (model_dir / "config.json").is_file() and (model_dir / HEAD_FILE).is_file()


def load_classifier(model_dir: Path) -> tuple[EncoderClassifier, PreTrainedTokenizerBase, LabelSet]:
    if not is_saved_classifier(model_dir):
        raise DataError(f"{model_dir}: not a saved classifier (needs config.json and {HEAD_FILE})")
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    labels = LabelSet(
        names=tuple(config.id2label[i] for i in range(len(config.id2label))),
        kind=getattr(config, "label_kind", "str"),
    )
    encoder = pretrained_encoder(str(model_dir), local_files_only=True)
    model = EncoderClassifier(encoder, len(labels.names), getattr(config, "classifier_dropout_prob", 0.1))
    model.classifier.load_state_dict(load_file(model_dir / HEAD_FILE))
    model.temperature = float(getattr(config, "classifier_temperature", 1.0))
    return model.eval(), load_tokenizer(str(model_dir)), labels


def saved_max_seq_length(model_dir: Path) -> int:
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    positions = getattr(config, "max_position_embeddings", 512)  # never more tokens than the model can place
    return min(int(getattr(config, "classifier_max_seq_length", positions)), positions)


def saved_truncation(model_dir: Path) -> Truncation:
    """What training kept of a long text; models saved before the choice existed kept the head."""
    config = read_json(model_dir / "config.json")
    return Truncation(mode=config.get("classifier_truncation", "head"),
                      head_tokens=config.get("classifier_head_tokens"))


def saved_temperature(model_dir: Path) -> float:
    return float(read_json(model_dir / "config.json").get("classifier_temperature", 1.0))


def set_temperature(model_dir: Path, temperature: float) -> None:
    config = read_json(model_dir / "config.json")
    write_json(model_dir / "config.json", config | {"classifier_temperature": temperature})


def model_digest(model_dir: Path) -> str:
    """Digest of the saved weights, the temperature and the reference profile: names the exact model a prediction
    (and a drift report) came from. A model without a profile keeps the digest it had before profiles existed."""
    files = sorted(model_dir.glob("*.safetensors"))
    parts = [sha256_file(f) for f in files] + [repr(saved_temperature(model_dir))]
    if (model_dir / PROFILE_FILE).is_file():
        parts.append(f"{PROFILE_FILE}:{sha256_file(model_dir / PROFILE_FILE)}")
    return hashlib.sha256("".join(parts).encode()).hexdigest()
