"""Training throughput of finished runs, read from their run directories: texts/s, tokens/s and MFU.

    python -m bench.run_throughput artifacts/runs/<a> artifacts/runs/<b> [--peak_tflops 989]

Model FLOPs are 6 x parameters x real (unpadded) training tokens per epoch; attention's own work and padding
are not counted, so this is a lower bound on what the device did.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from safetensors import safe_open

from tasks.core.files import read_json


def parameters(model_dir: Path) -> int:
    total = 0
    for file in model_dir.glob("*.safetensors"):
        with safe_open(file, "np") as fh:
            total += sum(int(np.prod(fh.get_slice(name).get_shape())) for name in fh.keys())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--peak_tflops", type=float, default=989.0, help="dense bf16 peak (H100 SXM: 989)")
    args = parser.parse_args()
    for run in args.runs:
        tokens = pq.read_table(read_json(run / "cache_keys.json")["splits"]["train"]["parquet"],
                               columns=["length"]).column("length").to_numpy().sum()
        params = parameters(run / "model")
        for epoch in read_json(run / "epochs.json"):
            tps = tokens / epoch["seconds"]
            mfu = 6 * params * tps / (args.peak_tflops * 1e12)
            print(f"{run.name} epoch {epoch['epoch']}: {epoch['texts_per_second']:,.0f} texts/s, {tps:,.0f} tokens/s, "
                  f"{params / 1e6:.0f}M parameters, MFU {mfu:.1%}")


if __name__ == "__main__":
    main()
