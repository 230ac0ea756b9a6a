"""Long texts on ChnSentiCorp: head, tail, head_tail and window-mean at --max_seq_length 128, measured.

    python -m bench.long_text_bench [--max_seq_length 128] [--epochs 3] [--work DIR]

Trains the from-scratch model once per truncation mode with the real train flow (its command line, test texts
that occur in train dropped), then tests the head model again with ``--long_texts window``. On the test rows over
the limit it prints each mode's accuracy, its paired bootstrap interval against head, and how fast each mode
scores those rows (the scoring task on a file of them, after a warm-up). Takes about 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.common import CHNSENTICORP, REPO, machine
from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.evaluation.bootstrap import bootstrap_interval, paired_difference
from tasks.evaluation.predict import read_scores
from tasks.scoring.score import score_file

MODES = ("head", "tail", "head_tail")


def run_flow(work: Path, name: str, args: argparse.Namespace, *options: str) -> Path:
    """One train-flow command line; its run directory."""
    files = [f"--{s}_file={CHNSENTICORP / f'{s}.jsonl'}" for s in ("train", "dev", "test")]
    command = [sys.executable, "flows/train_flow.py", *files, f"--max_seq_length={args.max_seq_length}",
               f"--num_train_epochs={args.epochs}", "--no_baseline", "--leakage=drop", f"--data_dir={work / 'data'}",
               f"--output_dir={work / name}", f"--run_name={name}", *options]
    env = os.environ | {"PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return work / name / "runs" / name


def long_rows(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """Test lines in report order, and which texts were over the limit (mode-independent)."""
    test = read_json(run / "cache_keys.json")["splits"]["test"]
    table = pq.read_table(test["parquet"], columns=["line", "truncated"])
    return table.column("line").to_numpy(), table.column("truncated").to_numpy(zero_copy_only=False)


def texts_per_second(work: Path, name: str, model: Path, texts: list[str], **options) -> float:
    """Scoring speed on the long texts, repeated to a few thousand rows, after an untimed warm-up."""
    source = work / "long.jsonl"
    source.write_text("".join(json.dumps({"news": t}, ensure_ascii=False) + "\n" for t in texts * 8),
                      encoding="utf-8")
    for attempt in ("warm-up", "timed"):
        result = score_file.fn(source, model, ScoreConfig(output_dir=work / f"speed-{name}-{attempt}", **options))
    return result.rows_scored / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="Keep the runs here (default: a temporary folder).")
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="long-text-bench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(machine(), flush=True)
    runs = {mode: run_flow(work, mode, args, f"--truncation={mode}") for mode in MODES}
    runs["window"] = run_flow(work, "window", args, "--do_test", "--do_predict", "--long_texts=window",
                              f"--model_checkpoint={runs['head'] / 'model'}")
    lines, long = long_rows(runs["head"])
    scores = {name: read_scores(run / "predictions" / "test.scores.parquet") for name, run in runs.items()}
    assert all(np.array_equal(s[0], lines) for s in scores.values()), "the runs tested different rows"
    y_true = scores["head"][1]
    texts = [json.loads(row)["news"] for row, cut in zip(
        (runs["head"] / "predictions" / "test.jsonl").read_text(encoding="utf-8").splitlines(), long, strict=True)
        if cut]
    print(f"\n{int(long.sum())} of {len(long)} test texts ({long.mean():.1%}) are over {args.max_seq_length} tokens")
    print(f"{'mode':<10} {'accuracy on long texts':<28} {'minus head (points)':<26} {'all rows':<8} texts/s")
    results = {}
    for name, (_, _, y_pred, _) in scores.items():
        accuracy = bootstrap_interval(y_true[long], y_pred[long], "accuracy")
        diff = paired_difference(y_true[long], y_pred[long], scores["head"][2][long], "accuracy")
        model = runs[name if name != "window" else "head"] / "model"
        options = {"long_texts": "window"} if name == "window" else {"truncation": name}
        speed = texts_per_second(work, name, model, texts, **options)
        whole = float((y_pred == y_true).mean())
        print(f"{name:<10} {accuracy.text():<28} {diff.text(100, 1, sign=True):<26} {whole:<8.4f} {speed:.0f}")
        results[name] = {"long_accuracy": accuracy.model_dump(), "minus_head": diff.model_dump(),
                         "accuracy": whole, "texts_per_second": speed}
    (work / "results.json").write_text(json.dumps({"machine": machine(), "long_rows": int(long.sum()),
                                                   "rows": len(long), "modes": results}, indent=1))
    print(f"\nruns and results.json in {work}")


if __name__ == "__main__":
    main()
