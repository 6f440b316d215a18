"""Datasets, samplers and collation against torch.utils.data: orders, lengths, errors, output structure."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
import ember.utils.data as eud


def _errors(fn):
    """Run fn(torch) and fn(ember); return (type, message) of what each raised."""
    out = []
    for mod in (torch, ember):
        with pytest.raises(Exception) as info:
            fn(mod)
        out.append((type(info.value), str(info.value)))
    return out


def _same_error(fn):
    (te, tm), (ee, em) = _errors(fn)
    assert ee is te, (ee, te)
    assert em == tm


def _plain(x):
    if isinstance(x, (torch.Tensor, ember.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, np.ndarray):
        return ("ndarray", x.tolist())
    return (type(x).__name__, x)


class _Range:
    """A map-style dataset usable by both libraries."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __len__(self):
        return self.hi - self.lo

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.lo + i


def _ds(mod, base, lo, hi):
    cls = type("R", (_Range, getattr(mod.utils.data, base)), {})
    return cls(lo, hi)


def _iterable(mod, items):
    class It(mod.utils.data.IterableDataset):
        def __iter__(self):
            return iter(items)

        def __len__(self):
            return len(items)

    return It()


# ------------------------------------------------------------------------------------------ datasets


def test_dataset_base():
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement __getitem__."):
        eud.Dataset()[0]
    cat = _ds(ember, "Dataset", 0, 3) + _ds(ember, "Dataset", 10, 12)
    assert isinstance(cat, eud.ConcatDataset) and [cat[i] for i in range(len(cat))] == [0, 1, 2, 10, 11]
    chain = _iterable(ember, [1, 2]) + _iterable(ember, [3])
    assert isinstance(chain, eud.ChainDataset) and list(chain) == [1, 2, 3] and len(chain) == 3
    assert eud.Dataset[int] is not None  # generic like torch's


def test_tensor_dataset():
    x, y = ember.arange(12).reshape(4, 3), ember.tensor([1, 0, 1, 1])
    ds = eud.TensorDataset(x, y)
    assert len(ds) == 4
    a, b = ds[2]
    assert a.tolist() == [6, 7, 8] and b.item() == 1
    assert [t.tolist() for t in ds[1:3]] == [[[3, 4, 5], [6, 7, 8]], [0, 1]]
    _same_error(lambda m: m.utils.data.TensorDataset(m.zeros(3), m.zeros(4)))


@pytest.mark.parametrize("idx", [0, 2, 3, 7, 8, -1, -3, -9])
def test_concat_dataset_indexing_matches_torch(idx):
    out = []
    for mod in (torch, ember):
        ds = mod.utils.data.ConcatDataset(
            [_ds(mod, "Dataset", 0, 3), _ds(mod, "Dataset", 10, 10), _ds(mod, "Dataset", 20, 26)]
        )
        out.append((len(ds), ds.cumulative_sizes, ds[idx]))
    assert out[0] == out[1]


def test_concat_dataset_errors_match_torch():
    _same_error(lambda m: m.utils.data.ConcatDataset([_ds(m, "Dataset", 0, 3)])[-4])
    _same_error(lambda m: m.utils.data.ConcatDataset([]))
    _same_error(lambda m: m.utils.data.ConcatDataset([_iterable(m, [1])]))
    (te, _), (ee, _) = _errors(lambda m: m.utils.data.ConcatDataset([_ds(m, "Dataset", 0, 3)])[3])
    assert te is ee is IndexError


def test_chain_dataset():
    out = []
    for mod in (torch, ember):
        ds = mod.utils.data.ChainDataset([_iterable(mod, [1, 2]), _iterable(mod, []), _iterable(mod, [3])])
        out.append((list(ds), len(ds)))
    assert out[0] == out[1] == ([1, 2, 3], 3)
    _same_error(lambda m: list(m.utils.data.ChainDataset([_ds(m, "Dataset", 0, 2)])))
    _same_error(lambda m: len(m.utils.data.ChainDataset([_ds(m, "Dataset", 0, 2)])))


def test_subset():
    out = []
    for mod in (torch, ember):
        base = _ds(mod, "Dataset", 100, 110)
        sub = mod.utils.data.Subset(base, [4, 0, 9])
        out.append((len(sub), [sub[i] for i in range(3)], sub[-1], sub.__getitems__([2, 0])))
    assert out[0] == out[1]

    class Bad(eud.Subset):
        def __getitem__(self, i):
            return 0

    with pytest.raises(NotImplementedError, match="Bad overrides __getitem__ but not __getitems__"):
        Bad(_ds(ember, "Dataset", 0, 3), [0])


def test_stack_dataset():
    out = []
    for mod in (torch, ember):
        a, b = _ds(mod, "Dataset", 0, 4), _ds(mod, "Dataset", 10, 14)
        t = mod.utils.data.StackDataset(a, b)
        d = mod.utils.data.StackDataset(x=a, y=b)
        out.append((len(t), t[1], d[2], t.__getitems__([0, 3]), d.__getitems__([1])))
    assert out[0] == out[1]
    _same_error(lambda m: m.utils.data.StackDataset(_ds(m, "Dataset", 0, 2), _ds(m, "Dataset", 0, 3)))
    _same_error(lambda m: m.utils.data.StackDataset(_ds(m, "Dataset", 0, 2), y=_ds(m, "Dataset", 0, 2)))
    _same_error(lambda m: m.utils.data.StackDataset())


@pytest.mark.parametrize(
    "n,lengths",
    [
        (10, [3, 7]),
        (10, [0.3, 0.7]),
        (10, [0.33, 0.33, 0.34]),
        (7, [0.5, 0.5]),
        (11, [0.1, 0.2, 0.3, 0.4]),
        (5, [1.0]),
        (3, [0.5, 0.25, 0.25]),
    ],
)
@pytest.mark.filterwarnings("ignore:Length of split at index")
def test_random_split_lengths_match_torch(n, lengths):
    sizes = []
    for mod in (torch, ember):
        g = mod.Generator().manual_seed(0)
        parts = mod.utils.data.random_split(_ds(mod, "Dataset", 0, n), lengths, generator=g)
        sizes.append([len(p) for p in parts])
        if mod is ember:
            items = [p[i] for p in parts for i in range(len(p))]
            assert sorted(items) == list(range(n))
            again = mod.utils.data.random_split(
                _ds(mod, "Dataset", 0, n), lengths, generator=mod.Generator().manual_seed(0)
            )
            assert [p.indices for p in parts] == [p.indices for p in again]
    assert sizes[0] == sizes[1]


def test_random_split_errors_and_warning():
    _same_error(lambda m: m.utils.data.random_split(_ds(m, "Dataset", 0, 5), [2, 2]))
    _same_error(lambda m: m.utils.data.random_split(_ds(m, "Dataset", 0, 5), [1.2, -0.2]))
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        eud.random_split(_ds(ember, "Dataset", 0, 2), [0.9, 0.1])
    ember.manual_seed(1)
    a = [p.indices for p in eud.random_split(_ds(ember, "Dataset", 0, 9), [4, 5])]
    ember.manual_seed(1)
    assert a == [p.indices for p in eud.random_split(_ds(ember, "Dataset", 0, 9), [4, 5])]


# ------------------------------------------------------------------------------------------ samplers


def test_sequential_sampler():
    assert list(eud.SequentialSampler(range(5))) == list(tud.SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert len(eud.SequentialSampler([1, 2])) == 2
    with pytest.raises(NotImplementedError):
        iter(eud.Sampler())


@pytest.mark.parametrize(
    "kwargs,n",
    [
        (dict(), 10),
        (dict(num_samples=25), 10),
        (dict(num_samples=4), 10),
        (dict(replacement=True), 10),
        (dict(replacement=True, num_samples=70), 5),
    ],
    ids=str,
)
def test_random_sampler(kwargs, n):
    def draw(seed):
        return list(eud.RandomSampler(range(n), generator=ember.Generator().manual_seed(seed), **kwargs))

    a = draw(3)
    t = list(tud.RandomSampler(range(n), generator=torch.Generator().manual_seed(3), **kwargs))
    assert len(a) == len(t) == len(eud.RandomSampler(range(n), **kwargs))
    assert a == draw(3) and a != draw(4)
    assert all(0 <= i < n for i in a)
    if not kwargs.get("replacement"):
        for start in range(0, len(a) - len(a) % n, n):  # each full pass is a permutation, like torch
            assert sorted(a[start : start + n]) == list(range(n))
        assert len(set(a[len(a) - len(a) % n :])) == len(a) % n


def test_random_sampler_without_generator_follows_manual_seed():
    s = eud.RandomSampler(range(20))
    ember.manual_seed(9)
    a = list(s)
    b = list(s)
    ember.manual_seed(9)
    assert list(s) == a and a != b


@pytest.mark.parametrize(
    "kwargs", [dict(replacement=1), dict(num_samples=0), dict(num_samples=-1), dict(num_samples=2.0)], ids=str
)
def test_random_sampler_errors_match_torch(kwargs):
    _same_error(lambda m: m.utils.data.RandomSampler(range(3), **kwargs))


def test_subset_random_sampler():
    idx = [7, 3, 11, 5]
    s = eud.SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(1))
    a = list(s)
    assert sorted(a) == sorted(idx) and len(s) == 4
    assert list(eud.SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(1))) == a


def test_weighted_random_sampler():
    w = [0.0, 1.0, 0.0, 3.0, 2.0]
    s = eud.WeightedRandomSampler(w, 200, generator=ember.Generator().manual_seed(0))
    a = list(s)
    assert len(a) == len(s) == 200 and set(a) <= {1, 3, 4}
    counts = np.bincount(a, minlength=5)
    assert counts[3] > counts[4] > counts[1] > 0
    assert s.weights.dtype == ember.float64
    b = list(eud.WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False))
    assert sorted(b) == [0, 1, 2, 3]
    assert list(eud.WeightedRandomSampler(w, 7, generator=ember.Generator().manual_seed(4))) == list(
        eud.WeightedRandomSampler(w, 7, generator=ember.Generator().manual_seed(4))
    )


@pytest.mark.parametrize(
    "args",
    [([1.0, 2.0], 0), ([1.0, 2.0], True), ([1.0, 2.0], 2.5), ([[1.0, 2.0]], 2), ([1.0, 2.0], 2, "yes")],
    ids=str,
)
def test_weighted_random_sampler_errors_match_torch(args):
    _same_error(lambda m: m.utils.data.WeightedRandomSampler(*args))


@pytest.mark.parametrize(
    "n,bs,drop_last",
    [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (0, 2, False)],
)
def test_batch_sampler_matches_torch(n, bs, drop_last):
    e = eud.BatchSampler(eud.SequentialSampler(range(n)), bs, drop_last)
    t = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(e) == list(t) and len(e) == len(t)


@pytest.mark.parametrize(
    "args", [(0, False), (-1, False), (True, False), (2.0, False), (2, None), (2, 1)], ids=str
)
def test_batch_sampler_errors_match_torch(args):
    _same_error(lambda m: m.utils.data.BatchSampler(range(4), *args))


@pytest.mark.parametrize(
    "n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 4, False), (12, 4, True)]
)
def test_distributed_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    for rank in range(replicas):
        e = eud.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        t = tud.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(e) == list(t) and len(e) == len(t)


def test_distributed_sampler_shuffle_shards_a_permutation():
    shards = [list(eud.DistributedSampler(range(12), 3, r, seed=5)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(12))
    s = eud.DistributedSampler(range(12), 3, 0, seed=5)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first and first == shards[0]
    _same_error(lambda m: m.utils.data.DistributedSampler(range(4), 2, 2))


# ------------------------------------------------------------------------------------------ collation

Point = collections.namedtuple("Point", "x y")


def _samples(mod):
    return {
        "tensors": [mod.tensor([1.0, 2.0]), mod.tensor([3.0, 4.0])],
        "int_tensors": [mod.tensor(1), mod.tensor(2)],
        "ints": [1, 2, 3],
        "floats": [1.5, 2.0],
        "bools": [True, False],
        "strings": ["a", "b"],
        "bytes": [b"a", b"b"],
        "numpy": [np.arange(3, dtype=np.int16), np.arange(3, dtype=np.int16) + 1],
        "numpy_float": [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
        "numpy_scalars": [np.float32(1.5), np.float32(2.5)],
        "numpy_int_scalars": [np.int64(1), np.int64(2)],
        "dicts": [{"a": 1, "b": mod.tensor([1])}, {"a": 2, "b": mod.tensor([2])}],
        "ordered": [collections.OrderedDict(z=1.0, a=2), collections.OrderedDict(z=3.0, a=4)],
        "tuples": [(1, "x", 2.0), (2, "y", 3.0)],
        "lists": [[1, [2.0, 3]], [4, [5.0, 6]]],
        "namedtuple": [Point(1, mod.tensor(2.0)), Point(3, mod.tensor(4.0))],
        "nested": [{"p": Point([1, 2], {"q": 1.0})}, {"p": Point([3, 4], {"q": 2.0})}],
    }


@pytest.mark.parametrize("case", list(_samples(ember)))
def test_default_collate_matches_torch(case):
    t = tud.default_collate(_samples(torch)[case])
    e = eud.default_collate(_samples(ember)[case])
    assert _plain(e) == _plain(t)


@pytest.mark.parametrize("case", list(_samples(ember)))
def test_default_convert_matches_torch(case):
    for sample in zip(_samples(torch)[case], _samples(ember)[case]):
        assert _plain(eud.default_convert(sample[1])) == _plain(tud.default_convert(sample[0]))


def test_default_collate_errors_match_torch():
    _same_error(lambda m: m.utils.data.default_collate([m.zeros(2), m.zeros(3)]))
    _same_error(lambda m: m.utils.data.default_collate([[1, 2], [1]]))
    _same_error(lambda m: m.utils.data.default_collate([object(), object()]))
    _same_error(lambda m: m.utils.data.default_collate([np.array(["a"]), np.array(["b"])]))


def test_default_convert_keeps_string_arrays():
    a = np.array(["x", "y"])
    assert eud.default_convert(a) is a
    assert eud.default_convert("s") == "s"


def test_collate_with_custom_map():
    def collate_ints(batch, *, collate_fn_map=None):
        return sum(batch)

    from ember.utils.data.collate import collate

    assert collate(
        [(1, "a"), (2, "b")], collate_fn_map={int: collate_ints, str: lambda b, **k: "".join(b)}
    ) == [
        3,
        "ab",
    ]
