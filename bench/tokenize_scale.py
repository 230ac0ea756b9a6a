"""Tokenization throughput against the tokenizers backend's fastest batched encode, on 1 and on every core.

    python -m bench.tokenize_scale [--rows 1000000] [--max_seq_length 128] [--cores 1 2]

Writes ``--rows`` ChnSentiCorp-like rows (as ``bench.validate_bench`` does), validates them once, then in a
fresh process per core count (pinned to that many cores, the Rust thread pool sized to match) times the
tokenize task's function, cold, without Prefect (Parquet in, token ids Parquet out), and the floor: the same
tokenizer's backend ``encode_batch_fast`` with the same truncation over the same texts in batches of 2,048
(texts already in memory; nothing converted or written). Prints rows/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BERT_SHAPE = REPO.parent / "shared" / "models" / "bert-base-chinese-shape"


def one_run(rows_file: Path, max_seq_length: int) -> None:
    """In a child pinned to its cores: the project, then the floor; prints one parseable line."""
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from tasks.core.records import LabelSet, SplitData, TokenizerRecord
    from tasks.tokens.cache import tokenize_split
    from tasks.tokens.tokenizer import fingerprint, load_tokenizer

    tokenizer = load_tokenizer(str(BERT_SHAPE))
    tok = TokenizerRecord(path=str(BERT_SHAPE), fingerprint=fingerprint(tokenizer), trained_here=False)
    split = SplitData.model_validate_json((rows_file.parent / "split.json").read_text())
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        done = tokenize_split.fn(split, tok, "news", "label", LabelSet(names=("0", "1"), kind="int"),
                                 max_seq_length, Path(cache))
        project = time.perf_counter() - started
    texts = pq.read_table(rows_file, columns=["text"]).column("text").to_pylist()
    floor = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    floor.enable_truncation(max_seq_length)
    started = time.perf_counter()
    for start in range(0, len(texts), 2048):
        floor.encode_batch_fast(texts[start:start + 2048])
    backend = time.perf_counter() - started
    print(f"RESULT {done.rows} {project:.3f} {backend:.3f}", flush=True)


def measure(rows: int, max_seq_length: int, cores: list[int]) -> list[tuple[int, int, float, float]]:
    """``(cores, rows, project seconds, backend seconds)`` for each core count, each in a pinned child."""
    from bench.validate_bench import write_rows
    from tasks.data.validate import validate_file

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_rows(work / "train.jsonl", rows)
        split, _ = validate_file("train", work / "train.jsonl", "news", "label", None, work / "rows.parquet",
                                 work / "rejects.jsonl")
        (work / "split.json").write_text(split.model_dump_json())
        print(f"{split.valid_rows:,} rows, max_seq_length {max_seq_length}, bert-base-chinese's tokenizer")
        for n in cores:
            env = os.environ | {"RAYON_NUM_THREADS": str(n), "TOKENIZERS_PARALLELISM": "true"}
            child = subprocess.run(
                ["taskset", "-c", ",".join(map(str, sorted(os.sched_getaffinity(0))[:n])), sys.executable,
                 "-m", "bench.tokenize_scale", "--one_run", str(work / "rows.parquet"),
                 "--max_seq_length", str(max_seq_length)],
                cwd=REPO, env=env, capture_output=True, text=True, check=True)
            line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
            done, project, backend = line.split()[1:]
            results.append((n, int(done), float(project), float(backend)))
            print(f"  {n} core(s): project {int(done) / float(project):9,.0f} rows/s ({float(project):6.1f} s); "
                  f"backend encode_batch_fast {int(done) / float(backend):9,.0f} rows/s ({float(backend):6.1f} s); "
                  f"ratio {float(backend) / float(project):.2f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--cores", type=int, nargs="+", default=sorted({1, len(os.sched_getaffinity(0))}))
    parser.add_argument("--one_run", type=Path, help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    if args.one_run:
        return one_run(args.one_run, args.max_seq_length)
    from bench.validate_bench import cpu_model

    print(f"CPU {cpu_model()}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    results = measure(args.rows, args.max_seq_length, args.cores)
    if len(results) > 1:
        (a, _, pa_, ba), (b, _, pb, bb) = results[0], results[-1]
        print(f"scaling {a} -> {b} cores: project {pa_ / pb:.2f}x, backend {ba / bb:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
