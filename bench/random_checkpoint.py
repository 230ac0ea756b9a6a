"""Save a randomly initialised encoder of a real shape as a local checkpoint (no hub, no weights needed).

    python -m bench.random_checkpoint OUT_DIR [--shape ../shared/models/bert-base-chinese-shape]

It loads like a pretrained one (`--model_checkpoint OUT_DIR`), so the pretrained code path and its speed can
be measured here; what it learns is meaningless.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import AutoModel, BertConfig

from bench.common import BERT_SHAPE
from tasks.tokens.tokenizer import load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shape", type=Path, default=BERT_SHAPE)
    args = parser.parse_args()
    torch.manual_seed(0)
    AutoModel.from_config(BertConfig.from_pretrained(args.shape)).save_pretrained(args.out)
    load_tokenizer(str(args.shape)).save_pretrained(args.out)
    print(f"random {args.shape.name} checkpoint in {args.out}")


if __name__ == "__main__":
    main()
