"""The scoring host path against its no-model floor: what the work around the model costs.

    python -m bench.score_host [--rows 200000]

A near-free model (1 layer x 64, WordPiece of 4,000) scores ``--rows`` ChnSentiCorp-like rows from JSONL to
JSONL with the score task's function (no Prefect). The floor does the same host work with the same libraries and
no model, in chunks of the same size: ``orjson.loads`` of every line, the backend tokenizer's
``encode_batch_fast`` with the same truncation, and ``orjson.dumps`` of each record with a label and a
probability added, written to a file. The model alone (its forward passes over the same batches) is timed too:
even 1 x 64 costs about what tokenizing does on a CPU, so the project's time less the model's is the host path,
printed against the floor beside the plain ratio (the goal is >= 0.9).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import orjson
import torch
from tokenizers import Tokenizer

from bench.score_memory import tiny_model
from bench.validate_bench import best_of, cpu_model, write_rows
from tasks.core.config import ScoreConfig
from tasks.core.device import token_budget
from tasks.core.truncation import Truncation
from tasks.scoring.score import score_file
from tasks.tokens.batching import from_token_lists
from tasks.tokens.tokenizer import load_tokenizer
from tasks.tokens.truncation import encode_truncated
from tasks.training.inference import predict_logits
from tasks.training.model import load_classifier


def floor(source: Path, model: Path, target: Path, chunk_rows: int, max_seq_length: int = 128) -> int:
    tokenizer = Tokenizer.from_str(load_tokenizer(str(model)).backend_tokenizer.to_str())
    tokenizer.enable_truncation(max_seq_length)
    rows = 0
    with open(source, "rb") as fh, open(target, "wb") as out:
        while lines := fh.readlines(chunk_rows * 400):  # about chunk_rows lines of ~350 bytes
            records = [orjson.loads(line) for line in lines]
            tokenizer.encode_batch_fast([r["news"] for r in records])
            out.writelines(orjson.dumps(r | {"pred_label": 1, "pred_prob": 0.5}) + b"\n" for r in records)
            rows += len(records)
    return rows


def tokenized_chunks(source: Path, model: Path, chunk_rows: int) -> list:
    """The file's texts as the scorer tokenizes them, chunk by chunk (not timed)."""
    tokenizer = load_tokenizer(str(model))
    texts = [orjson.loads(line)["news"] for line in source.open("rb")]
    return [from_token_lists(encode_truncated(texts[i:i + chunk_rows], tokenizer, 128, Truncation())[0])
            for i in range(0, len(texts), chunk_rows)]


def model_alone(chunks: list, model_dir: Path, cfg: ScoreConfig) -> None:
    model = load_classifier(model_dir)[0]
    budget = token_budget(torch.device("cpu"), None, cfg.max_batch_tokens)
    for data in chunks:
        predict_logits(model, data, cfg.batch_size, 0, torch.device("cpu"), None, budget)


def measure(rows: int, repeat: int) -> dict[str, float]:
    """Seconds, best of ``repeat``: the project, the no-model floor, and the model alone."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, source = tiny_model(work / "model"), work / "in.jsonl"
        write_rows(source, rows)
        cfg = ScoreConfig(output_dir=work / "out", device="cpu", precision="fp32")
        score_file.fn(source, model, cfg.model_copy(update={"output_dir": work / "warm"}))  # loads the model once
        runs = iter(range(repeat))
        project = best_of(repeat, lambda: score_file.fn(
            source, model, cfg.model_copy(update={"output_dir": work / f"out{next(runs)}"})))
        no_model = best_of(repeat, lambda: floor(source, model, work / "floor.jsonl", cfg.chunk_rows))
        chunks = tokenized_chunks(source, model, cfg.chunk_rows)
        forward = best_of(repeat, lambda: model_alone(chunks, model, cfg))
    return {"project": project, "floor": no_model, "model": forward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"CPU {cpu_model()}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    s = measure(args.rows, args.repeat)
    host = s["project"] - s["model"]
    print(f"  project, score_file (1 x 64 model): {args.rows / s['project']:9,.0f} rows/s ({s['project']:.1f} s)")
    print(f"  floor, parse + tokenize + write:    {args.rows / s['floor']:9,.0f} rows/s ({s['floor']:.1f} s)")
    print(f"  the model alone, same batches:      {args.rows / s['model']:9,.0f} rows/s ({s['model']:.1f} s)")
    print(f"  ratio project/floor {s['floor'] / s['project']:.2f}; host path (project less the model's time) "
          f"{args.rows / host:,.0f} rows/s, ratio {s['floor'] / host:.2f} to the floor")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
