"""JSONL validation throughput against the library floors, on the same file in the same run.

    python -m bench.validate_bench [--rows 1000000] [--repeat 3]

Writes ``--rows`` ChnSentiCorp-like rows (whole reviews from ../shared, read at run time, cut and joined
so that few texts repeat; ~110 characters, ~340 bytes a line) to a temporary folder, then times, best of
``--repeat``: the validate task's function without Prefect (``validate_file``: notes, parse, checks,
Parquet, rejects, digest), its scan alone with 1 and 2 processes, and the floors: ``orjson.loads`` on
every line and ``pyarrow.json.read_json`` of the whole file (neither checks nor writes anything).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow.json as pj

from tasks.data.rejects import RejectSink
from tasks.data.validate import scan_split, validate_file

# Read here rather than through bench.common, which imports torch: the smoke test stays a few seconds.
CHNSENTICORP_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "chnsenticorp" / "train.jsonl"


def write_rows(path: Path, rows: int, seed: int = 1) -> None:
    """A review less up to 10 leading characters, plus up to 10 of another: mostly distinct texts."""
    reviews = [json.loads(line) for line in CHNSENTICORP_TRAIN.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(rows):
            a, b = reviews[rng.randrange(len(reviews))], reviews[rng.randrange(len(reviews))]
            text = a["news"][rng.randint(0, 10):] + b["news"][: rng.randint(0, 10)]
            fh.write(json.dumps({"news": text or "空", "label": a["label"]}, ensure_ascii=False) + "\n")


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def orjson_floor(path: Path) -> None:
    with open(path, "rb") as fh:
        for line in fh:
            orjson.loads(line)


def scan(path: Path, work: Path, workers: int) -> None:
    with RejectSink(path, work / "rejects.jsonl") as bad:
        scan_split(path, "news", "label", None, work / "rows.parquet", bad, workers=workers)


def cpu_model() -> str:
    with open("/proc/cpuinfo") as fh:
        return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "unknown")


def measure(rows: int, repeat: int) -> dict[str, float]:
    """Seconds, best of ``repeat``, of each contestant on ``rows`` generated rows."""
    with tempfile.TemporaryDirectory() as tmp:
        work, path = Path(tmp), Path(tmp) / "train.jsonl"
        write_rows(path, rows)
        print(f"{rows:,} rows, {path.stat().st_size / 2**20:,.0f} MB of JSONL")
        timed = {
            "project: validate_file (notes, scan, digest)": lambda: validate_file(
                "train", path, "news", "label", None, work / "rows.parquet", work / "rejects.jsonl", 1.0),
            "project: scan alone, 1 process": lambda: scan(path, work, 1),
            "project: scan alone, 2 processes": lambda: scan(path, work, 2),
            "floor: orjson.loads per line": lambda: orjson_floor(path),
            "floor: pyarrow.json.read_json": lambda: pj.read_json(path),
        }
        return {name: best_of(repeat, run) for name, run in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is printed")
    args = parser.parse_args()
    print(f"CPU {cpu_model()}; {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    seconds = measure(args.rows, args.repeat)
    for name, s in seconds.items():
        print(f"  {name:<46} {s:8.2f} s {args.rows / s:12,.0f} rows/s")
    project = seconds["project: validate_file (notes, scan, digest)"]
    for floor in ("floor: orjson.loads per line", "floor: pyarrow.json.read_json"):
        print(f"  ratio project/floor ({floor[7:]}): {seconds[floor] / project:.2f}x the floor's rows/s")
    one, two = seconds["project: scan alone, 1 process"], seconds["project: scan alone, 2 processes"]
    print(f"  scan 1 -> 2 processes: {one / two:.2f}x; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
