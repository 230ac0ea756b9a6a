"""Peak memory of scoring 100k vs 1M rows: streaming must keep it flat.

    python -m bench.score_memory --rows 100000 1000000

Each size runs in its own process (peak RSS is per process); rows are ChnSentiCorp test texts repeated.
The model is a small random-init BERT: memory of the stream, not of the model, is what is measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, machine, read_texts

CHILD = """
import resource, sys, time
from pathlib import Path
from tasks.core.config import ScoreConfig
from tasks.scoring.score import score_file
source, model, out = map(Path, sys.argv[1:4])
started = time.perf_counter()
result = score_file.fn(source, model, ScoreConfig(output_dir=out, device="cpu"))
print(result.rows_scored, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_rows(path: Path, n: int) -> None:
    texts = [r["news"] for r in read_texts("test")]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": i, "news": texts[i % len(texts)]}, ensure_ascii=False) + "\n")


def tiny_model(folder: Path) -> Path:
    import torch

    from tasks.core.config import ScratchModel
    from tasks.core.records import LabelSet
    from tasks.tokens.tokenizer import train_wordpiece
    from tasks.training.model import new_classifier, save_classifier, scratch_encoder

    tokenizer = train_wordpiece([r["news"] for r in read_texts("train")], 4000)
    torch.manual_seed(0)
    shape = ScratchModel(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=4000)
    model = new_classifier(scratch_encoder(shape, tokenizer, 128), LabelSet(names=("0", "1"), kind="int"))
    return save_classifier(model, tokenizer, LabelSet(names=("0", "1"), kind="int"), folder, max_seq_length=128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp) / "model")
        peaks = {}
        for n in args.rows:
            source = Path(tmp) / f"rows-{n}.jsonl"
            write_rows(source, n)
            out = subprocess.run([sys.executable, "-c", CHILD, source, model, Path(tmp) / f"out-{n}"], cwd=REPO,
                                 capture_output=True, text=True, check=True)
            scored, seconds, peak_kb = out.stdout.split()[-3:]
            peaks[n] = int(peak_kb) / 1024
            print(f"{n:>9,} rows: {int(scored):,} scored in {float(seconds):.0f} s "
                  f"({int(scored) / float(seconds):,.0f} texts/s), peak RSS {peaks[n]:.0f} MiB", flush=True)
            source.unlink()
        first, last = args.rows[0], args.rows[-1]
        print(f"peak RSS ratio {last:,} / {first:,} rows: {peaks[last] / peaks[first]:.2f}x "
              f"(rows ratio {last / first:.0f}x)")


if __name__ == "__main__":
    main()
