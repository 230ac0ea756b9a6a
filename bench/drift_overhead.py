"""What the drift report adds to scoring time, on CPU.

    python -m bench.drift_overhead --rows 1200

Scores ChnSentiCorp test texts with a 4-layer x 256 classifier (bert-base-chinese's vocabulary, random weights)
chunk by chunk as the score task does, and times, on the same chunks, what drift adds: the binned statistics of
each chunk (``chunk_stats``, already inside ``score_chunk``, so timed alone here) and the per-file comparison with
the reference (PSI, chi-square, label-mix estimate with its 1,000-resample bootstrap), and the run's figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.common import read_texts
from bench.score_bench import build
from tasks.core.config import ScoreConfig
from tasks.core.records import LabelSet
from tasks.drift.chart import drift_png
from tasks.drift.compare import compare
from tasks.drift.profile import build_profile
from tasks.drift.stats import chunk_stats, empty_stats, merge_stats
from tasks.tokens.batching import from_token_lists
from tasks.tokens.cut import encode_with_cuts
from tasks.training.inference import predict_logits, softmax
from tasks.training.model import save_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1200)
    args = parser.parse_args()
    texts = [r["news"] for r in read_texts("test", args.rows)]
    tokenizer, _, model = build("small")
    cfg, torch_device = ScoreConfig(), torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_classifier(model, tokenizer, LabelSet(names=("0", "1"), kind="int"), Path(tmp) / "m", 256)
        profile = build_profile(model_dir, texts[:600], [0] * 300 + [1] * 300, [1, 1], precision="fp32")
    scoring = stats_seconds = 0.0
    total = empty_stats(2)
    for start in range(0, len(texts), cfg.chunk_rows):
        chunk = texts[start:start + cfg.chunk_rows]
        began = time.perf_counter()
        ids, cut = encode_with_cuts(chunk, tokenizer, 256)
        probs = softmax(predict_logits(model, from_token_lists(ids), cfg.batch_size, tokenizer.pad_token_id,
                                       torch_device, None, 2048))
        scoring += time.perf_counter() - began
        began = time.perf_counter()
        total = merge_stats(total, chunk_stats(chunk, ids, cut, probs, tokenizer.unk_token_id))
        stats_seconds += time.perf_counter() - began
    began = time.perf_counter()
    drift = compare(profile, total, 0.1, 0.25, 0.01, 100)
    compare_seconds = time.perf_counter() - began
    began = time.perf_counter()
    png = drift_png(profile, drift, "bench")
    figure_seconds = time.perf_counter() - began
    print(f"{len(texts)} texts, torch threads {torch.get_num_threads()}: tokenize + forward {scoring:.2f} s "
          f"({len(texts) / scoring:.0f} texts/s); chunk statistics {1000 * stats_seconds:.1f} ms "
          f"({100 * stats_seconds / scoring:.2f} %); per-file comparison {1000 * compare_seconds:.0f} ms "
          f"({100 * compare_seconds / scoring:.2f} %); per-run figure {1000 * figure_seconds:.0f} ms "
          f"({len(png) // 1024} KB)")


if __name__ == "__main__":
    main()
