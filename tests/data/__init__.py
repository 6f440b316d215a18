"""Picklable datasets for the DataLoader worker tests (no torch import, so spawned workers start fast)."""

import os
import random
import threading
import time

import numpy as np

import ember
from ember.utils.data import Dataset, IterableDataset, get_worker_info


class SquaresDataset(Dataset):
    """Sample i is ``tensor([i, i*i])``; ``fail_at`` raises, ``exit_at`` kills the worker, ``sleep`` stalls."""

    def __init__(self, n=10, fail_at=None, exit_at=None, sleep=0.0, key_error=False):
        self.n, self.fail_at, self.exit_at, self.sleep, self.key_error = n, fail_at, exit_at, sleep, key_error

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.sleep:
            time.sleep(self.sleep)
        if i == self.exit_at and get_worker_info() is not None:
            os._exit(3)
        if i == self.fail_at:
            if self.key_error:
                raise KeyError(f"missing sample {i}")
            raise ValueError(f"sample {i} is broken")
        return ember.tensor([i, i * i])


class WorkerProbeDataset(Dataset):
    """Each sample reports who produced it and the state of the worker's random generators."""

    def __init__(self, n=8):
        self.n = n
        self.tag = "main"

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "index": i,
            "worker": -1 if info is None else info.id,
            "num_workers": -1 if info is None else info.num_workers,
            "seed": -1 if info is None else info.seed,
            "pid": os.getpid(),
            "tag": self.tag if info is None else info.dataset.tag,
            "py": random.random(),
            "np": float(np.random.rand()),
            "ember": ember.rand(()).item(),
        }


class ShardedRange(IterableDataset):
    """range(n), split across workers by stride via get_worker_info (torch's documented pattern)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = get_worker_info()
        lo, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(lo, self.n, step))


class UnpicklableBatchDataset(Dataset):
    """Samples hold a lock, so a worker cannot send the batch back to the main process."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return threading.Lock()


def set_tag(worker_id):
    """worker_init_fn: mark the worker's dataset copy."""
    get_worker_info().dataset.tag = f"init{worker_id}"
