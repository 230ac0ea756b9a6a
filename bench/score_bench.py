"""Scoring throughput: the seed's one-text-at-a-time predict vs HF pipeline(batch_size=32) vs our score task.

    python -m bench.score_bench --model small --rows 1200
    python -m bench.score_bench --model bert-base --rows 300

Same weights, same texts (ChnSentiCorp test), same run; prints texts/s and ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModel, BertConfig, BertForSequenceClassification, pipeline

from bench.common import BERT_SHAPE, machine, read_texts, seed_args, seed_module
from tasks.core.config import ScoreConfig
from tasks.core.records import LabelSet
from tasks.scoring.score import score_file
from tasks.tokens.tokenizer import load_tokenizer
from tasks.training.model import load_classifier, new_classifier, save_classifier

SHAPES = {"small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}}


def build(model: str, model_dir: Path | None = None):
    if model_dir is not None:  # a trained classifier: agreement between precisions then means something
        ours, tokenizer, _ = load_classifier(model_dir)
        return tokenizer, ours.encoder.config, ours.eval()
    tokenizer = load_tokenizer(str(BERT_SHAPE))
    config = BertConfig.from_pretrained(BERT_SHAPE)
    if model in SHAPES:
        config = BertConfig(vocab_size=config.vocab_size, **SHAPES[model])
    torch.manual_seed(0)
    encoder = AutoModel.from_config(config, add_pooling_layer=False)
    ours = new_classifier(encoder, LabelSet(names=("0", "1"), kind="int"))
    return tokenizer, config, ours.eval()


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["small", "bert-base"], default="small")
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--model_dir", type=Path, help="a trained classifier instead of random weights")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    rows = read_texts("test", args.rows)
    texts = [r["news"] for r in rows]
    tokenizer, config, ours = build(args.model, args.model_dir)
    print(machine())
    name = args.model_dir or args.model
    print(f"model {name}: {sum(p.numel() for p in ours.parameters()):,} parameters; {len(texts)} texts")

    seed_run, seed_model = seed_module("run"), seed_module("model")
    max_len = min(512, config.max_position_embeddings)  # all three truncate alike
    sargs = seed_args(max_seq_length=max_len, device=args.device)
    baseline = seed_model.BertForCLS(config, sargs).eval()
    baseline.bert.load_state_dict(ours.encoder.state_dict())
    baseline.classifier.load_state_dict(ours.classifier.state_dict())
    baseline.to(args.device)
    t_seed, seed_preds = timed(lambda: [seed_run.predict(sargs, t, baseline, tokenizer)[0] for t in texts])

    hf = BertForSequenceClassification(config).eval()
    pipe = pipeline("text-classification", model=hf, tokenizer=tokenizer, device=torch.device(args.device),
                    batch_size=32)
    t_pipe, _ = timed(lambda: pipe(texts, truncation=True, max_length=max_len))

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_classifier(ours, tokenizer, LabelSet(names=("0", "1"), kind="int"), Path(tmp) / "m", max_len)
        source = Path(tmp) / "in.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        cfg = ScoreConfig(output_dir=Path(tmp) / "out", precision=args.precision, device=args.device)
        score_file.fn(source, model_dir, cfg.model_copy(update={"output_dir": Path(tmp) / "warm"}))  # loads once
        t_ours, _ = timed(lambda: score_file.fn(source, model_dir, cfg))
        ours_preds = [json.loads(x)["pred_label"] for x in (Path(tmp) / "out/in.pred.jsonl").open(encoding="utf-8")]

    agree = sum(a == b for a, b in zip(seed_preds, ours_preds, strict=True)) / len(texts)
    n = len(texts)
    print(f"seed predict (1 text/call): {n / t_seed:8.1f} texts/s")
    print(f"HF pipeline batch 32:       {n / t_pipe:8.1f} texts/s")
    print(f"ours ({args.precision}, file in/out): {n / t_ours:8.1f} texts/s")
    print(f"ratio ours/seed {t_seed / t_ours:.2f}x, ours/pipeline {t_pipe / t_ours:.2f}x; "
          f"label agreement with the seed's fp32 predictions {agree:.2%}")


if __name__ == "__main__":
    main()
