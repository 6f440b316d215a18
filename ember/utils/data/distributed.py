"""DistributedSampler: each of ``num_replicas`` processes reads its own 1/num_replicas of the dataset."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

from .sampler import Sampler, _private_generator


class DistributedSampler(Sampler):
    """Shards (and by default shuffles, per ``seed + epoch``) the indices of ``dataset`` across replicas.

    NOTE: ember has no process-group package; without ``num_replicas``/``rank`` they come from the
    ``WORLD_SIZE``/``RANK`` environment variables (as set by launchers), else torch's RuntimeError."""

    def __init__(
        self,
        dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            if "WORLD_SIZE" not in os.environ:
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = int(os.environ["WORLD_SIZE"])
        if rank is None:
            if "RANK" not in os.environ:
                raise RuntimeError("Requires distributed package to be available")
            rank = int(os.environ["RANK"])
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            from ...ops import randperm

            indices = randperm(
                len(self.dataset), device="cpu", generator=_private_generator(self.seed + self.epoch)
            ).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        indices = indices[self.rank : self.total_size : self.num_replicas]
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which (with ``seed``) picks this pass's shuffled order on every replica."""
        self.epoch = epoch


__all__ = ["DistributedSampler"]
