"""Random sampling: rand, randn, randint, randperm, normal, bernoulli, multinomial and in-place samplers.

Draws come from the device's default ``ember.Generator`` (or the ``generator=`` given). Half precision
samples are drawn in float32 and rounded.
"""

from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._generator import default_generator_for
from .._tensor import Tensor
from ._dispatch import dispatch
from .factory import _dev, _finish, _size_arg
from .op import NONE, Op


def _gen(generator, device):
    return generator if generator is not None else default_generator_for(device)


def _sample_dtype(dt: D.dtype):
    return np.float32 if dt in (D.float16, D.bfloat16, D.float32) else np.float64


class Sample(Op):
    """Draw a tensor from a distribution (no inputs, no gradient)."""

    differentiable = False

    @staticmethod
    def forward(ctx, kind="uniform", shape=(), dtype=None, device=None, generator=None, a=0.0, b=1.0):
        rng = generator._engine
        if kind == "uniform":
            out = rng.random(shape, dtype=_sample_dtype(dtype))
            if a != 0.0 or b != 1.0:
                out = out * (b - a) + a
        elif kind == "normal":
            out = rng.standard_normal(shape, dtype=_sample_dtype(dtype))
            if a != 0.0 or b != 1.0:
                out = out * b + a
        elif kind == "randint":
            out = rng.integers(a, b, size=shape, dtype=np.int64)
        elif kind == "randperm":
            out = rng.permutation(shape[0]).astype(np.int64)
        elif kind == "exponential":
            out = rng.exponential(1.0 / a, size=shape)
        elif kind == "cauchy":
            out = a + b * rng.standard_cauchy(size=shape)
        elif kind == "log_normal":
            out = rng.lognormal(a, b, size=shape)
        elif kind == "geometric":
            out = rng.geometric(a, size=shape)
        else:
            raise ValueError(f"unknown distribution {kind}")
        return ctx.xp.asarray(out).astype(dtype.np, copy=False)


def _sample(kind, shape, dtype, device, generator, requires_grad=False, **params):
    dev = _dev(device)
    t = dispatch(
        Sample,
        (),
        {
            "kind": kind,
            "shape": shape,
            "dtype": dtype,
            "device": dev,
            "generator": _gen(generator, dev),
            **params,
        },
    )
    return _finish(t, requires_grad)


def _float_dtype(dtype, fn):
    dt = D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]
    if not dt.is_floating_point:
        raise RuntimeError(f"\"{fn}\" not implemented for '{D.SCALAR_NAME[dt]}'")
    return dt


def rand(
    *size,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
) -> Tensor:
    """Uniform samples from [0, 1)."""
    return _sample(
        "uniform",
        _size_arg(size, "rand"),
        _float_dtype(dtype, "check_uniform_bounds"),
        device,
        generator,
        requires_grad,
    )


def randn(
    *size,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
) -> Tensor:
    """Standard normal samples."""
    return _sample(
        "normal",
        _size_arg(size, "randn"),
        _float_dtype(dtype, "normal_kernel_cpu"),
        device,
        generator,
        requires_grad,
    )


def randint(
    low=0,
    high=None,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
) -> Tensor:
    """Integers uniform in [low, high). Called as randint(high, size) or randint(low, high, size)."""
    if size is None:
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    return _sample(
        "randint",
        _size_arg((size,), "randint"),
        dt,
        device,
        generator,
        requires_grad,
        a=int(low),
        b=int(high),
    )


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A random permutation of 0..n-1."""
    if n < 0:
        raise RuntimeError(f"randperm(): n must be non-negative, got {n}")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    return _sample("randperm", (int(n),), dt, device, generator, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None, memory_format=None):
    return _sample(
        "uniform",
        input._data.shape,
        D.to_dtype(dtype) if dtype else input._dtype,
        device or input._device,
        generator,
        requires_grad,
    )


def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None, memory_format=None):
    return _sample(
        "normal",
        input._data.shape,
        D.to_dtype(dtype) if dtype else input._dtype,
        device or input._device,
        generator,
        requires_grad,
    )


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    if high is None:
        low, high = 0, low
    return _sample(
        "randint",
        input._data.shape,
        D.to_dtype(dtype) if dtype else input._dtype,
        device or input._device,
        generator,
        requires_grad,
        a=int(low),
        b=int(high),
    )


def normal(
    mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None
):
    """Normal samples: tensor mean and/or std broadcast; with scalars, `size` gives the shape."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        from .shape import broadcast_shapes

        shape = broadcast_shapes(
            mean.shape if isinstance(mean, Tensor) else (), std.shape if isinstance(std, Tensor) else ()
        )
        if isinstance(std, Tensor) and bool((std < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        z = _sample("normal", tuple(shape), ref._dtype, ref._device, generator)
        return z * std + mean
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal(): with scalar mean and std, 'size' is required")
    return _sample(
        "normal",
        _size_arg((size,), "normal"),
        _float_dtype(dtype, "normal"),
        device,
        generator,
        requires_grad,
        a=float(mean),
        b=float(std),
    )


class Bernoulli(Op):
    promote = NONE
    differentiable = False

    @staticmethod
    def forward(ctx, p, generator=None, scalar_p=None):
        u = generator._engine.random(p.shape)
        prob = p if scalar_p is None else scalar_p
        return (u < prob).astype(p.dtype)


def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:
    """Samples 0/1 with probability `input` (or the scalar `p`), in input's dtype."""
    if p is None and (bool((input < 0).any()) or bool((input > 1).any())):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    return dispatch(Bernoulli, (input,), {"generator": _gen(generator, input._device), "scalar_p": p})


class Multinomial(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, probs, num_samples=1, replacement=False, generator=None):
        rng = generator._engine
        p = np.asarray(ctx.be.to_numpy(probs), dtype=np.float64)
        squeeze = p.ndim == 1
        p2 = p.reshape(1, -1) if squeeze else p
        rows = []
        for row in p2:
            w = row / row.sum()
            if replacement:
                rows.append(rng.choice(len(w), size=num_samples, replace=True, p=w))
            else:
                # Gumbel top-k: sampling without replacement proportional to the weights.
                keys = np.where(w > 0, np.log(w) - np.log(-np.log(rng.random(len(w)))), -np.inf)
                rows.append(np.argsort(-keys, kind="stable")[:num_samples])
        out = np.stack(rows).astype(np.int64)
        return ctx.be.from_numpy(out[0] if squeeze else out, None)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None) -> Tensor:
    """Indices sampled from the rows of `input` (unnormalised non-negative weights)."""
    if input.dim() not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {input.dim()}")
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input._dtype}")
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples, got {num_samples}")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if bool((input < 0).any()) or not bool(input.isfinite().all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if bool((input.sum(-1) == 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement:
        nonzero = (input > 0).sum(-1)
        if bool((nonzero < num_samples).any()):
            raise RuntimeError(
                "invalid multinomial distribution (with replacement=False, not enough non-negative "
                "category to sample)"
            )
    return dispatch(
        Multinomial,
        (input,),
        {
            "num_samples": int(num_samples),
            "replacement": bool(replacement),
            "generator": _gen(generator, input._device),
        },
    )


def poisson(input, generator=None) -> Tensor:
    g = _gen(generator, input._device)
    lam = np.asarray(input.detach().cpu().numpy(), dtype=np.float64)
    from .factory import tensor

    return tensor(g._engine.poisson(lam).astype(input._dtype.np), device=input._device)


# ------------------------------------------------------------------------------------------ in place


def _fill_sample_(t: Tensor, kind, generator=None, **params) -> Tensor:
    from .inplace import copy_

    s = _sample(
        kind,
        t._data.shape,
        t._dtype if t._dtype.is_floating_point or kind == "randint" else D.float64,
        t._device,
        generator,
        **params,
    )
    return copy_(t, s)


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _fill_sample_(t, "uniform", generator, a=float(a), b=float(b))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill_sample_(t, "normal", generator, a=float(mean), b=float(std))


def bernoulli_(t: Tensor, p=0.5, *, generator=None) -> Tensor:
    from .factory import full_like
    from .inplace import copy_

    probs = p if isinstance(p, Tensor) else full_like(t, float(p), dtype=D.float64)
    return copy_(t, bernoulli(probs.to(D.float64).expand(t.shape), generator=generator))


def exponential_(t: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    return _fill_sample_(t, "exponential", generator, a=float(lambd))


def cauchy_(t: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    return _fill_sample_(t, "cauchy", generator, a=float(median), b=float(sigma))


def log_normal_(t: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    return _fill_sample_(t, "log_normal", generator, a=float(mean), b=float(std))


def geometric_(t: Tensor, p: float, *, generator=None) -> Tensor:
    return _fill_sample_(t, "geometric", generator, a=float(p))


def random_(t: Tensor, from_=None, to=None, *, generator=None) -> Tensor:
    """Integers in [from, to); random_(to) means [0, to); random_() spans the dtype's exact integers."""
    if from_ is not None and to is None:
        from_, to = 0, from_
    if from_ is None:
        from_ = 0
    if to is None:
        if t._dtype.is_floating_point:
            to = 2 ** {D.float16: 11, D.bfloat16: 8, D.float32: 24}.get(t._dtype, 53) + 1
        else:
            to = D.iinfo(t._dtype).max + 1 if t._dtype is not D.bool_ else 2
    from .inplace import copy_

    s = _sample("randint", t._data.shape, D.int64, t._device, generator, a=int(from_), b=int(to))
    return copy_(t, s)


__all__ = [
    "bernoulli",
    "bernoulli_",
    "cauchy_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "multinomial",
    "normal",
    "normal_",
    "poisson",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "random_",
    "randperm",
    "uniform_",
]
