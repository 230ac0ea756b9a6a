"""The model pre-training trains: BERT with its masked-language-model head, built or loaded, and saved as an encoder."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM, PreTrainedModel

from tasks.core.config import PretrainConfig
from tasks.core.files import atomic_path


def scratch_mlm(cfg: PretrainConfig, tokenizer) -> PreTrainedModel:
    """The fine-tuning default's shape (tasks/training/model.py ``scratch_encoder``) with an MLM head on top."""
    s = cfg.scratch
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=s.hidden_size, num_hidden_layers=s.num_hidden_layers,
        num_attention_heads=s.num_attention_heads, intermediate_size=4 * s.hidden_size,
        max_position_embeddings=max(cfg.max_seq_length, 64), pad_token_id=tokenizer.pad_token_id,
    )
    return BertForMaskedLM(config)


def build_mlm(cfg: PretrainConfig, tokenizer, checkpoint: str | None, local_files_only: bool = True) -> PreTrainedModel:
    if checkpoint is None:
        return scratch_mlm(cfg, tokenizer)
    # A checkpoint without an MLM head (a plain encoder) gets a new one, initialised by transformers.
    return AutoModelForMaskedLM.from_pretrained(checkpoint, local_files_only=local_files_only)


class MaskedLmObjective(nn.Module):
    """Summed cross-entropy over the predicted positions only.

    The head (a dense layer and a vocabulary-wide projection) runs on the ~15 % of positions that carry a
    label instead of on every position: the projection alone costs as much as the whole 2-layer encoder.
    One module, so that DistributedDataParallel sees every parameter through one forward.
    """

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        picked = labels != -100
        head = getattr(self.model, "cls", None)  # BERT's MLM head takes hidden states
        if head is not None:
            hidden = self.model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            logits = head(hidden[picked])
        else:  # other architectures: the whole head, then the predicted positions
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits[picked]
        return nn.functional.cross_entropy(logits.float(), labels[picked], reduction="sum")


def save_encoder(model: PreTrainedModel, tokenizer, out_dir: Path) -> Path:
    """The encoder without its MLM head, and the tokenizer: what ``--model_checkpoint`` loads as it is."""
    with atomic_path(out_dir) as tmp:
        model.base_model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out_dir
