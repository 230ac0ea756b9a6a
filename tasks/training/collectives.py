"""Which process this is, and the two collectives the training loops need besides DDP's own."""

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
