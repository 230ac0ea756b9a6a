"""Which process this is, the model as DDP trains it, and the two collectives the loops need besides DDP's own."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def ddp_wrapped(model: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """The module the optimizer steps go through: ``model`` itself in one process, DDP over it in several."""
    if ranks.world == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def sum_over_ranks(value: float, ranks: Ranks, device: torch.device) -> float:
    if ranks.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def rank0_says(value: bool, ranks: Ranks, device: torch.device) -> bool:
    """Rank 0's ``value`` on every rank (only rank 0 evaluates dev, keeps the time, and decides)."""
    if ranks.world == 1:
        return value
    tensor = torch.tensor([float(value)], device=device)
    dist.broadcast(tensor, 0)
    return bool(tensor.item())
