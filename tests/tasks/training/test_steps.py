import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import get_linear_schedule_with_warmup

from tasks.tokens.batching import length_grouped_batches
from tasks.training.steps import param_groups, rank_slices, train_epoch
from tests.ddp.tiny import tiny_data, tiny_model

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("rows", "world", "micro"), [(8, 2, 1), (8, 1, 2), (7, 2, 2), (3, 2, 2), (33, 4, 3)])
def test_every_row_of_a_global_batch_goes_to_exactly_one_slice_and_every_rank_gets_as_many(rows, world, micro):
    batch = np.arange(100, 100 + rows)
    shares = [rank_slices(batch, world, rank, micro) for rank in range(world)]
    assert all(len(share) == micro for share in shares)  # the same number of micro-steps on every rank
    assert sorted(np.concatenate([s for share in shares for s in share]).tolist()) == batch.tolist()
    sizes = [len(s) for share in shares for s in share]
    assert max(sizes) - min(sizes) <= 1


def steps_with(data, global_batch: int, micro_steps: int) -> dict[str, torch.Tensor]:
    model = tiny_model()
    optimizer = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-2)
    scheduler = get_linear_schedule_with_warmup(optimizer, 1, 10)
    batches = length_grouped_batches(data.lengths, global_batch, np.random.default_rng(1))
    train_epoch(model, data, batches, optimizer, scheduler, 1.0, 0, torch.device("cpu"), None,
                micro_steps=micro_steps)
    return model.state_dict()


def test_accumulation_gives_the_same_weights_as_one_big_batch_even_with_a_short_last_batch():
    data = tiny_data(37)  # 37 rows in batches of 8: the last batch has 5, split unevenly 3 + 2
    whole, accumulated = steps_with(data, 8, 1), steps_with(data, 8, 2)
    # atol 1e-5 as in the DDP test below: summing a batch in two halves rounds differently, and on some CPUs
    # (seen on an AMD EPYC) one position-embedding entry of ~0.02 then differs by 1.6e-6 after 5 steps.
    for name, tensor in whole.items():
        torch.testing.assert_close(accumulated[name], tensor, rtol=1e-5, atol=1e-5, msg=name)
    different = steps_with(data, 4, 1)  # a different global batch really is different training
    assert not torch.allclose(different["classifier.weight"], whole["classifier.weight"])


def test_two_ranks_of_four_give_the_weights_of_one_process_of_eight(tmp_path):
    """DDP over gloo, launched by torchrun as the fine-tune task launches it: 2 x 4 == 1 x 8 == 1 x 4 x 2."""
    out = tmp_path / "ddp.safetensors"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "tests.ddp.steps_worker", "8", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ranks, data = load_file(out), tiny_data(37)
    # atol 1e-5: attention key biases have no true gradient (softmax ignores a shift), so they hold only
    # rounding noise near 1e-6, which a relative bound cannot judge; every other tensor agrees to ~3e-6.
    for name, tensor in steps_with(data, 8, 1).items():
        torch.testing.assert_close(ranks[name], tensor, rtol=1e-5, atol=1e-5, msg=name)
