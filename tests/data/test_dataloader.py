"""DataLoader against torch.utils.data.DataLoader: argument validation, len, ordering, batching, collation,
shuffling with a Generator, and real worker processes (sharding, seeding, errors, shutdown, timeout)."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.utils.data as eud
from ember.utils.data import _worker

from . import (
    ShardedRange,
    SquaresDataset,
    UnpicklableBatchDataset,
    WorkerProbeDataset,
    set_tag,
)


def _plain(x):
    """Batches as plain Python structures, tagged with tensor dtypes, to compare ember with torch."""
    if isinstance(x, (torch.Tensor, ember.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


def _no_children(timeout=10.0):
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return multiprocessing.active_children() == []


class _MapDS:
    """Same data for both libraries: sample i is (tensor [i, -i], i, float(i)/2)."""

    def __init__(self, mod, n=10):
        self.mod, self.n = mod, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.mod.tensor([i, -i]), i, i / 2


def _iter_ds(mod, n):
    base = mod.utils.data.IterableDataset

    class It(base):
        def __len__(self):
            return n

        def __iter__(self):
            return iter(range(n))

    return It()


# ----------------------------------------------------------------------------------------- validation

_BAD_ARGS = [
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1),
    dict(persistent_workers=True),
    dict(shuffle=True, sampler=[0, 1]),
    dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_size=None, drop_last=True),
    dict(batch_size=0),
    dict(batch_size=-2),
    dict(drop_last=1),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="no-such-method"),
    dict(num_workers=1, multiprocessing_context=3),
]


@pytest.mark.parametrize("kwargs", _BAD_ARGS, ids=[str(k) for k in _BAD_ARGS])
def test_argument_validation_matches_torch(kwargs):
    errors = []
    for mod in (torch, ember):
        with pytest.raises(Exception) as info:
            mod.utils.data.DataLoader(list(range(10)), **kwargs)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


@pytest.mark.parametrize(
    "kwargs", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])], ids=str
)
def test_iterable_dataset_rejects_samplers_like_torch(kwargs):
    errors = []
    for mod in (torch, ember):
        with pytest.raises(ValueError) as info:
            mod.utils.data.DataLoader(_iter_ds(mod, 4), **kwargs)
        errors.append(str(info.value).split("got")[0])
    assert errors[0] == errors[1]


def test_attributes_frozen_after_init():
    dl = eud.DataLoader(list(range(4)))
    for attr in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset", "persistent_workers"):
        with pytest.raises(
            ValueError, match=f"{attr} attribute should not be set after DataLoader is initialized"
        ):
            setattr(dl, attr, None)
    dl.num_workers = 0  # not frozen in torch either


def test_timeout_without_workers_is_an_assertion_like_torch():
    for mod in (torch, ember):
        with pytest.raises(AssertionError):
            iter(mod.utils.data.DataLoader(list(range(3)), timeout=1))


# -------------------------------------------------------------------------------------- len and order


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(batch_size=3),
        dict(batch_size=3, drop_last=True),
        dict(batch_size=5),
        dict(batch_size=20),
        dict(batch_size=20, drop_last=True),
        dict(batch_size=None),
        dict(batch_size=4, sampler=[9, 1, 4, 4, 0]),
        dict(batch_sampler=[[3, 1], [0], [9, 8, 7]]),
    ],
    ids=str,
)
def test_map_style_batches_and_len_match_torch(kwargs):
    outs = []
    for mod in (torch, ember):
        dl = mod.utils.data.DataLoader(_MapDS(mod), **kwargs)
        outs.append((len(dl), [_plain(b) for b in dl], [_plain(b) for b in dl]))
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    "n,kwargs", [(7, dict(batch_size=3)), (7, dict(batch_size=3, drop_last=True)), (6, dict(batch_size=None))]
)
def test_iterable_batches_and_len_match_torch(n, kwargs):
    outs = []
    for mod in (torch, ember):
        dl = mod.utils.data.DataLoader(_iter_ds(mod, n), **kwargs)
        outs.append((len(dl), [_plain(b) for b in dl]))
    assert outs[0] == outs[1]


def test_iterable_len_warning_when_more_samples_than_reported():
    class Liar(eud.IterableDataset):
        def __len__(self):
            return 2

        def __iter__(self):
            return iter(range(5))

    dl = eud.DataLoader(Liar(), batch_size=None)
    assert len(dl) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        assert list(dl) == [0, 1, 2, 3, 4]


def test_shuffle_reproducible_with_generator():
    ds = list(range(20))

    def epochs(seed, n=2):
        dl = eud.DataLoader(ds, batch_size=6, shuffle=True, generator=ember.Generator().manual_seed(seed))
        return [[b.tolist() for b in dl] for _ in range(n)]

    a, b, c = epochs(7), epochs(7), epochs(8)
    assert a == b
    assert a != c
    assert a[0] != a[1]  # a new permutation each epoch
    for epoch in a:
        assert [len(x) for x in epoch] == [6, 6, 6, 2]
        assert sorted(sum(epoch, [])) == ds


def test_shuffle_follows_manual_seed_without_generator():
    ds = list(range(12))
    ember.manual_seed(3)
    a = [b.tolist() for b in eud.DataLoader(ds, batch_size=4, shuffle=True)]
    ember.manual_seed(3)
    b = [b.tolist() for b in eud.DataLoader(ds, batch_size=4, shuffle=True)]
    assert a == b and sorted(sum(a, [])) == ds


def test_default_collate_and_convert_are_the_defaults():
    dl = eud.DataLoader(list(range(3)), batch_size=2)
    assert dl.collate_fn is eud.default_collate
    assert eud.DataLoader(list(range(3)), batch_size=None).collate_fn is eud.default_convert
    out = list(eud.DataLoader([np.arange(2), np.arange(2) + 5], batch_size=None))
    assert all(isinstance(x, ember.Tensor) and x.dtype == ember.int64 for x in out)


def test_getitems_used_for_batches():
    class Batched(eud.Dataset):
        calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [i * 10 for i in idx]

    ds = Batched()
    assert [b.tolist() for b in eud.DataLoader(ds, batch_size=2)] == [[0, 10], [20, 30], [40]]
    assert ds.calls == [[0, 1], [2, 3], [4]]


def test_pin_memory_without_accelerator_warns_like_torch():
    if ember.cuda.is_available():  # with a GPU there is nothing to warn about
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = list(eud.DataLoader(list(range(3)), batch_size=3, pin_memory=True))
    else:
        with pytest.warns(UserWarning, match="no accelerator is found"):
            out = list(eud.DataLoader(list(range(3)), batch_size=3, pin_memory=True))
    assert out[0].tolist() == [0, 1, 2]


def test_worker_number_warning():
    with pytest.warns(UserWarning, match="This DataLoader will create 999 worker processes in total"):
        eud.DataLoader(list(range(3)), num_workers=999)


# ------------------------------------------------------------------------------------- worker processes


def test_workers_give_the_same_batches_as_the_main_process():
    from ember.utils.data.dataloader import _default_mp_context

    if os.uname().sysname == "Linux":
        assert _default_mp_context().get_start_method() == "fork"

    def run(num_workers):
        g = ember.Generator().manual_seed(11)
        dl = eud.DataLoader(
            SquaresDataset(13), batch_size=3, shuffle=True, num_workers=num_workers, generator=g
        )
        return [b.tolist() for b in dl]

    single, multi = run(0), run(2)
    assert single == multi
    assert sorted(row[0] for b in multi for row in b) == list(range(13))
    assert _no_children()


def test_prefetch_keeps_factor_times_workers_tasks_in_flight():
    dl = eud.DataLoader(SquaresDataset(40), batch_size=2, num_workers=2, prefetch_factor=3)
    it = iter(dl)
    assert it._tasks_outstanding == 6 and it._send_idx == 6
    first = next(it)
    assert first.tolist() == [[0, 0], [1, 1]]
    assert it._tasks_outstanding <= 6
    rest = list(it)
    assert len(rest) == 19 and rest[-1].tolist() == [[38, 38 * 38], [39, 39 * 39]]
    assert _no_children()


@pytest.mark.parametrize(
    "n,batch_size,drop_last", [(10, 2, False), (11, 3, False), (11, 3, True), (7, None, False)]
)
def test_iterable_dataset_sharded_across_workers(n, batch_size, drop_last):
    # torch's order for this sharding (worker w yields w, w+2, ...; batches alternate between workers).
    expected = {
        (10, 2, False): [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]],
        (11, 3, False): [[0, 2, 4], [1, 3, 5], [6, 8, 10], [7, 9]],
        (11, 3, True): [[0, 2, 4], [1, 3, 5], [6, 8, 10]],
        (7, None, False): [0, 1, 2, 3, 4, 5, 6],
    }[(n, batch_size, drop_last)]
    dl = eud.DataLoader(ShardedRange(n), batch_size=batch_size, drop_last=drop_last, num_workers=2)
    as_list = lambda b: b.tolist() if isinstance(b, ember.Tensor) else b  # noqa: E731
    got = [as_list(b) for b in dl]
    assert got == expected
    single = [as_list(b) for b in eud.DataLoader(ShardedRange(n), batch_size=batch_size, drop_last=drop_last)]
    flat = lambda bs: sorted(x for b in bs for x in (b if isinstance(b, list) else [b]))  # noqa: E731
    if not drop_last:
        assert flat(got) == flat(single) == list(range(n))
    assert _no_children()


def test_worker_info_seeds_and_worker_init_fn():
    def run():
        g = ember.Generator().manual_seed(5)
        dl = eud.DataLoader(
            WorkerProbeDataset(8), batch_size=2, num_workers=2, worker_init_fn=set_tag, generator=g
        )
        return [b for b in dl]

    first, second = run(), run()
    base_seed = int(
        ember.empty((), dtype=ember.int64, device="cpu").random_(generator=ember.Generator().manual_seed(5)).item()
    )
    for k, b in enumerate(first):
        w = k % 2
        assert b["worker"].tolist() == [w, w] and b["num_workers"].tolist() == [2, 2]
        assert b["seed"].tolist() == [base_seed + w] * 2
        assert b["tag"] == [f"init{w}"] * 2
    pids = {b["pid"][0].item() for b in first}
    assert len(pids) == 2 and os.getpid() not in pids
    # Same generator seed: every worker's random, NumPy and ember streams repeat exactly.
    for a, b in zip(first, second):
        for key in ("py", "np", "ember", "index"):
            assert a[key].tolist() == b[key].tolist()
    # Different workers draw different numbers.
    assert first[0]["np"].tolist() != first[1]["np"].tolist()
    assert eud.get_worker_info() is None
    assert _no_children()


def test_numpy_worker_seed_matches_torch():
    from torch.utils.data._utils.worker import _generate_state

    for base_seed, wid in [(0, 0), (1, 3), (2**62 + 12345, 1), (987654321987, 7)]:
        assert _worker._generate_state(base_seed, wid) == _generate_state(base_seed, wid)


def test_worker_seeding_matches_torch_for_random_and_numpy():
    _worker._seed_worker(1234, 1)
    e_py, e_np = random.random(), np.random.rand()
    from torch.utils.data._utils.worker import _generate_state

    random.seed(1235)
    np.random.seed(_generate_state(1234, 1))
    assert (e_py, e_np) == (random.random(), np.random.rand())


@pytest.mark.parametrize("key_error", [False, True])
def test_worker_exception_carries_the_worker_traceback(key_error):
    exc = KeyError if key_error else ValueError
    dl = eud.DataLoader(SquaresDataset(8, fail_at=5, key_error=key_error), batch_size=2, num_workers=2)
    with pytest.raises(exc) as info:
        list(dl)
    msg = str(info.value)
    assert msg.startswith(f"Caught {exc.__name__} in DataLoader worker process 0.\nOriginal Traceback")
    assert "tests/data/__init__.py" in msg and "in __getitem__" in msg
    assert "sample 5 is broken" in msg or "missing sample 5" in msg
    del info
    assert _no_children()


def test_worker_exception_does_not_end_the_epoch_like_torch():
    it = iter(eud.DataLoader(SquaresDataset(6, fail_at=2), batch_size=2, num_workers=2))
    assert next(it).tolist() == [[0, 0], [1, 1]]
    with pytest.raises(ValueError, match="worker process 1"):
        next(it)
    assert next(it).tolist() == [[4, 4 * 4], [5, 5 * 5]]
    with pytest.raises(StopIteration):
        next(it)
    assert _no_children()


def test_unpicklable_batch_is_reported_instead_of_hanging():
    dl = eud.DataLoader(UnpicklableBatchDataset(), batch_size=2, num_workers=1, collate_fn=list, timeout=20)
    with pytest.raises(TypeError, match="worker process 0 \\(sending the batch to the main process\\)"):
        next(iter(dl))
    assert _no_children()


def test_early_break_and_del_leave_no_worker_processes():
    dl = eud.DataLoader(SquaresDataset(50), batch_size=2, num_workers=2)
    for _ in dl:
        break
    assert _no_children(timeout=5)
    it = iter(dl)
    next(it)
    assert len(multiprocessing.active_children()) == 2
    del it
    assert _no_children(timeout=5)


def test_timeout_raises():
    dl = eud.DataLoader(SquaresDataset(4, sleep=0.5), batch_size=2, num_workers=1, timeout=0.1)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.1 seconds"):
        next(iter(dl))
    assert _no_children()


def test_dead_worker_is_detected():
    dl = eud.DataLoader(SquaresDataset(6, exit_at=0), batch_size=2, num_workers=1, timeout=1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(dl)
    assert _no_children()


def test_persistent_workers_are_reused_across_epochs():
    g = ember.Generator().manual_seed(0)
    dl = eud.DataLoader(
        WorkerProbeDataset(6), batch_size=2, num_workers=2, persistent_workers=True, shuffle=True, generator=g
    )
    epochs = [list(dl) for _ in range(2)]
    for ep in epochs:
        assert sorted(i for b in ep for i in b["index"].tolist()) == list(range(6))
    assert {b["pid"][0].item() for b in epochs[0]} == {b["pid"][0].item() for b in epochs[1]}
    # An epoch abandoned early does not leak stale batches into the next one.
    it = iter(dl)
    next(it)
    third = list(iter(dl))
    assert sorted(i for b in third for i in b["index"].tolist()) == list(range(6))
    assert len(multiprocessing.active_children()) == 2
    del dl, it
    assert _no_children()


def test_out_of_order_delivery_returns_every_batch():
    dl = eud.DataLoader(SquaresDataset(12), batch_size=2, num_workers=2, in_order=False)
    got = sorted(b[0, 0].item() for b in dl)
    assert got == list(range(0, 12, 2))
    assert _no_children()


def test_spawn_context():
    g = ember.Generator().manual_seed(2)
    kwargs = dict(batch_size=4, shuffle=True, generator=g)
    dl = eud.DataLoader(SquaresDataset(9), num_workers=1, multiprocessing_context="spawn", **kwargs)
    got = [b.tolist() for b in dl]
    g.manual_seed(2)
    assert got == [b.tolist() for b in eud.DataLoader(SquaresDataset(9), **kwargs)]
    assert _no_children()
