"""ONNX Runtime trial for CPU scoring: torch fp32 / bf16 autocast vs ORT fp32 / dynamic int8, same batches.

    python -m bench.onnx_bench [--model_dir DIR] [--rows 1200] [--repeat 3]
    python -m bench.onnx_bench --model bert-base --rows 100 --repeat 2   # ~9 min on 2 cores without native bf16

ChnSentiCorp test texts, tokenized once as scoring does and cut into the scoring task's length-sorted batches;
each contestant is warmed once, then the best of --repeat passes is kept. The rule: keep ONNX only if an ORT
contestant is >= 1.3x the fastest torch contestant with >= 99.5% label agreement with torch fp32, on a trained
model. On a shared 2-core machine one run's torch speed swung by 1.5x: run it more than once before reading it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from bench.common import machine, read_texts
from bench.score_bench import build
from tasks.core.device import token_budget
from tasks.core.score_config import ScoreConfig
from tasks.core.truncation import Truncation
from tasks.tokens.batching import collate, from_token_lists, sorted_batches
from tasks.tokens.truncation import encode_truncated
from tasks.training.inference import predict_logits, softmax
from tasks.training.model import saved_max_seq_length, saved_truncation

RUNS = Path(__file__).resolve().parents[1] / "artifacts" / "runs"


def newest_trained_model() -> Path | None:
    """The model of the newest run under artifacts/runs (``python flows/train_flow.py`` makes one)."""
    models = sorted(RUNS.glob("*/model/config.json"))
    return models[-1].parent if models else None


SPEEDUP, AGREEMENT = 1.3, 0.995  # the project's bar for keeping a second inference runtime
CPU = torch.device("cpu")


def export_onnx(model: torch.nn.Module, sample: dict[str, torch.Tensor], path: Path, max_len: int) -> None:
    """The dynamo exporter (torch's default): batch and sequence axes left dynamic, so one file serves every batch."""
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=max_len)
    axes = {0: batch, 1: seq}
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed": no vision ops here
    with warnings.catch_warnings():  # axis-renaming notices, not problems with this model
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), path, verbose=False,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_shapes={"input_ids": axes, "attention_mask": axes},
                          external_data=False)  # one self-contained file: quantize_dynamic reads it as is


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def ort_scorer(ort, path: Path, threads: int, data, batches, pad_id: int, labels: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # one per core; machine() prints the torch threads beside it
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run() -> np.ndarray:  # predict_logits's loop with the session in place of the module
        out = np.empty((len(data), labels), dtype=np.float32)
        for rows in batches:
            padded = collate(data, rows, pad_id)  # collating stays inside the timing, as in predict_logits
            out[rows] = session.run(None, {k: v.numpy() for k, v in padded.items()})[0]
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["trained", "bert-base"], default="trained",
                        help="bert-base: random weights of bert-base-chinese's shape (speed only)")
    parser.add_argument("--model_dir", type=Path, default=newest_trained_model(),
                        help="a trained classifier (default: the newest under artifacts/runs)")
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per contestant; the best is kept")
    parser.add_argument("--batch_size", type=int, default=ScoreConfig.model_fields["batch_size"].default)
    parser.add_argument("--max_tokens", type=int, default=token_budget(CPU, None),
                        help="padded tokens per batch (scoring's fp32 CPU budget; one budget for all contestants)")
    args = parser.parse_args()
    try:
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        sys.exit("bench.onnx_bench needs ONNX Runtime and the exporter: pip install onnxruntime onnx onnxscript")

    trained = args.model == "trained"
    if trained and (args.model_dir is None or not (args.model_dir / "config.json").is_file()):
        sys.exit("no trained model: run python flows/train_flow.py first, or give --model_dir")
    tokenizer, config, model = build(args.model, args.model_dir if trained else None)
    max_len = saved_max_seq_length(args.model_dir) if trained else min(512, config.max_position_embeddings)
    truncation = saved_truncation(args.model_dir) if trained else Truncation()
    texts = [r["news"] for r in read_texts("test", args.rows)]
    ids, _ = encode_truncated(texts, tokenizer, max_len, truncation)
    data = from_token_lists(ids)
    batches = sorted_batches(data.lengths, args.batch_size, args.max_tokens)
    pad_id, threads = tokenizer.pad_token_id, len(os.sched_getaffinity(0))
    print(machine())
    print(f"model {args.model_dir if trained else args.model}: {sum(p.numel() for p in model.parameters()):,} "
          f"parameters, max_seq_length {max_len}; {len(texts)} texts, {len(batches)} batches "
          f"(<= {args.batch_size} rows, <= {args.max_tokens} padded tokens); ORT {ort.__version__}, "
          f"{threads} intra-op threads")

    def torch_scorer(dtype):
        return lambda: predict_logits(model, data, args.batch_size, pad_id, CPU, dtype, args.max_tokens)

    contestants = {"torch fp32": torch_scorer(None), "torch bf16 autocast": torch_scorer(torch.bfloat16)}
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path, int8_path = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        started = time.perf_counter()
        export_onnx(model, collate(data, batches[0][:2], pad_id), fp32_path, max_len)
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
        print(f"export + quantize: {time.perf_counter() - started:.1f} s; "
              f"{fp32_path.stat().st_size / 2**20:.1f} MiB fp32, {int8_path.stat().st_size / 2**20:.1f} MiB int8")
        shared = (threads, data, batches, pad_id, model.classifier.out_features)
        contestants["ORT fp32"] = ort_scorer(ort, fp32_path, *shared)
        contestants["ORT dynamic int8"] = ort_scorer(ort, int8_path, *shared)

        # One contestant's passes back to back, not interleaved: ORT's idle workers spin on the cores after each
        # run, which cost the torch pass right after one a quarter of its speed here. The warm-up pass (its
        # outputs are the ones compared) takes that hit instead.
        logits, best = {}, {}
        for name, run in contestants.items():
            logits[name] = run()
            best[name] = min(timed(run) for _ in range(args.repeat))

    probs = {name: softmax(x) for name, x in logits.items()}
    reference = probs["torch fp32"]
    fastest_torch = min((n for n in best if n.startswith("torch")), key=best.get)
    n = len(texts)
    rates = {name: n / seconds for name, seconds in best.items()}
    for name, p in probs.items():
        agree = float(np.mean(p.argmax(1) == reference.argmax(1)))
        ratio = f"  {rates[name] / rates[fastest_torch]:.2f}x {fastest_torch}" if name.startswith("ORT") else ""
        print(f"{name:<20} {rates[name]:8.1f} texts/s  agreement {agree:7.2%}  "
              f"max |dp| {np.abs(p - reference).max():.2e}{ratio}")

    fast = [name for name in probs if name.startswith("ORT") and rates[name] >= SPEEDUP * rates[fastest_torch]]
    if not trained:  # random weights: their labels are noise, so only the speed half of the rule can be read
        print(f"verdict: none (random weights, speed only): >= {SPEEDUP}x {fastest_torch}: {', '.join(fast) or 'none'}")
        return
    passing = [name for name in fast if np.mean(probs[name].argmax(1) == reference.argmax(1)) >= AGREEMENT]
    if passing:
        print(f"verdict: keep ONNX as an option: {', '.join(passing)} clear {SPEEDUP}x and {AGREEMENT:.1%}")
    else:
        print(f"verdict: drop ONNX: no ORT contestant is >= {SPEEDUP}x {fastest_torch} with >= {AGREEMENT:.1%} "
              "agreement")


if __name__ == "__main__":
    main()
