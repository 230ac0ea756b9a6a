"""Training throughput and accuracy: the seed's train_loop vs our train_epoch, same weights, data and settings.

    python -m bench.train_bench --rows 800 --dev_rows 400 --epochs 1

Both start from identical weights (a 4-layer, 256-wide BERT with bert-base-chinese's vocabulary), use AdamW
with the seed's no-decay groups, linear warmup 0.1 and batch 8 on ChnSentiCorp rows. The seed re-tokenizes
every batch and pads random batches to their longest text; we tokenize once (cached Parquet) and group
batches by length. Prints texts/s, the ratio, and dev accuracy after the same number of epochs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, BertConfig, get_scheduler

from bench.common import BERT_SHAPE, machine, read_texts, seed_args, seed_module
from tasks.core.device import autocast_dtype
from tasks.core.records import LabelSet, TokenizerRecord
from tasks.data.validate import validate_file
from tasks.tokens.batching import length_grouped_batches, load_tokenized
from tasks.tokens.cache import tokenize_split
from tasks.tokens.tokenizer import fingerprint, load_tokenizer
from tasks.training.inference import predict_logits
from tasks.training.model import new_classifier
from tasks.training.steps import param_groups, train_epoch

SMALL = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}
LABELS = LabelSet(names=("0", "1"), kind="int")


def write_subset(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def optimizer_for(model, lr: float, steps: int, fused: bool = False):
    optimizer = torch.optim.AdamW(param_groups(model, 0.01), lr=lr, betas=(0.9, 0.98), eps=1e-8, fused=fused)
    return optimizer, get_scheduler("linear", optimizer, num_warmup_steps=int(0.1 * steps), num_training_steps=steps)


def run_seed(args, config, init_state, train_file: Path, dev_file: Path, tokenizer):
    seed_run, seed_model, seed_processor = seed_module("run"), seed_module("model"), seed_module("processor")
    sargs = seed_args(batch_size=args.batch_size, device=args.device)
    model = seed_model.BertForCLS(config, sargs)
    model.bert.load_state_dict(init_state["encoder"])
    model.classifier.load_state_dict(init_state["classifier"])
    model.to(args.device)
    torch.manual_seed(42)
    loader = seed_processor.get_dataLoader(sargs, seed_processor.FinData(str(train_file)), tokenizer, shuffle=True)
    optimizer, scheduler = optimizer_for(model, args.lr, len(loader) * args.epochs)
    started, total = time.perf_counter(), 0.0
    for epoch in range(args.epochs):
        total = seed_run.train_loop(sargs, loader, model, optimizer, scheduler, epoch, total)
    seconds = time.perf_counter() - started
    dev_loader = seed_processor.get_dataLoader(sargs, seed_processor.FinData(str(dev_file)), tokenizer)
    return seconds, seed_run.test_loop(sargs, dev_loader, model, mode="dev")["accuracy"]


def run_ours(args, config, init_state, train_file: Path, dev_file: Path, tokenizer, cache: Path):
    tok = TokenizerRecord(path=str(BERT_SHAPE), fingerprint=fingerprint(tokenizer), trained_here=False)
    files = {"train": train_file, "dev": dev_file}
    split = {name: validate_file(name, f, "news", "label", LABELS, cache / f"{name}.rows.parquet",
                                 cache / f"{name}.rejects.jsonl")[0] for name, f in files.items()}
    started = time.perf_counter()
    parquet = {n: tokenize_split.fn(s, tok, "news", "label", LABELS, 512, cache).parquet for n, s in split.items()}
    tokenize_seconds = time.perf_counter() - started
    model = new_classifier(AutoModel.from_config(config, add_pooling_layer=False), LABELS)
    model.encoder.load_state_dict(init_state["encoder"])
    model.classifier.load_state_dict(init_state["classifier"])
    torch.manual_seed(42)
    data, dev = load_tokenized(parquet["train"]), load_tokenized(parquet["dev"])
    device = torch.device(args.device)
    model.to(device)
    dtype = autocast_dtype(device, args.precision)
    steps = -(-len(data) // args.batch_size) * args.epochs
    optimizer, scheduler = optimizer_for(model, args.lr, steps, fused=device.type == "cuda")  # as training does
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        batches = length_grouped_batches(data.lengths, args.batch_size, np.random.default_rng([42, epoch]))
        # max_grad_norm 0: the seed does not clip gradients
        train_epoch(model, data, batches, optimizer, scheduler, 0.0, tokenizer.pad_token_id, device, dtype)
    seconds = time.perf_counter() - started
    logits = predict_logits(model, dev, 64, tokenizer.pad_token_id, device, dtype, 2048)
    return seconds, float((logits.argmax(1) == dev.labels).mean()), tokenize_seconds, int(data.lengths.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=800, help="training rows (ChnSentiCorp train, first N)")
    parser.add_argument("--dev_rows", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4, help="the same for both; 5e-4 so that a small model learns")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="ours only; the seed is fp32")
    parser.add_argument("--model", choices=["small", "bert-base"], default="small")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--peak_tflops", type=float, default=989.0,
                        help="the device's dense bf16 peak for MFU (H100 SXM: 989)")
    args = parser.parse_args()
    tokenizer = load_tokenizer(str(BERT_SHAPE))
    config = BertConfig.from_pretrained(BERT_SHAPE)
    if args.model == "small":
        config = BertConfig(vocab_size=config.vocab_size, **SMALL)
    torch.manual_seed(0)
    init = new_classifier(AutoModel.from_config(config, add_pooling_layer=False), LABELS)
    init_state = {"encoder": init.encoder.state_dict(), "classifier": init.classifier.state_dict()}
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        train_file = write_subset(Path(tmp) / "train.jsonl", read_texts("train", args.rows))
        dev_file = write_subset(Path(tmp) / "dev.jsonl", read_texts("dev", args.dev_rows))
        seed_s, seed_acc = run_seed(args, config, init_state, train_file, dev_file, tokenizer)
        cache = Path(tmp) / "c"
        ours_s, ours_acc, tok_s, tokens = run_ours(args, config, init_state, train_file, dev_file, tokenizer, cache)
    n = args.rows * args.epochs
    print(f"{args.rows} rows x {args.epochs} epoch(s), batch {args.batch_size}, lr {args.lr:g}")
    print(f"seed train_loop: {n / seed_s:7.1f} texts/s, dev accuracy {seed_acc:.4f}")
    print(f"ours ({args.precision}):    {n / ours_s:7.1f} texts/s, dev accuracy {ours_acc:.4f} "
          f"(+ {tok_s:.1f} s tokenizing once, cached for later runs)")
    print(f"ratio ours/seed {seed_s / ours_s:.2f}x; dev accuracy difference {100 * (ours_acc - seed_acc):+.2f} points")
    # Model FLOPs: 6 x parameters x real (unpadded) tokens; padding and attention's own work are not counted.
    params = sum(p.numel() for p in init.parameters())
    for name, seconds in (("seed", seed_s), ("ours", ours_s)):
        flops = 6 * params * tokens * args.epochs / seconds
        print(f"{name}: {tokens * args.epochs / seconds:,.0f} tokens/s, {flops / 1e12:.1f} TFLOP/s, "
              f"MFU {flops / (args.peak_tflops * 1e12):.1%} of {args.peak_tflops:g} TFLOP/s")


if __name__ == "__main__":
    main()
