"""Every stage's speed beside its library floor, on the machine at hand: one command, one table.

    python -m bench.stages [--rows 1000000] [--score_rows 200000]

Runs, one after another (never two timings at once), the stage benchmarks on generated ChnSentiCorp-like rows:
validation (``bench.validate_bench``: orjson per line as the floor), tokenization on 1 and on every core
(``bench.tokenize_scale``: the backend's ``encode_batch_fast``) and the scoring host path (``bench.score_host``:
parse + tokenize + write with no model). Each prints its own details; the table at the end holds rows/s of the
project and of the floor, and their ratio. Training has its own three-way benchmark (``bench.train_bench``).
"""

from __future__ import annotations

import argparse
import datetime
import os

from bench import score_host, tokenize_scale, validate_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for validation and tokenization")
    parser.add_argument("--score_rows", type=int, default=200_000, help="rows scored (a model runs: slower)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"CPU {validate_bench.cpu_model()}; {cores} usable cores; {datetime.date.today()}; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    table = []
    v = validate_bench.measure(args.rows, args.repeat)
    table.append(("validate (notes, checks, Parquet, rejects, digest)", args.rows,
                  v["project: validate_file (notes, scan, digest)"], "orjson.loads per line",
                  v["floor: orjson.loads per line"]))
    for n, rows, project, backend in tokenize_scale.measure(args.rows, 128, sorted({1, cores})):
        table.append((f"tokenize to Parquet, {n} core(s)", rows, project, "backend encode_batch_fast", backend))
    s = score_host.measure(args.score_rows, args.repeat)
    table.append(("score file to file, 1 x 64 model", args.score_rows, s["project"], "parse + tokenize + write",
                  s["floor"]))
    table.append(("  the same, less the model's own time", args.score_rows, s["project"] - s["model"],
                  "parse + tokenize + write", s["floor"]))
    print("\n| stage | rows | project rows/s | floor | floor rows/s | ratio |\n|---|---|---|---|---|---|")
    for stage, rows, project, floor, floor_s in table:
        print(f"| {stage} | {rows:,} | {rows / project:,.0f} | {floor} | {rows / floor_s:,.0f} | "
              f"{floor_s / project:.2f} |")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
