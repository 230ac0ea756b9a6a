"""Run under torchrun: the same optimizer steps as tests/tasks/training/test_steps.py, across ranks with DDP.

Usage: python -m torch.distributed.run --nproc_per_node N -m tests.ddp.steps_worker GLOBAL_BATCH OUT.safetensors
"""

import faulthandler
import os
import sys
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import save_file
from transformers import get_linear_schedule_with_warmup

from tasks.tokens.batching import length_grouped_batches
from tasks.training.steps import param_groups, train_epoch
from tests.ddp.tiny import tiny_data, tiny_model


def main(global_batch: int, out: str) -> None:
    faulthandler.dump_traceback_later(90, exit=True)  # a hang prints every thread's stack and fails fast
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    model = tiny_model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-2)
    scheduler = get_linear_schedule_with_warmup(optimizer, 1, 10)
    data = tiny_data(37)
    batches = length_grouped_batches(data.lengths, global_batch, np.random.default_rng(1))
    train_epoch(ddp, data, batches, optimizer, scheduler, 1.0, 0, torch.device("cpu"), None, world=world, rank=rank)
    if rank == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    # DDP's reducer must go while its process group lives: destroyed after it, gloo can hang at exit.
    del ddp
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
