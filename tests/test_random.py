"""Random sampling against torch: seeding and generators, dtypes/shapes/errors, and distribution moments.

Streams differ from torch's; what must match is everything else. The moment checks are statistical (fixed
seeds, 100k samples, tolerances of several standard errors), never timings.
"""

import math

import numpy as np
import pytest
import torch

import ember
from ember.random import fork_rng
from ember.random import get_rng_state as random_get_rng_state
from ember.random import initial_seed as random_initial_seed
from tests.helpers import assert_close, raises_like

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

N = 100_000


def meta(fn):
    """dtype, shape, requires_grad and leafness of fn(module) agree with torch."""
    t, e = fn(torch), fn(ember)
    assert isinstance(e, ember.Tensor)
    assert str(e.dtype) == str(t.dtype).replace("torch.", "ember."), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    assert e.requires_grad == t.requires_grad
    assert e.is_leaf == t.is_leaf
    return e


# ------------------------------------------------------------------------------------------------ seeding

SAMPLERS = {
    "rand": lambda m, g=None: m.rand(4, 3, generator=g),
    "rand64": lambda m, g=None: m.rand(5, dtype=m.float64, generator=g),
    "rand16": lambda m, g=None: m.rand(5, dtype=m.float16, generator=g),
    "randn": lambda m, g=None: m.randn(2, 5, generator=g),
    "randnbf16": lambda m, g=None: m.randn(7, dtype=m.bfloat16, generator=g),
    "randint": lambda m, g=None: m.randint(0, 1000, (10,), generator=g),
    "randint2": lambda m, g=None: m.randint(1000, (10,), generator=g),
    "randperm": lambda m, g=None: m.randperm(20, generator=g),
    "normal": lambda m, g=None: m.normal(0.0, 2.0, (6,), generator=g),
    "normal_t": lambda m, g=None: m.normal(m.zeros(6), m.ones(6), generator=g),
    "bernoulli": lambda m, g=None: m.bernoulli(m.full((30,), 0.5), generator=g),
    "multinomial": lambda m, g=None: m.multinomial(m.ones(10), 5, generator=g),
    "multinomial_r": lambda m, g=None: m.multinomial(m.ones(2, 10), 8, True, generator=g),
    "uniform_": lambda m, g=None: m.empty(8).uniform_(-2, 3, generator=g),
    "normal_": lambda m, g=None: m.empty(8).normal_(1, 2, generator=g),
    "bernoulli_": lambda m, g=None: m.empty(30).bernoulli_(0.3, generator=g),
    "exponential_": lambda m, g=None: m.empty(8).exponential_(2.0, generator=g),
    "cauchy_": lambda m, g=None: m.empty(8).cauchy_(generator=g),
    "log_normal_": lambda m, g=None: m.empty(8).log_normal_(generator=g),
    "geometric_": lambda m, g=None: m.empty(8).geometric_(0.3, generator=g),
    "random_": lambda m, g=None: m.empty(8, dtype=m.int64).random_(generator=g),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_manual_seed_reproducible(name):
    f = SAMPLERS[name]
    ember.manual_seed(1234)
    a = f(ember)
    ember.manual_seed(1234)
    b = f(ember)
    assert a.tolist() == b.tolist()
    ember.manual_seed(4321)
    c = f(ember)
    ember.manual_seed(4321)
    assert c.tolist() == f(ember).tolist()
    if name not in ("bernoulli", "bernoulli_", "geometric_"):
        assert c.tolist() != a.tolist()


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_generator_argument(name):
    """A Generator gives its own stream and leaves the default one untouched."""
    f = SAMPLERS[name]
    g1 = ember.Generator().manual_seed(7)
    g2 = ember.Generator().manual_seed(7)
    ember.manual_seed(0)
    expected = f(ember).tolist()
    ember.manual_seed(0)
    a = f(ember, g1)
    b = f(ember, g2)
    assert a.tolist() == b.tolist()
    assert f(ember).tolist() == expected


def test_generator_api():
    g = ember.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    assert g.device == "cpu" and isinstance(g.device, ember.device)
    assert ember.Generator("cpu").device == ember.device("cpu")
    state = g.get_state()
    assert isinstance(state, ember.Tensor) and state.dtype is ember.uint8 and state.dim() == 1
    a = ember.rand(5, generator=g)
    g.set_state(state)
    assert ember.rand(5, generator=g).tolist() == a.tolist()
    g2 = ember.Generator()
    g2.set_state(state)
    assert ember.rand(5, generator=g2).tolist() == a.tolist()
    assert g2.initial_seed() == 3
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    before = g.get_state().tolist()
    state.zero_()  # the state handed out is a copy
    assert g.get_state().tolist() == before


@pytest.mark.parametrize(
    "seed,expected", [(0, 0), (5, 5), (-1, 2**64 - 1), (2**63, 2**63), (1.7, 1), ("12", 12), (np.int64(9), 9)]
)
def test_manual_seed_values(seed, expected):
    g = ember.manual_seed(seed)
    assert isinstance(g, ember.Generator) and g is ember.default_generator
    assert ember.initial_seed() == torch.manual_seed(seed).initial_seed() == expected
    assert random_initial_seed() == expected
    assert ember.Generator().manual_seed(seed).initial_seed() == expected


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_manual_seed_overflow(seed):
    raises_like(lambda m: m.manual_seed(seed))
    raises_like(lambda m: m.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "state",
    [
        lambda m: m.zeros(3),
        lambda m: m.zeros(3, dtype=m.uint8),
        lambda m: [1, 2, 3],
        lambda m: m.ones(7, dtype=m.uint8),
    ],
)
def test_set_state_errors(state):
    raises_like(lambda m: m.Generator().set_state(state(m)))
    raises_like(lambda m: m.set_rng_state(state(m)))


def test_rng_state_round_trip():
    ember.manual_seed(11)
    state = ember.get_rng_state()
    assert state.dtype is ember.uint8
    a = ember.randn(10)
    ember.set_rng_state(state)
    assert ember.randn(10).tolist() == a.tolist()
    assert random_get_rng_state().tolist() == ember.get_rng_state().tolist()


def test_fork_rng():
    ember.manual_seed(5)
    with fork_rng():
        inside = ember.rand(4)
        ember.manual_seed(99)
        ember.rand(100)
    after = ember.rand(4)
    assert after.tolist() == inside.tolist()
    with fork_rng(enabled=False):
        ember.rand(1)
    ember.manual_seed(5)
    with fork_rng(devices=[]):
        ember.rand(3)
    x = ember.rand(4)
    ember.manual_seed(5)
    assert ember.rand(4).tolist() == x.tolist()


def test_seed_is_fresh():
    s1 = ember.seed()
    assert ember.initial_seed() == s1
    s2 = ember.seed()
    assert s1 != s2
    ember.manual_seed(0)


# ------------------------------------------------------------------------------------------------ dtypes / shapes


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.rand(2, 3),
        lambda m: m.rand((2, 3)),
        lambda m: m.rand([4]),
        lambda m: m.rand(m.Size([2, 1])),
        lambda m: m.rand(()),
        lambda m: m.rand(0, 3),
        lambda m: m.rand(2, dtype=m.float64),
        lambda m: m.rand(2, dtype=m.float16),
        lambda m: m.rand(2, dtype=m.bfloat16),
        lambda m: m.rand(2, dtype=m.complex64),
        lambda m: m.rand(2, requires_grad=True),
        lambda m: m.randn(3, 2),
        lambda m: m.randn(3, dtype=m.float64, requires_grad=True),
        lambda m: m.randn(3, dtype=m.complex64),
        lambda m: m.randn(2, 2, dtype=m.bfloat16),
        lambda m: m.randint(5, (3,)),
        lambda m: m.randint(2, 5, (3, 2)),
        lambda m: m.randint(0, 5, [3]),
        lambda m: m.randint(0, 5, m.Size([3])),
        lambda m: m.randint(10, size=(3,)),
        lambda m: m.randint(low=2, high=10, size=(3,)),
        lambda m: m.randint(0, 3, (3,), dtype=m.float32),
        lambda m: m.randint(0, 3, (3,), dtype=m.float32, requires_grad=True),
        lambda m: m.randint(0, 2, (3,), dtype=m.bool),
        lambda m: m.randint(-5, 5, (3,), dtype=m.int8),
        lambda m: m.randint(0, 256, (3,), dtype=m.uint8),
        lambda m: m.randint(-(2**63), 2**63 - 1, (3,)),
        lambda m: m.randperm(5),
        lambda m: m.randperm(0),
        lambda m: m.randperm(4, dtype=m.float32),
        lambda m: m.randperm(256, dtype=m.uint8),
        lambda m: m.randperm(4, dtype=m.float64, requires_grad=True),
        lambda m: m.normal(m.zeros(2, 1), m.ones(3)),
        lambda m: m.normal(m.zeros(2, 3), 1.0),
        lambda m: m.normal(0.0, m.ones(2, 3)),
        lambda m: m.normal(m.zeros(()), m.ones(())),
        lambda m: m.normal(0.0, 1.0, (2,)),
        lambda m: m.normal(0.0, 1.0, (2,), dtype=m.float64),
        lambda m: m.normal(0.0, 1.0, size=(2,), requires_grad=True),
        lambda m: m.normal(m.zeros(2, dtype=m.float64), 1.0),
        lambda m: m.normal(m.zeros(2, dtype=m.float64), m.ones(2)),
        lambda m: m.normal(m.zeros(2), m.ones(2, dtype=m.float64)),
        lambda m: m.normal(0, m.ones(2, dtype=m.float16)),
        lambda m: m.normal(m.zeros(2, requires_grad=True), 1.0),
        lambda m: m.normal(0.0, m.ones(2, requires_grad=True)),
        lambda m: m.normal(m.zeros(0), 1.0),
        lambda m: m.bernoulli(m.full((3,), 0.5)),
        lambda m: m.bernoulli(m.full((2, 3), 0.5, dtype=m.float64)),
        lambda m: m.bernoulli(m.full((3,), 0.5, dtype=m.float16)),
        lambda m: m.bernoulli(m.full((3,), 0.5, requires_grad=True)),
        lambda m: m.bernoulli(m.zeros(3), 0.3),
        lambda m: m.bernoulli(m.zeros(3, dtype=m.int64), 0.3),
        lambda m: m.bernoulli(m.zeros(0)),
        lambda m: m.multinomial(m.ones(3), 2),
        lambda m: m.multinomial(m.ones(3), 4, True),
        lambda m: m.multinomial(m.ones(2, 3), 2),
        lambda m: m.multinomial(m.ones(3, dtype=m.float16), 3),
        lambda m: m.multinomial(m.ones(3, dtype=m.float64), 1),
        lambda m: m.multinomial(m.ones(0, 3), 2),
        lambda m: m.multinomial(m.ones(3, requires_grad=True), 2),
        lambda m: m.multinomial(m.tensor([1.0, 0.0, 0.0]), 2),
        lambda m: m.rand_like(m.ones(2, 3)),
        lambda m: m.rand_like(m.ones(2, dtype=m.float16)),
        lambda m: m.rand_like(m.ones(2, requires_grad=True)),
        lambda m: m.rand_like(m.ones(2), requires_grad=True),
        lambda m: m.randn_like(m.ones(2), dtype=m.float64),
        lambda m: m.randn_like(m.ones(3, 2).t()),
        lambda m: m.randint_like(m.ones(2), 10),
        lambda m: m.randint_like(m.ones(2, dtype=m.int32), 3, 10),
        lambda m: m.randint_like(m.ones(2, dtype=m.bool), 2),
        lambda m: m.randint_like(m.ones(2), low=1, high=10),
        lambda m: m.randint_like(m.ones(2, 3), 5, dtype=m.int16),
    ],
)
def test_dtypes_and_shapes(build):
    meta(build)


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.empty(3).uniform_(),
        lambda m: m.empty(3).uniform_(1, 1),
        lambda m: m.empty(3, dtype=m.float16).uniform_(-2, 2),
        lambda m: m.empty(3, dtype=m.float64).normal_(1, 0),
        lambda m: m.empty(2, 3).bernoulli_(0.5),
        lambda m: m.empty(3, dtype=m.int64).bernoulli_(0.5),
        lambda m: m.empty(3, dtype=m.bool).bernoulli_(0.5),
        lambda m: m.empty(2, 3).bernoulli_(m.full((3,), 0.7)),
        lambda m: m.empty(2, 3).bernoulli_(m.full((2, 1), 0.7, dtype=m.float64)),
        lambda m: m.empty(3, dtype=m.int32).bernoulli_(m.full((3,), 0.2)),
        lambda m: m.empty(3).exponential_(),
        lambda m: m.empty(3, dtype=m.bfloat16).exponential_(3),
        lambda m: m.empty(3).cauchy_(),
        lambda m: m.empty(3).log_normal_(),
        lambda m: m.empty(3).geometric_(0.5),
        lambda m: m.empty(3, dtype=m.int64).geometric_(0.5),
        lambda m: m.empty(3).random_(),
        lambda m: m.empty(3).random_(10),
        lambda m: m.empty(3).random_(-5, 5),
        lambda m: m.empty(3, dtype=m.uint8).random_(256),
        lambda m: m.empty(3, dtype=m.bool).random_(),
        lambda m: m.empty(3, dtype=m.int64).random_(to=5),
        lambda m: m.empty(3, dtype=m.int64).random_(3, None),
        lambda m: m.empty(3, dtype=m.float32).random_(0, 2**30),
        lambda m: m.zeros(3, requires_grad=True).clone().uniform_(),
        lambda m: m.zeros(4, 4)[:, 1].normal_(),
    ],
)
def test_inplace_dtypes_and_shapes(build):
    e = meta(build)
    assert e._version > 0 or e.numel() == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.rand(2, dtype=m.int64),
        lambda m: m.rand(2, dtype=m.bool),
        lambda m: m.randn(2, dtype=m.int32),
        lambda m: m.rand(-1),
        lambda m: m.randint(5, 3),
        lambda m: m.randint(5),
        lambda m: m.randint(3, 3, (2,)),
        lambda m: m.randint(3, 2, (2,)),
        lambda m: m.randint(0, 300, (3,), dtype=m.uint8),
        lambda m: m.randint(-1, 3, (3,), dtype=m.uint8),
        lambda m: m.randint(0, 3, (3,), dtype=m.bool),
        lambda m: m.randint(0, 2**40, (3,), dtype=m.int32),
        lambda m: m.randint(5.5, (3,)),
        lambda m: m.randint(0, 5.5, (3,)),
        lambda m: m.randint(0, 5, (3,), requires_grad=True),
        lambda m: m.randperm(-1),
        lambda m: m.randperm(4.0),
        lambda m: m.randperm(300, dtype=m.uint8),
        lambda m: m.randperm(4, dtype=m.bool),
        lambda m: m.randperm(4, requires_grad=True),
        lambda m: m.normal(m.zeros(2, 3), m.ones(3, 2)),
        lambda m: m.normal(m.zeros(2), -1.0),
        lambda m: m.normal(0.0, m.tensor([-1.0])),
        lambda m: m.normal(0.0, -1.0, (2,)),
        lambda m: m.normal(0.0, 1.0),
        lambda m: m.normal(m.zeros(2, dtype=m.int64), 1.0),
        lambda m: m.normal(0.0, 1.0, (2,), dtype=m.int64),
        lambda m: m.bernoulli(m.full((3,), 2.0)),
        lambda m: m.bernoulli(m.full((3,), -0.5)),
        lambda m: m.bernoulli(m.full((3,), float("nan"))),
        lambda m: m.bernoulli(m.ones(3, dtype=m.int64)),
        lambda m: m.bernoulli(m.ones(3, dtype=m.bool)),
        lambda m: m.bernoulli(m.zeros(3), 1.3),
        lambda m: m.multinomial(m.ones(3), 4),
        lambda m: m.multinomial(m.ones(3), 0),
        lambda m: m.multinomial(m.ones(3), -1),
        lambda m: m.multinomial(m.ones(2, 2, 3), 2),
        lambda m: m.multinomial(m.ones(()), 1),
        lambda m: m.multinomial(m.tensor([1.0, -1.0]), 1),
        lambda m: m.multinomial(m.tensor([1.0, float("nan")]), 1),
        lambda m: m.multinomial(m.tensor([1.0, float("inf")]), 1),
        lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1),
        lambda m: m.multinomial(m.tensor([[1.0, 1.0], [0.0, 0.0]]), 1),
        lambda m: m.multinomial(m.ones(3, dtype=m.int64), 2),
        lambda m: m.multinomial(m.ones(2, 0), 2),
        lambda m: m.rand_like(m.ones(2, dtype=m.int64)),
        lambda m: m.randn_like(m.ones(2, dtype=m.int64)),
        lambda m: m.randint_like(m.ones(2), 0),
        lambda m: m.randint_like(m.ones(2), 10, 3),
        lambda m: m.randint_like(m.ones(2, dtype=m.uint8), 300),
    ],
)
def test_errors(build):
    raises_like(build)


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.zeros(3).uniform_(2, 1),
        lambda m: m.zeros(3, dtype=m.int64).uniform_(),
        lambda m: m.zeros(3).uniform_(float("-inf"), 1),
        lambda m: m.zeros(3, dtype=m.float16).uniform_(-1e6, 1e6),
        lambda m: m.zeros(3).normal_(0, -1),
        lambda m: m.zeros(3, dtype=m.int64).normal_(),
        lambda m: m.zeros(3).exponential_(0),
        lambda m: m.zeros(3).exponential_(-1),
        lambda m: m.zeros(3, dtype=m.int64).exponential_(),
        lambda m: m.zeros(3).geometric_(0),
        lambda m: m.zeros(3).geometric_(1),
        lambda m: m.zeros(3).geometric_(1.5),
        lambda m: m.zeros(3, dtype=m.bool).geometric_(0.5),
        lambda m: m.zeros(3).cauchy_(0, -1),
        lambda m: m.zeros(3).cauchy_(0, 0),
        lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
        lambda m: m.zeros(3).log_normal_(0, -1),
        lambda m: m.zeros(3).log_normal_(0, 0),
        lambda m: m.zeros(3, dtype=m.int64).log_normal_(),
        lambda m: m.zeros(3).random_(5, 3),
        lambda m: m.zeros(3).random_(3, 3),
        lambda m: m.zeros(3).random_(-5),
        lambda m: m.zeros(3, dtype=m.uint8).random_(0, 300),
        lambda m: m.zeros(3, dtype=m.uint8).random_(-1, 3),
        lambda m: m.zeros(3, dtype=m.bool).random_(0, 3),
        lambda m: m.zeros(3, dtype=m.float16).random_(0, 2**20),
        lambda m: m.zeros(3).bernoulli_(1.5),
        lambda m: m.zeros(3).bernoulli_(m.full((3,), 1.5)),
        lambda m: m.zeros(3).bernoulli_(m.full((2, 3), 1.0)),
        lambda m: m.zeros(3).bernoulli_(m.ones(3, dtype=m.int64)),
        lambda m: m.zeros(3, requires_grad=True).uniform_(),
        lambda m: m.zeros(3, requires_grad=True).normal_(),
    ],
)
def test_inplace_errors(build):
    raises_like(build)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: x.uniform_(),
        lambda m, x: x.normal_(),
        lambda m, x: x.bernoulli_(0.5),
        lambda m, x: x.exponential_(),
        lambda m, x: x.random_(5),
        lambda m, x: x.zero_(),
    ],
)
def test_inplace_sampling_kills_gradient(fn):
    """Overwriting a non-leaf with samples: its old value gets a zero gradient (and the graph stays valid)."""
    for m in (torch, ember):
        a = m.ones(3, requires_grad=True)
        b = a * 2
        fn(m, b)
        (b * 3).sum().backward()
        assert a.grad.tolist() == [0.0, 0.0, 0.0]


# ------------------------------------------------------------------------------------------------ value ranges


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_rand_lattice_and_range(dtype):
    ember.manual_seed(0)
    x = ember.rand(N, dtype=getattr(ember, dtype)).double().cpu().numpy()
    assert x.min() >= 0.0 and x.max() < 1.0
    digits = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}[dtype]
    scaled = x * 2.0**digits
    np.testing.assert_array_equal(scaled, np.floor(scaled))
    assert len(np.unique(x)) > min(N, 2**digits) // 3


def test_integer_ranges():
    ember.manual_seed(1)
    v = ember.randint(-3, 4, (N,)).cpu().numpy()
    assert v.min() == -3 and v.max() == 3
    assert set(np.unique(ember.randint(0, 2, (1000,), dtype=ember.bool).cpu().numpy())) == {False, True}
    assert ember.randint(0, 256, (N,), dtype=ember.uint8).cpu().numpy().max() == 255
    p = ember.randperm(1000).cpu().numpy()
    assert sorted(p.tolist()) == list(range(1000)) and p.tolist() != list(range(1000))
    u = ember.empty(N, dtype=ember.uint8).random_().cpu().numpy()
    assert u.min() == 0 and u.max() == 255
    f = ember.empty(N).random_(-5, 5).cpu().numpy()
    assert f.min() == -5 and f.max() == 4 and np.all(f == np.round(f))
    i = ember.empty(N, dtype=ember.int64).random_(3, None).cpu().numpy()
    assert i.min() >= 3 and i.max() > 2**62
    b = ember.empty(1000, dtype=ember.bool).random_().cpu().numpy()
    assert set(np.unique(b)) == {False, True}
    g = ember.empty(N, dtype=ember.int32).geometric_(0.5).cpu().numpy()
    assert g.min() == 1 and g.dtype == np.int32


def test_randint_like_ranges():
    ember.manual_seed(2)
    v = ember.randint_like(ember.ones(N), 3, 7).cpu().numpy()
    assert v.min() == 3 and v.max() == 6 and np.all(v == np.round(v))


def test_multinomial_values():
    ember.manual_seed(3)
    probs = ember.tensor([[0.0, 1.0, 3.0, 0.0], [5.0, 0.0, 0.0, 5.0]])
    for _ in range(20):
        s = ember.multinomial(probs, 2)
        assert sorted(s[0].tolist()) == [1, 2] and sorted(s[1].tolist()) == [0, 3]
    s = ember.multinomial(ember.tensor([1.0, 0.0, 0.0]), 3)
    assert s[0].item() == 0 and sorted(s.tolist()) == [0, 1, 2]
    r = ember.multinomial(probs, 50000, replacement=True).cpu().numpy()
    assert set(np.unique(r[0])) == {1, 2} and set(np.unique(r[1])) == {0, 3}
    assert abs((r[0] == 2).mean() - 0.75) < 0.02 and abs((r[1] == 0).mean() - 0.5) < 0.02
    w = ember.tensor([1.0, 2.0, 3.0, 4.0])
    first = np.array([ember.multinomial(w, 4)[0].item() for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 4000, [0.1, 0.2, 0.3, 0.4], atol=0.03)
    for _ in range(10):
        s = ember.multinomial(ember.ones(50), 50).tolist()
        assert sorted(s) == list(range(50))


def test_bernoulli_values():
    ember.manual_seed(4)
    p = ember.tensor([0.0, 1.0, 0.25]).expand(N, 3)
    s = ember.bernoulli(p).cpu().numpy()
    assert np.all(s[:, 0] == 0) and np.all(s[:, 1] == 1)
    assert abs(s[:, 2].mean() - 0.25) < 0.01
    x = ember.empty(N, dtype=ember.int64).bernoulli_(0.7).cpu().numpy()
    assert set(np.unique(x)) == {0, 1} and abs(x.mean() - 0.7) < 0.01
    y = ember.bernoulli(ember.zeros(N), 0.2).cpu().numpy()
    assert abs(y.mean() - 0.2) < 0.01


def test_normal_broadcast_and_grad():
    ember.manual_seed(5)
    mean = ember.tensor([[0.0], [100.0]], requires_grad=True)
    std = ember.tensor([1.0, 2.0, 0.0], requires_grad=True)
    out = ember.normal(mean, std)
    assert out.shape == (2, 3) and out.requires_grad
    assert out[1, 2].item() == 100.0 and out[0, 2].item() == 0.0
    cot = ember.randn(2, 3)
    gm, gs = ember.autograd.grad(out, (mean, std), cot)
    assert_close(gm, torch.tensor(cot.sum(1, keepdim=True).tolist()))
    z = ((out - mean) / ember.tensor([1.0, 2.0, 1.0])).detach()
    np.testing.assert_allclose(gs.cpu().numpy()[:2], (cot * z).sum(0).cpu().numpy()[:2], rtol=1e-5)
    big = ember.normal(ember.full((N,), 3.0), 2.0).cpu().numpy()
    assert abs(big.mean() - 3.0) < 0.03 and abs(big.std() - 2.0) < 0.03


def test_bernoulli_gradient_is_zero():
    for m in (torch, ember):
        p = m.full((3,), 0.5, requires_grad=True)
        m.bernoulli(p).sum().backward()
        assert p.grad.tolist() == [0.0, 0.0, 0.0]


def test_like_layout():
    x = ember.ones(3, 2).t()
    assert ember.rand_like(x).stride() == torch.rand_like(torch.ones(3, 2).t()).stride()
    assert ember.randn_like(x, memory_format=ember.contiguous_format).stride() == (3, 1)


# ------------------------------------------------------------------------------------------------ moments


def _moments(x):
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return x.mean(), x.var()


MOMENTS = [
    ("rand", lambda: ember.rand(N), 0.5, 1 / 12),
    ("rand16", lambda: ember.rand(N, dtype=ember.float16), 0.5, 1 / 12),
    ("randbf16", lambda: ember.rand(N, dtype=ember.bfloat16), 0.5, 1 / 12),
    ("rand64", lambda: ember.rand(N, dtype=ember.float64), 0.5, 1 / 12),
    ("randn", lambda: ember.randn(N), 0.0, 1.0),
    ("randn64", lambda: ember.randn(N, dtype=ember.float64), 0.0, 1.0),
    ("randn16", lambda: ember.randn(N, dtype=ember.float16), 0.0, 1.0),
    ("randnbf16", lambda: ember.randn(N, dtype=ember.bfloat16), 0.0, 1.0),
    ("randint", lambda: ember.randint(0, 10, (N,)), 4.5, 99 / 12),
    ("randint_neg", lambda: ember.randint(-50, 50, (N,)), -0.5, (100**2 - 1) / 12),
    ("normal", lambda: ember.normal(2.0, 3.0, (N,)), 2.0, 9.0),
    ("uniform_", lambda: ember.empty(N).uniform_(-2, 6), 2.0, 64 / 12),
    ("uniform16_", lambda: ember.empty(N, dtype=ember.float16).uniform_(-1, 1), 0.0, 4 / 12),
    ("normal_", lambda: ember.empty(N).normal_(-1, 0.5), -1.0, 0.25),
    ("normal64_", lambda: ember.empty(N, dtype=ember.float64).normal_(10, 2), 10.0, 4.0),
    ("exponential_", lambda: ember.empty(N).exponential_(2.0), 0.5, 0.25),
    ("exponential64_", lambda: ember.empty(N, dtype=ember.float64).exponential_(0.5), 2.0, 4.0),
    (
        "log_normal_",
        lambda: ember.empty(N).log_normal_(0.0, 0.5),
        math.exp(0.125),
        (math.exp(0.25) - 1) * math.exp(0.25),
    ),
    ("geometric_", lambda: ember.empty(N).geometric_(0.25), 4.0, 0.75 / 0.0625),
    ("geometric_int", lambda: ember.empty(N, dtype=ember.int64).geometric_(0.5), 2.0, 2.0),
    ("bernoulli", lambda: ember.bernoulli(ember.full((N,), 0.3)), 0.3, 0.21),
    ("bernoulli_", lambda: ember.empty(N).bernoulli_(0.6), 0.6, 0.24),
    ("random_", lambda: ember.empty(N).random_(0, 100), 49.5, (100**2 - 1) / 12),
    ("rand_like", lambda: ember.rand_like(ember.ones(N, dtype=ember.float64)), 0.5, 1 / 12),
    ("randn_like", lambda: ember.randn_like(ember.ones(N)), 0.0, 1.0),
    ("randint_like", lambda: ember.randint_like(ember.ones(N), 5, 15), 9.5, 99 / 12),
    ("randperm", lambda: ember.randperm(N).float() / N, 0.5, 1 / 12),
]


@pytest.mark.parametrize("name,draw,mean,var", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_moments(name, draw, mean, var):
    ember.manual_seed(sum(map(ord, name)))
    m, v = _moments(draw().cpu().numpy() if not isinstance(draw(), np.ndarray) else draw())
    se_mean = math.sqrt(var / N)
    assert abs(m - mean) < 6 * se_mean + 1e-3 * abs(mean), (m, mean)
    assert abs(v - var) < 0.05 * var, (v, var)


def test_cauchy_quantiles():
    """Cauchy has no moments: check the median and quartiles instead."""
    ember.manual_seed(8)
    x = ember.empty(N).cauchy_(1.0, 2.0).cpu().numpy()
    q = np.quantile(x, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q, [-1.0, 1.0, 3.0], atol=0.08)


def test_randn_complex_moments():
    ember.manual_seed(9)
    z = ember.randn(N, dtype=ember.complex64).cpu().numpy()
    assert abs(z.real.var() - 0.5) < 0.02 and abs(z.imag.var() - 0.5) < 0.02
    assert abs(z.mean()) < 0.02
    u = ember.rand(N, dtype=ember.complex128).cpu().numpy()
    assert 0 <= u.real.min() and u.real.max() < 1 and 0 <= u.imag.min() and u.imag.max() < 1


def test_normal_independent_elements():
    """Tensor mean/std: every element gets its own draw (no accidental sharing across the broadcast)."""
    ember.manual_seed(10)
    x = ember.normal(ember.zeros(N, 2), ember.ones(2)).cpu().numpy()
    assert abs(np.corrcoef(x[:, 0], x[:, 1])[0, 1]) < 0.02


def test_ember_random_module_attribute():
    assert ember.random.fork_rng is fork_rng
