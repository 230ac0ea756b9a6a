"""BERT's masking for masked-language modelling, per sequence and seeded, with whole-word masking.

Of the positions that do not hold a special token, words are chosen with probability ``p`` (whole-word
masking; with every token its own word this is BERT's per-token choice). Every token of a chosen word is
predicted: 80 % become ``[MASK]``, 10 % a random ordinary token, 10 % stay. Labels are the original ids
there and -100 everywhere else.

Not ``transformers.DataCollatorForLanguageModeling``: its whole-word mode finds words from character
offsets (adjacent tokens are one word), so unspaced Chinese turns whole clauses into one "word"; and it
draws its random replacements from the whole vocabulary, special tokens included. Seeding each sequence
by (seed, epoch, row) also gives the same masks whatever the batch, the processes or a resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tasks.tokens.batching import TokenizedData

IGNORE = -100  # torch's cross_entropy ignore_index: no loss at this position
HELDOUT_EPOCH = 0  # held-out masks are drawn as for an "epoch 0": the same at every evaluation


@dataclass(frozen=True)
class Masker:
    mask_id: int
    special_ids: np.ndarray
    ordinary_ids: np.ndarray  # what a random replacement may be
    probability: float = 0.15
    whole_words: bool = True

    @classmethod
    def for_tokenizer(cls, tokenizer, probability: float, whole_words: bool) -> Masker:
        special = np.array(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        ordinary = np.setdiff1d(np.arange(len(tokenizer), dtype=np.int64), special)
        return cls(tokenizer.mask_token_id, special, ordinary, probability, whole_words)

    def mask(self, ids: np.ndarray, word_starts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, labels) for one sequence."""
        ids = ids.astype(np.int64)
        special = np.isin(ids, self.special_ids)
        starts = word_starts if self.whole_words else np.ones(len(ids), dtype=bool)
        word = np.cumsum(starts | special) - 1  # a special token is a word of its own
        chosen = (rng.random(int(word[-1]) + 1) < self.probability)[word] & ~special
        roll = rng.random(len(ids))
        inputs = ids.copy()
        inputs[chosen & (roll < 0.8)] = self.mask_id
        swap = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[swap] = self.ordinary_ids[rng.integers(0, len(self.ordinary_ids), int(swap.sum()))]
        return inputs, np.where(chosen, ids, IGNORE)

    def mask_row(self, data: TokenizedData, word_starts: np.ndarray, row: int, seed: int, epoch: int):
        start, end = data.offsets[row], data.offsets[row + 1]
        rng = np.random.default_rng([seed, epoch, int(row)])
        return self.mask(data.values[start:end], word_starts[start:end], rng)


def mlm_collate(masked: dict[int, tuple[np.ndarray, np.ndarray]], rows: np.ndarray, pad_id: int,
                multiple: int = 1) -> dict[str, torch.Tensor]:
    """Pad the masked rows to the longest (rounded up to ``multiple``); labels pad with -100."""
    width = -(-max(len(masked[int(r)][0]) for r in rows) // multiple) * multiple
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    labels = np.full((len(rows), width), IGNORE, dtype=np.int64)
    attention = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        inputs, targets = masked[int(row)]
        input_ids[i, : len(inputs)], labels[i, : len(inputs)], attention[i, : len(inputs)] = inputs, targets, 1
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention),
            "labels": torch.from_numpy(labels)}
