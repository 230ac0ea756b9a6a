"""Pre-training a tiny BERT from scratch: it learns, it is cached by content, and its output loads as an encoder."""

import logging
import math
import random
from pathlib import Path

import pytest
from transformers import AutoModel

from tasks.core.config import PretrainConfig, ScratchModel
from tasks.pretraining.data import prepare_corpus, prepare_mlm_tokenizer, tokenize_corpus
from tasks.pretraining.pretrain import pretrain_encoder
from tasks.pretraining.records import PretrainResult
from tasks.tokens.tokenizer import load_tokenizer

TINY = ScratchModel(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=200)
PHRASES = ["今天天气很好", "我们去公园散步", "这家饭店的菜很好吃", "房间干净服务周到", "价格便宜交通方便"]


def learnable_corpus(path: Path, n: int = 600, seed: int = 0) -> Path:
    """Texts made of a few fixed phrases: a model that learns predicts a masked character from its phrase."""
    rng = random.Random(seed)
    path.write_text("".join("".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 3))) + "\n"
                            for _ in range(n)), encoding="utf-8")
    return path


def tiny_pretrain_config(tmp_path: Path, corpus: Path, **overrides) -> PretrainConfig:
    return PretrainConfig(**({"corpus": str(corpus), "scratch": TINY, "epochs": 3, "batch_size": 16,
                              "learning_rate": 3e-3, "max_seq_length": 32, "heldout_fraction": 0.1,
                              "data_dir": tmp_path / "data", "output_dir": tmp_path / "out", "device": "cpu"}
                             | overrides))


def run_steps(cfg: PretrainConfig) -> PretrainResult:
    files, description = prepare_corpus.fn(cfg)
    tok = prepare_mlm_tokenizer.fn(cfg, files, None)
    return pretrain_encoder.fn(cfg, tokenize_corpus.fn(cfg, files, description, tok), tok)


def test_held_out_loss_falls_the_result_is_cached_and_loads_as_an_encoder(tmp_path, caplog):
    cfg = tiny_pretrain_config(tmp_path, learnable_corpus(tmp_path / "corpus.txt"))
    result = run_steps(cfg)
    losses = [e.heldout_loss for e in result.epochs]
    assert len(losses) == 3 and not result.cache_hit
    assert losses[0] > losses[1] > losses[2] and losses[2] < losses[0] - 0.3
    assert result.epochs[-1].heldout_perplexity == pytest.approx(math.exp(losses[-1]))
    assert result.heldout_sequences == 60 and result.sequences == 600

    state = result.model_dir.parent / "last" / "meta.json"
    written = state.stat().st_mtime_ns, (result.model_dir / "model.safetensors").read_bytes()
    with caplog.at_level(logging.INFO, logger="pipeline"):
        again = run_steps(cfg)
    assert again.cache_hit and again.model_dir == result.model_dir and again.epochs == result.epochs
    assert "pre-training cache hit" in caplog.text and "tokenization cache hit" in caplog.text
    assert (state.stat().st_mtime_ns, (result.model_dir / "model.safetensors").read_bytes()) == written

    other = run_steps(tiny_pretrain_config(tmp_path, tmp_path / "corpus.txt", epochs=1))  # other settings: trains
    assert not other.cache_hit and other.model_dir != result.model_dir

    # The output is a plain encoder plus its tokenizer: AutoModel loads every weight, nothing left unused.
    encoder, info = AutoModel.from_pretrained(result.model_dir, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert len(load_tokenizer(str(result.model_dir))) == encoder.config.vocab_size
    assert (result.model_dir.parent / "plots" / "pretraining_perplexity.png").stat().st_size > 1000


def test_a_pretrained_encoder_can_be_pre_trained_further(tmp_path):
    first = run_steps(tiny_pretrain_config(tmp_path, learnable_corpus(tmp_path / "corpus.txt"), epochs=1))
    cfg = tiny_pretrain_config(tmp_path, tmp_path / "corpus.txt", epochs=1, model_checkpoint=str(first.model_dir))
    files, description = prepare_corpus.fn(cfg)
    tok = prepare_mlm_tokenizer.fn(cfg, files, str(first.model_dir))
    assert tok.path == str(first.model_dir)  # the checkpoint's own tokenizer, not a new vocabulary
    further = pretrain_encoder.fn(cfg, tokenize_corpus.fn(cfg, files, description, tok), tok, str(first.model_dir))
    assert further.model_dir != first.model_dir and "continued from" in further.start


@pytest.mark.slow
def test_two_processes_pre_train_under_torchrun_and_the_encoder_loads(tmp_path):
    cfg = tiny_pretrain_config(tmp_path, learnable_corpus(tmp_path / "corpus.txt"), epochs=2, batch_size=8,
                               nproc_per_node=2)
    result = run_steps(cfg)
    assert [e.epoch for e in result.epochs] == [1, 2] and result.epochs[1].heldout_loss < result.epochs[0].heldout_loss
    assert (result.model_dir.parent / "torchrun" / "job.json").is_file()  # it really went through the launcher
    _, info = AutoModel.from_pretrained(result.model_dir, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
