"""Rows, time and peak memory of the steps before training, at growing training-file sizes.

    python -m bench.scale_bench --rows 100000 1000000 10000000 [--before ../old-checkout]

For each size it writes a training file of distinct review-like texts (slices of ChnSentiCorp reviews,
2,000-row dev and test), then runs validation, WordPiece training, tokenization and the TF-IDF baseline,
each in its own process (peak RSS is per process), and the seed article's loader on the same file as
the baseline of the same run. ``--before`` runs the same stages with another checkout of this project
(e.g. a worktree of an older commit) for a before/after table. Prints rows/s, peak RSS and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, SEED_CODE, machine, read_texts

STAGE = Path(__file__).with_name("scale_stage.py")
LIMIT_GIB = 2.0
EVAL_ROWS = 2_000


def write_split(path: Path, n: int, seed: int, reviews: list[dict]) -> None:
    """Mostly distinct texts: a slice of one review, then the start of another; the label is the first one's."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n):
            a, b = reviews[rng.randrange(len(reviews))], reviews[rng.randrange(len(reviews))]
            start = rng.randrange(max(1, len(a["news"]) - 20))
            text = a["news"][start:start + rng.randint(20, 80)] + b["news"][: rng.randint(0, 30)]
            fh.write(json.dumps({"news": text, "label": a["label"]}, ensure_ascii=False) + "\n")


def data_for(rows: int, root: Path) -> Path:
    folder = root / f"rows-{rows}"
    if not (folder / "done").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        reviews = read_texts("train")
        for split, n, seed in (("train", rows, 1), ("dev", EVAL_ROWS, 2), ("test", EVAL_ROWS, 3)):
            write_split(folder / f"{split}.jsonl", n, seed, reviews)
        (folder / "done").touch()
    return folder


def run_stage(stage: str, project: Path, data: Path, work: Path) -> dict:
    """One stage in a child process: its rows, seconds and peak RSS (the child's own, from its rusage)."""
    env = os.environ | {"PYTHONPATH": str(project), "PREFECT_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, str(STAGE), stage, str(data), str(work), str(SEED_CODE)], cwd=project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode:
        return {"stage": stage, "error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    result = json.loads(out.strip().splitlines()[-1])
    return result | {"peak_gib": result.pop("peak_kib") / 2**20}


def stages_of(project: Path, data: Path, work: Path, stages: list[str]) -> dict[str, dict]:
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for stage in stages:
        results[stage] = run_stage(stage, project, data, work)
        if "error" in results[stage]:
            break  # the later stages need this one's output
    return results


def line(label: str, r: dict) -> str:
    if "error" in r:
        return f"  {label:<28} failed: {r['error'][:90]}"
    flag = "" if r["peak_gib"] <= LIMIT_GIB else f"  (over {LIMIT_GIB:g} GiB)"
    return (f"  {label:<28} {r['seconds']:8.1f} s {r['rows'] / r['seconds']:11,.0f} rows/s "
            f"{r['peak_gib']:6.2f} GiB peak{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--before", type=Path, help="another checkout of this project to compare with")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale-bench"))
    parser.add_argument("--stages", nargs="+", default=["validate", "tokenizer", "tokenize", "baseline"],
                        help="later stages read what validate left in --work: they may run alone after it")
    parser.add_argument("--no_seed", action="store_true", help="skip the seed's loader (already measured)")
    args = parser.parse_args()
    print(machine())
    for rows in args.rows:
        data = data_for(rows, args.work / "data")
        size = sum(p.stat().st_size for p in data.glob("*.jsonl")) / 2**20
        print(f"\n{rows:,} training rows ({size:,.0f} MB of JSONL with dev and test)")
        seed = {"error": "skipped"} if args.no_seed else run_stage("seed_load", REPO, data, args.work / "seed")
        print(line("seed's loader (baseline)", seed), flush=True)
        ours = stages_of(REPO, data, args.work / f"ours-{rows}", args.stages)
        for stage, r in ours.items():
            print(line(f"ours: {stage}", r), flush=True)
        if "error" not in seed and "error" not in ours.get("validate", {"error": 1}):
            v = ours["validate"]
            print(f"  ratio ours/seed: validation {(v['rows'] / v['seconds']) / (seed['rows'] / seed['seconds']):.2f}x "
                  f"the rows/s of loading alone, {v['peak_gib'] / seed['peak_gib']:.2f}x its peak RSS")
        if args.before:
            before = stages_of(args.before.resolve(), data, args.work / f"before-{rows}", args.stages)
            for stage, r in before.items():
                print(line(f"before: {stage}", r))
                if "error" not in r and "error" not in ours.get(stage, {"error": 1}):
                    print(f"  ratio ours/before ({stage}): time {ours[stage]['seconds'] / r['seconds']:.2f}x, "
                          f"peak RSS {ours[stage]['peak_gib'] / r['peak_gib']:.2f}x")


if __name__ == "__main__":
    main()
