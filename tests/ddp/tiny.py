"""A dropout-free tiny classifier and fixed rows: training on them is deterministic, for equivalence tests."""

import numpy as np
import torch
from transformers import BertConfig, BertModel

from tasks.tokens.batching import TokenizedData, from_token_lists
from tasks.training.model import EncoderClassifier


def tiny_model(seed: int = 0) -> EncoderClassifier:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return EncoderClassifier(BertModel(config, add_pooling_layer=False), 2, dropout=0.0)


def tiny_data(n: int = 37) -> TokenizedData:
    rng = np.random.default_rng(0)
    ids = [[2, *rng.integers(5, 50, size=int(rng.integers(3, 20))).tolist()] for _ in range(n)]
    data = from_token_lists(ids)
    return data.__class__(**{**data.__dict__, "labels": rng.integers(0, 2, size=n).astype(np.int64)})
