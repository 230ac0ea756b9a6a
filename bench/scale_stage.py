"""One stage of bench/scale_bench.py in its own process, so its peak RSS is its own.

    python bench/scale_stage.py STAGE DATA_DIR WORK_DIR

Run by file path with PYTHONPATH set to the project under test (this one, or an older checkout for the
before/after table): only ``tasks`` is imported, from there. It prints one JSON line: rows, seconds and peak RSS.
"""

from __future__ import annotations

import inspect
import json
import resource
import sys
import time
from pathlib import Path

STAGES = ("seed_load", "validate", "tokenizer", "tokenize", "baseline")


def summary(work: Path):
    from tasks.core.records import DataSummary

    return DataSummary.model_validate_json((work / "run" / "validation.json").read_text(encoding="utf-8"))


def run(stage: str, data: Path, work: Path) -> int:
    from tasks.core.records import RunDir

    run_dir = RunDir(path=work / "run")
    paths = {split: data / f"{split}.jsonl" for split in ("train", "dev", "test")}
    if stage == "seed_load":  # the seed article's loader: every line of the file as a dict in one list
        from processor import FinData

        return len(FinData(str(paths["train"])))
    if stage == "validate":
        from tasks.data.validate import validate_splits

        run_dir.path.mkdir(parents=True, exist_ok=True)
        return validate_splits.fn(paths, "news", "label", 0.01, run_dir).splits["train"].valid_rows
    data_summary = summary(work)
    train = data_summary.splits["train"]
    if stage == "baseline":
        from tasks.evaluation.baseline import train_baseline

        takes_cap = "max_rows" in inspect.signature(train_baseline.fn).parameters  # older versions fit every row
        train_baseline.fn(data_summary, "news", "label", 42, run_dir, *([100_000] if takes_cap else []))
        return train.valid_rows
    from tasks.tokens.tokenizer import prepare_tokenizer

    tok = prepare_tokenizer.fn(None, True, train, "news", "label", 8000, work / "cache")  # a cache hit after its stage
    if stage == "tokenizer":
        return train.valid_rows
    from tasks.tokens.cache import tokenize_split

    return tokenize_split.fn(train, tok, "news", "label", data_summary.labels, 256, work / "cache").rows

def import_first(stage: str) -> None:
    """Import what the stage needs before the clock starts: torch, transformers and prefect take seconds."""
    if stage == "seed_load":
        sys.path.insert(0, sys.argv[4])
        import processor  # noqa: F401
    else:
        import tasks.data.validate  # noqa: F401


if __name__ == "__main__":
    stage, data_dir, work_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    import_first(stage)
    started = time.perf_counter()
    rows = run(stage, data_dir, work_dir)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: the peak of this process alone
    print(json.dumps({"stage": stage, "rows": rows, "seconds": time.perf_counter() - started, "peak_kib": peak_kib}))
