"""Philox4x32-10 engine (ember/backend/philox.py): known answers, stream layout, state, and distributions.

The moment checks are statistical with fixed seeds and 5-sigma bounds; the `cuda` test compares the CuPy
kernel and the CuPy engine with the NumPy reference on a GPU.
"""

import json
import math

import numpy as np
import pytest
from scipy import stats

from ember.backend.philox import PhiloxEngine, philox4x32_10, philox_blocks, philox_blocks_cuda

N = 100_000

# Random123 known-answer vectors for philox4x32-10 (kat_vectors)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def words(seed, offset, n):
    """The reference stream: n uint32 words from block `offset` of `seed`, as Python ints."""
    return [int(w) for w in philox_blocks(np, seed, offset, -(-n // 4)).reshape(-1)[:n]]


# ------------------------------------------------------------------------------------------ block function


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_known_answers(ctr, key, expected):
    out = philox4x32_10(np, np.array(ctr, dtype=np.uint32), np.array(key, dtype=np.uint32))
    assert out.dtype == np.uint32 and out.shape == (4,)
    assert [int(v) for v in out] == list(expected)


def test_block_function_is_vectorised():
    ctrs = np.array([c for c, _, _ in KAT] * 2, dtype=np.uint32).reshape(2, 3, 4)
    out = philox4x32_10(np, ctrs, (0xA4093822, 0x299F31D0))
    assert out.shape == (2, 3, 4)
    for idx in np.ndindex(2, 3):
        assert np.array_equal(out[idx], philox4x32_10(np, ctrs[idx], [0xA4093822, 0x299F31D0]))
    assert [int(v) for v in out[0, 2]] == list(KAT[2][2])


@pytest.mark.parametrize(
    "seed,offset", [(0, 0), (67280421310721, 5), (2**64 - 1, 2**32 - 2), (2**40 + 3, 2**64 - 2)]
)
def test_block_layout_counter_and_key(seed, offset):
    """Block b is philox(ctr=(b lo, b hi, 0, 0), key=(seed lo, seed hi)); the index wraps mod 2**64."""
    blocks = philox_blocks(np, seed, offset, 4)
    key = (seed & 0xFFFFFFFF, seed >> 32)
    for i in range(4):
        b = (offset + i) % 2**64
        ctr = np.array([b & 0xFFFFFFFF, b >> 32, 0, 0], dtype=np.uint32)
        assert np.array_equal(blocks[i], philox4x32_10(np, ctr, key))


def test_engine_stream_is_the_block_sequence():
    e = PhiloxEngine(1234)
    x = e.random(10, dtype=np.float32)  # one word per value, top 24 bits
    assert np.array_equal((x * 2**24).astype(np.int64), np.array(words(1234, 0, 10)) >> 8)
    y = e.random(3, dtype=np.float32)  # the next call starts at block ceil(10 / 4) = 3
    assert np.array_equal((y * 2**24).astype(np.int64), np.array(words(1234, 3, 3)) >> 8)


# -------------------------------------------------------------------------------------------------- state

DRAWS = [
    lambda e: e.random(5),
    lambda e: e.random((2, 3), dtype=np.float32),
    lambda e: e.standard_normal(7),
    lambda e: e.standard_normal(3, dtype=np.float32),
    lambda e: e.integers(0, 10, size=6),
    lambda e: e.integers(-(2**62), 2**62 + 12345, size=3),
    lambda e: e.permutation(9),
    lambda e: e.exponential(2.0, size=4),
    lambda e: e.standard_cauchy(size=4),
    lambda e: e.lognormal(0.0, 1.0, size=4),
    lambda e: e.geometric(0.3, size=4),
    lambda e: e.poisson(3.0, size=4),
    lambda e: e.choice(10, size=4),
    lambda e: e.choice(10, size=4, replace=False, p=np.full(10, 0.1)),
]


def draw_all(e):
    return [np.asarray(d(e)) for d in DRAWS]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_state_round_trip():
    e = PhiloxEngine(7)
    e.random(11)
    state = e.get_state()
    assert state == {"seed": 7, "offset": 6}
    assert json.loads(json.dumps(state)) == state
    first = draw_all(e)
    e.set_state(state)
    assert_same(draw_all(e), first)
    e.set_state(json.dumps(state))  # the JSON string is accepted too
    assert_same(draw_all(e), first)
    other = PhiloxEngine(99)  # a different engine restored to the state continues the same way
    other.set_state(state)
    assert_same(draw_all(other), first)


def test_get_state_does_not_change_the_stream():
    a, b = PhiloxEngine(2024), PhiloxEngine(2024)
    out_a, out_b = [], []
    for d in DRAWS:
        s1 = a.get_state()
        s2 = a.get_state()
        assert s1 == s2
        out_a.append(np.asarray(d(a)))
        out_b.append(np.asarray(d(b)))
    assert_same(out_a, out_b)
    assert a.get_state() == b.get_state()


def test_set_state_errors_and_seed_wrap():
    e = PhiloxEngine(-1)  # seeds are taken mod 2**64
    assert e.get_state() == {"seed": 2**64 - 1, "offset": 0}
    with pytest.raises(ValueError, match="Philox state"):
        e.set_state({"seed": 1})
    e.set_state({"seed": 3, "offset": 2**64 + 5})
    assert e.get_state() == {"seed": 3, "offset": 5}


def test_same_seed_same_numbers_different_seed_different():
    assert_same(draw_all(PhiloxEngine(5)), draw_all(PhiloxEngine(5)))
    assert not np.array_equal(PhiloxEngine(5).random(8), PhiloxEngine(6).random(8))
    assert not np.array_equal(PhiloxEngine(5).random(8), PhiloxEngine(5 + 2**32).random(8))  # high key word


def blocks(words_):
    return -(-words_ // 4)


@pytest.mark.parametrize(
    "draw,consumed",
    [
        (lambda e: e.random(10, dtype=np.float32), blocks(10)),
        (lambda e: e.random(9), blocks(18)),
        (lambda e: e.random(0), 0),
        (lambda e: e.random(), blocks(2)),
        (lambda e: e.standard_normal(5, dtype=np.float32), blocks(6)),
        (lambda e: e.standard_normal(5), blocks(12)),
        (lambda e: e.integers(0, 10, size=7), blocks(14)),
        (lambda e: e.integers(0, 2**20, size=7), blocks(14)),
        (lambda e: e.integers(0, 2**40 + 1, size=7), 7),
        (lambda e: e.integers(5, 6, size=7), 0),
        (lambda e: e.permutation(13), blocks(26)),
        (lambda e: e.exponential(size=(3, 3)), blocks(18)),
        (lambda e: e.standard_cauchy(size=3), blocks(6)),
        (lambda e: e.lognormal(size=4), blocks(8)),
        (lambda e: e.geometric(0.5, size=4), blocks(8)),
        (lambda e: e.poisson(2.0, size=1000), 1),
        (lambda e: e.choice(5, size=1000), 1),
    ],
)
def test_offset_advances_by_blocks_consumed(draw, consumed):
    e = PhiloxEngine(3)
    e.set_state({"seed": 3, "offset": 40})
    draw(e)
    assert e.get_state()["offset"] == 40 + consumed


def test_rejected_host_call_consumes_nothing():
    e = PhiloxEngine(3)
    with pytest.raises(ValueError):
        e.poisson(-1.0)
    with pytest.raises(ValueError):
        e.choice(3, size=5, replace=False)
    assert e.get_state()["offset"] == 0


# ------------------------------------------------------------------------------------------- shapes, lattices


@pytest.mark.parametrize(
    "size,shape", [(None, ()), (0, (0,)), (5, (5,)), ((2, 0), (2, 0)), ((2, 3, 4), (2, 3, 4))]
)
def test_sizes(size, shape):
    e = PhiloxEngine(0)
    for d in (
        lambda: e.random(size),
        lambda: e.random(size, dtype=np.float32),
        lambda: e.standard_normal(size),
        lambda: e.standard_normal(size, dtype="float32"),
        lambda: e.integers(0, 5, size=size),
        lambda: e.exponential(size=size),
        lambda: e.standard_cauchy(size=size),
        lambda: e.lognormal(size=size),
        lambda: e.geometric(0.5, size=size),
        lambda: e.poisson(1.0, size=size),
        lambda: e.choice(4, size=size),
    ):
        out = d()
        assert isinstance(out, np.ndarray) and out.shape == shape


def test_float_dtypes():
    e = PhiloxEngine(0)
    assert e.random(3).dtype == np.float64 and e.random(3, dtype=np.float32).dtype == np.float32
    assert e.standard_normal(3).dtype == np.float64
    assert e.standard_normal(3, dtype=np.float32).dtype == np.float32
    for bad in (np.float16, np.int32):
        with pytest.raises(TypeError, match="Unsupported dtype"):
            e.random(3, dtype=bad)
        with pytest.raises(TypeError, match="Unsupported dtype"):
            e.standard_normal(3, dtype=bad)


@pytest.mark.parametrize("dtype,bits", [(np.float32, 24), (np.float64, 53)])
def test_uniform_lattice_and_range(dtype, bits):
    x = PhiloxEngine(11).random(N, dtype=dtype)
    k = x.astype(np.float64) * 2.0**bits
    assert np.array_equal(k, np.floor(k))
    assert x.min() >= 0 and x.max() < 1
    assert x.min() < 1e-4 and x.max() > 1 - 1e-4


def test_normal_is_finite_and_bounded():
    z32 = PhiloxEngine(1).standard_normal(N, dtype=np.float32)
    z64 = PhiloxEngine(1).standard_normal(N)
    assert np.isfinite(z32).all() and np.isfinite(z64).all()
    assert np.abs(z32).max() <= math.sqrt(2 * 24 * math.log(2)) + 1e-4  # u1 >= 2**-24: no log(0)
    assert np.abs(z64).max() <= math.sqrt(2 * 53 * math.log(2))


# ------------------------------------------------------------------------------------------------- moments


def check_moments(x, mean, var):
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    m, v = x.mean(), x.var()
    m4 = ((x - m) ** 4).mean()
    assert abs(m - mean) < 5 * math.sqrt(var / n), (m, mean)
    assert abs(v - var) < 5 * math.sqrt((m4 - v * v) / n), (v, var)


MOMENTS = {
    "uniform64": (lambda e: e.random(N), 0.5, 1 / 12),
    "uniform32": (lambda e: e.random(N, dtype=np.float32), 0.5, 1 / 12),
    "normal64": (lambda e: e.standard_normal(N), 0.0, 1.0),
    "normal32": (lambda e: e.standard_normal(N, dtype=np.float32), 0.0, 1.0),
    "exponential": (lambda e: e.exponential(2.0, size=N), 2.0, 4.0),
    "lognormal": (
        lambda e: e.lognormal(0.1, 0.5, size=N),
        math.exp(0.1 + 0.125),
        (math.exp(0.25) - 1) * math.exp(0.2 + 0.25),
    ),
    "geometric": (lambda e: e.geometric(0.3, size=N), 1 / 0.3, 0.7 / 0.09),
    "geometric_small_p": (lambda e: e.geometric(0.01, size=N), 100.0, 0.99 / 1e-4),
    "poisson": (lambda e: e.poisson(4.0, size=N), 4.0, 4.0),
    "integers": (lambda e: e.integers(-3, 7, size=N), 1.5, (100 - 1) / 12),
    "integers_huge": (lambda e: e.integers(0, 3 * 2**61, size=N) / 2.0**61, 1.5, 9 / 12),
}


@pytest.mark.parametrize("name", list(MOMENTS))
def test_moments(name):
    draw, mean, var = MOMENTS[name]
    check_moments(draw(PhiloxEngine(list(MOMENTS).index(name) + 100)), mean, var)


def test_cauchy_quartiles():
    x = PhiloxEngine(8).standard_cauchy(size=N)
    assert np.isfinite(x).all()
    frac = np.mean(np.abs(x) < 1)  # the quartiles of the standard Cauchy are -1 and 1
    assert abs(frac - 0.5) < 5 * math.sqrt(0.25 / N)
    assert abs(np.mean(x < 0) - 0.5) < 5 * math.sqrt(0.25 / N)


def test_integers_chi_square_uniformity():
    x = PhiloxEngine(12).integers(0, 10, size=N)
    counts = np.bincount(x, minlength=10)
    assert counts.size == 10
    assert stats.chisquare(counts).pvalue > 1e-6


def test_huge_range_has_no_multiply_bias():
    """r = 3 * 2**61: a plain 64-bit multiply would give residues mod 3 probabilities 3/8, 3/8, 2/8."""
    x = PhiloxEngine(13).integers(0, 3 * 2**61, size=N)
    counts = np.bincount(x % 3, minlength=3)
    assert stats.chisquare(counts).pvalue > 1e-6


# ------------------------------------------------------------------------------------------------ integers


def test_integers_match_the_exact_fixed_point_formula():
    """Small ranges: floor(x * r / 2**64) of 64 bits; powers of two: top bits; large: 128 bits."""
    seed, n = 77, 64
    cases = [
        (-10, 990, np.int64, 2),
        (5, 5 + 2**16, np.int64, 2),
        (-(2**63), 2**63, np.int64, 2),
        (0, 2**64, np.uint64, 2),
        (-(2**62), 2**62 + 7, np.int64, 4),
        (0, 2**40 + 1, np.uint64, 4),
    ]
    for low, high, dtype, per in cases:
        got = PhiloxEngine(seed).integers(low, high, size=n, dtype=dtype)
        assert got.dtype == np.dtype(dtype)
        w = words(seed, 0, per * n)
        r = high - low
        for i in range(n):
            x = 0
            for j in range(per):
                x = (x << 32) | w[per * i + j]
            if r & (r - 1) == 0:
                v = x >> (64 - (r.bit_length() - 1))
            else:
                v = (x * r) >> (32 * per)
            assert int(got[i]) == low + v, (low, high, i)


@pytest.mark.parametrize(
    "low,high,dtype",
    [
        (0, 1, np.int64),
        (-10, -5, np.int64),
        (-(2**63), 2**63 - 1, np.int64),
        (0, 2**64 - 1, np.uint64),
        (-128, 127, np.int8),
        (0, 2**31 - 1, np.int32),
        (-(2**62), 2**62, np.int64),
    ],
)
def test_integers_bounds(low, high, dtype):
    x = PhiloxEngine(4).integers(low, high, size=20_000, dtype=dtype)
    assert x.dtype == np.dtype(dtype)
    vals = x.astype(object)
    assert min(vals) >= low and max(vals) < high
    span = high - low
    assert max(vals) - min(vals) >= (span - 1) * 0.99  # the whole range is reached
    if span <= 255:
        assert len(np.unique(x)) == span


def test_integers_endpoint_bool_and_single_argument():
    e = PhiloxEngine(4)
    x = e.integers(5, size=1000)
    assert x.min() == 0 and x.max() == 4
    y = e.integers(-(2**63), 2**63 - 1, size=1000, endpoint=True)
    assert y.dtype == np.int64 and (y < 0).any() and (y > 0).any()
    z = e.integers(0, 255, size=5000, dtype=np.uint8, endpoint=True)
    assert z.dtype == np.uint8 and z.max() == 255
    b = e.integers(0, 2, size=1000, dtype=bool)
    assert b.dtype == np.bool_ and 300 < b.sum() < 700
    assert e.integers(np.int64(3), 4.0, size=2).tolist() == [3, 3]


@pytest.mark.parametrize(
    "args,kwargs,err,match",
    [
        ((5, 5), {}, ValueError, "low >= high"),
        ((0,), {}, ValueError, "high <= 0"),
        ((0, 2**63 + 1), {}, ValueError, "high is out of bounds"),
        ((-1, 3), {"dtype": np.uint8}, ValueError, "low is out of bounds"),
        ((0, 300), {"dtype": np.uint8}, ValueError, "high is out of bounds"),
        ((0, 3), {"dtype": np.float32}, TypeError, "Unsupported dtype"),
        ((0.5, 3), {}, TypeError, "low must be an integer"),
    ],
)
def test_integers_errors(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        PhiloxEngine(0).integers(*args, **kwargs)


# ------------------------------------------------------------------------------ permutation, choice, params


def test_permutation():
    e = PhiloxEngine(21)
    p = e.permutation(1000)
    assert p.dtype == np.int64 and np.array_equal(np.sort(p), np.arange(1000))
    assert not np.array_equal(p, np.arange(1000))
    assert e.permutation(0).shape == (0,)
    a = np.arange(12).reshape(6, 2)
    q = e.permutation(a)
    assert q.shape == (6, 2) and np.array_equal(q[:, 1], q[:, 0] + 1)
    assert np.array_equal(np.sort(q[:, 0]), a[:, 0])
    with pytest.raises(IndexError):
        e.permutation(np.float64(3.0))


def test_permutation_first_position_is_uniform():
    e = PhiloxEngine(22)
    counts = np.bincount([int(e.permutation(5)[0]) for _ in range(2000)], minlength=5)
    assert counts.sum() == 2000 and stats.chisquare(counts).pvalue > 1e-6


def test_choice():
    e = PhiloxEngine(31)
    x = e.choice(7, size=(50, 4))
    assert x.shape == (50, 4) and x.min() >= 0 and x.max() <= 6
    y = e.choice(100, size=100, replace=False)
    assert np.array_equal(np.sort(y), np.arange(100))
    p = np.array([0.0, 0.25, 0.75, 0.0])
    z = e.choice(4, size=N, p=p)
    assert set(np.unique(z).tolist()) == {1, 2}
    assert abs(np.mean(z == 2) - 0.75) < 5 * math.sqrt(0.75 * 0.25 / N)
    w = e.choice(np.array([10, 20, 30]), size=6, replace=True)
    assert set(w.tolist()) <= {10, 20, 30}
    s = e.choice(np.array([10, 20, 30]))
    assert isinstance(s, np.ndarray) and s.shape == () and int(s) in (10, 20, 30)


def test_poisson_array_lambda():
    lam = np.array([[0.5], [50.0]])
    x = PhiloxEngine(41).poisson(lam, size=(2, 20_000))
    assert x.shape == (2, 20_000) and (x >= 0).all()
    assert abs(x[0].mean() - 0.5) < 5 * math.sqrt(0.5 / 20_000)
    assert abs(x[1].mean() - 50.0) < 5 * math.sqrt(50.0 / 20_000)
    assert PhiloxEngine(41).poisson(np.array([1.0, 2.0, 3.0])).shape == (3,)


def test_geometric_parameters():
    e = PhiloxEngine(51)
    assert np.array_equal(e.geometric(1.0, size=10), np.ones(10, dtype=np.int64))
    x = e.geometric(np.array([0.9, 0.05]), size=(20_000, 2))
    assert x.shape == (20_000, 2) and x.dtype == np.int64 and x.min() >= 1
    assert abs(x[:, 0].mean() - 1 / 0.9) < 5 * math.sqrt(0.1 / 0.81 / 20_000)
    assert abs(x[:, 1].mean() - 20.0) < 5 * math.sqrt(0.95 / 0.0025 / 20_000)
    assert e.geometric(np.array([0.5, 0.25])).shape == (2,)
    for bad in (0.0, 1.5, float("nan"), np.array([0.5, 0.0])):
        with pytest.raises(ValueError, match="p <= 0"):
            e.geometric(bad, size=(3, 2))
    with pytest.raises(ValueError, match="shape mismatch"):
        e.geometric(np.array([0.5, 0.5, 0.5]), size=(4, 2))


def test_parameter_arrays_and_errors():
    e = PhiloxEngine(61)
    scale = np.array([1.0, 10.0])
    x = e.exponential(scale, size=(N // 2, 2))
    assert x.shape == (N // 2, 2) and (x >= 0).all()
    assert abs(x[:, 1].mean() / x[:, 0].mean() - 10.0) < 0.5
    y = e.lognormal(np.array([0.0, 1.0]), 0.0)
    assert np.allclose(y, [1.0, math.e])
    with pytest.raises(ValueError, match="scale < 0"):
        e.exponential(-1.0)
    with pytest.raises(ValueError, match="sigma < 0"):
        e.lognormal(0.0, np.array([1.0, -1.0]))


# ---------------------------------------------------------------------------------------------------- CUDA


@pytest.mark.cuda
def test_cuda_kernel_and_engine_match_numpy_reference():
    """The CuPy kernel gives the NumPy reference's words; the CuPy engine gives the NumPy engine's numbers."""
    import cupy

    for seed, offset, n in [
        (0, 0, 1),
        (67280421310721, 5, 10_001),
        (2**64 - 1, 2**32 - 3, 777),
        (9, 2**64 - 2, 6),
    ]:
        got = philox_blocks_cuda(seed, offset, n)
        assert isinstance(got, cupy.ndarray) and got.dtype == cupy.uint32 and got.shape == (n, 4)
        ref = philox_blocks(np, seed, offset, n)
        assert np.array_equal(got.get(), ref)
        generic = philox_blocks(cupy, seed, offset, n, kernel=False)  # the xp path run on CuPy
        assert np.array_equal(generic.get(), ref)
    for ctr, key, expected in KAT:
        out = philox4x32_10(cupy, cupy.asarray(ctr, dtype=cupy.uint32), key)
        assert [int(v) for v in out.get()] == list(expected)
    assert philox_blocks_cuda(1, 0, 0).shape == (0, 4)

    gpu, cpu = PhiloxEngine(1234, 0, xp=cupy), PhiloxEngine(1234)
    exact = [
        lambda e: e.random(1001, dtype=np.float32),
        lambda e: e.random(999),
        lambda e: e.integers(-7, 1000, size=513),
        lambda e: e.integers(0, 2**64, size=65, dtype=np.uint64),
        lambda e: e.integers(-(2**62), 2**62 + 3, size=129),
        lambda e: e.permutation(4097),
        lambda e: e.geometric(0.25, size=100),
        lambda e: e.poisson(3.0, size=50),
        lambda e: e.choice(10, size=5, replace=False),
    ]
    for d in exact:
        g, c = d(gpu), d(cpu)
        assert isinstance(g, cupy.ndarray) and g.device.id == 0
        assert g.dtype == c.dtype and np.array_equal(g.get(), c)
    close = [
        lambda e: e.standard_normal(1001),
        lambda e: e.standard_normal(1001, dtype=np.float32),
        lambda e: e.exponential(2.0, size=100),
        lambda e: e.lognormal(0.0, 1.0, size=100),
        lambda e: e.standard_cauchy(size=100),
    ]
    for d in close:
        g, c = d(gpu), d(cpu)
        assert g.dtype == c.dtype
        np.testing.assert_allclose(g.get(), c, rtol=1e-5 if c.dtype == np.float32 else 1e-12, atol=1e-6)
    assert gpu.get_state() == cpu.get_state()

    state = gpu.get_state()  # reading the state changes nothing; restoring it replays the same numbers
    a = gpu.random(100, dtype=np.float32)
    gpu.set_state(json.dumps(state))
    assert cupy.array_equal(gpu.random(100, dtype=np.float32), a)
