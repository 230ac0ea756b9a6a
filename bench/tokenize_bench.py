"""Tokenization cache: the tokenize task cold (empty cache) vs warm (same inputs again), ChnSentiCorp train.

    python -m bench.tokenize_bench

Uses the real bert-base-chinese tokenizer and max_seq_length 512. Also prints what the seed spends per
epoch re-tokenizing every batch in its collate function.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import BERT_SHAPE, CHNSENTICORP, machine, read_texts, seed_args, seed_module
from tasks.core.records import LabelSet, TokenizerRecord
from tasks.data.validate import validate_file
from tasks.tokens.cache import tokenize_split
from tasks.tokens.tokenizer import fingerprint, load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="warm calls to time (the median is printed)")
    args = parser.parse_args()
    print(machine())
    tokenizer = load_tokenizer(str(BERT_SHAPE))
    tok = TokenizerRecord(path=str(BERT_SHAPE), fingerprint=fingerprint(tokenizer), trained_here=False)
    path = CHNSENTICORP / "train.jsonl"
    labels = LabelSet(names=("0", "1"), kind="int")
    with tempfile.TemporaryDirectory() as tmp:
        split = validate_file("train", path, "news", "label", labels, Path(tmp) / "rows.parquet",
                              Path(tmp) / "rejects.jsonl")[0]
        started = time.perf_counter()
        cold = tokenize_split.fn(split, tok, "news", "label", labels, 512, Path(tmp))
        cold_s = time.perf_counter() - started
        warm = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            assert tokenize_split.fn(split, tok, "news", "label", labels, 512, Path(tmp)).cache_hit
            warm.append(time.perf_counter() - started)
    warm_s = sorted(warm)[len(warm) // 2]

    seed_processor = seed_module("processor")
    loader = seed_processor.get_dataLoader(seed_args(batch_size=8), seed_processor.FinData(str(path)), tokenizer)
    started = time.perf_counter()
    for _ in loader:  # the seed's collate tokenizes each batch, every epoch
        pass
    seed_s = time.perf_counter() - started
    print(f"{cold.rows} rows of {path.name}, {cold.truncated} cut at 512 tokens; {len(read_texts('train'))} lines")
    print(f"cold (tokenize + write Parquet): {cold_s:.2f} s; warm (cache hit): {warm_s * 1000:.1f} ms; "
          f"ratio {cold_s / warm_s:.0f}x")
    print(f"seed: {seed_s:.2f} s re-tokenizing in its batches per epoch (x 8 epochs = {8 * seed_s:.1f} s per run)")


if __name__ == "__main__":
    main()
