import time

import pytest
import torch
from transformers import AutoModel, BertConfig

from tasks.core.config import ScratchModel
from tasks.core.errors import DataError
from tasks.core.records import LabelSet
from tasks.evaluation.model_source import ModelSourceError, resolve_checkpoint
from tasks.tokens.tokenizer import fingerprint, train_wordpiece
from tasks.training.model import (
    is_saved_classifier,
    load_classifier,
    model_digest,
    new_classifier,
    pretrained_encoder,
    save_classifier,
    saved_max_seq_length,
    scratch_encoder,
    weights_digest,
)

TINY = ScratchModel(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=100)
LABELS = LabelSet(names=("neg", "neu", "pos"), kind="str")


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(["今天股市大涨", "价格下跌了很多", "hello world 好"], vocab_size=100)


def batch(tokenizer):
    enc = tokenizer(["今天大涨", "下跌了很多 hello"], padding=True, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def test_scratch_classifier_has_no_pooler_and_one_logit_per_class(tokenizer):
    torch.manual_seed(0)
    model = new_classifier(scratch_encoder(TINY, tokenizer, 64), LABELS)
    assert not any("pooler" in name for name, _ in model.named_parameters())
    assert model(**batch(tokenizer)).shape == (2, 3)


def test_saved_classifier_reloads_alone_with_labels_and_identical_outputs(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = new_classifier(scratch_encoder(TINY, tokenizer, 64), LABELS).eval()
    save_classifier(model, tokenizer, LABELS, tmp_path / "model", max_seq_length=48)
    assert saved_max_seq_length(tmp_path / "model") == 48
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) >= ["classifier.safetensors", "config.json"]
    assert not list((tmp_path / "model").glob("*.bin")), "weights must be safetensors, never pickles"
    loaded, loaded_tok, labels = load_classifier(tmp_path / "model")
    assert labels == LABELS
    assert fingerprint(loaded_tok) == fingerprint(tokenizer)
    assert weights_digest(loaded) == weights_digest(model)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch(tokenizer)), model(**batch(tokenizer)))
    assert len(model_digest(tmp_path / "model")) == 64


def test_saving_writes_a_snapshot_not_a_live_reference(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = new_classifier(scratch_encoder(TINY, tokenizer, 64), LABELS)
    save_classifier(model, tokenizer, LABELS, tmp_path / "model")
    before = weights_digest(model)
    with torch.no_grad():
        model.classifier.weight.add_(1.0)  # "later epochs" change the live weights
    loaded, _, _ = load_classifier(tmp_path / "model")
    assert weights_digest(loaded) == before != weights_digest(model)


def test_a_save_pretrained_checkpoint_loads_through_the_hub_path(tokenizer, tmp_path):
    """A local directory goes through the same AutoModel.from_pretrained call a hub id does."""
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64)
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    name, local_only = resolve_checkpoint(str(tmp_path / "ckpt"))
    encoder = pretrained_encoder(name, local_only)
    reference = AutoModel.from_pretrained(tmp_path / "ckpt")
    torch.testing.assert_close(encoder.embeddings.word_embeddings.weight, reference.embeddings.word_embeddings.weight)


def test_load_classifier_refuses_a_directory_that_is_not_a_saved_classifier(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert not is_saved_classifier(tmp_path)
    with pytest.raises(DataError, match="not a saved classifier"):
        load_classifier(tmp_path)


def test_missing_directory_and_directory_without_config_fail_with_the_path(tmp_path):
    with pytest.raises(ModelSourceError, match="no such directory"):
        resolve_checkpoint(str(tmp_path / "nope"))
    with pytest.raises(ModelSourceError, match="without config.json"):
        resolve_checkpoint(str(tmp_path))


def test_unreachable_hub_id_fails_within_seconds_and_says_what_to_pass(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(ModelSourceError, match="cannot be reached.*local directory.*from scratch"):
        resolve_checkpoint("some-org/some-bert")
    assert time.monotonic() - started < 10
