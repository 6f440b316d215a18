"""Random sampling: rand, randn, randint, randperm, normal, bernoulli, multinomial and in-place samplers.

Draws come from the device's default ``ember.Generator`` (or the ``generator=`` given). Streams differ from
torch's; dtypes, shapes, value lattices (e.g. rand in float16 gives multiples of 2**-11, never 1.0),
argument checks and errors follow torch.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from .._generator import Generator, default_generator_for
from .._size import Size
from .._tensor import Tensor
from ._dispatch import dispatch
from .factory import _checked, _dev, _finish, _like, _size_arg
from .op import NONE, Op

_DIGITS = {D.float16: 11, D.bfloat16: 8, D.float32: 24, D.float64: 53}
# caffe2::TypeMeta names torch prints in range errors
_TYPE_NAME = {
    D.bool_: "bool",
    D.uint8: "unsigned char",
    D.int8: "signed char",
    D.int16: "short int",
    D.int32: "int",
    D.int64: "long int",
    D.float16: "c10::Half",
    D.bfloat16: "c10::BFloat16",
    D.float32: "float",
    D.float64: "double",
}


def _gen(generator, device) -> Generator:
    if generator is None:
        return default_generator_for(device)
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a Generator, got {type(generator).__name__}")
    dev = device if hasattr(device, "type") else None
    if dev is not None and generator.device.type != dev.type:
        raise RuntimeError(
            f"Expected a '{dev.type}' device type for generator but found '{generator.device.type}'"
        )
    return generator


def _uniform01(rng, n: int, dtype: D.dtype):
    """n uniform samples in [0, 1) on torch's lattice for `dtype` (multiples of 2**-digits)."""
    if dtype is D.float64 or dtype is D.complex128:
        return rng.random(n)
    if dtype in (D.float16, D.bfloat16):
        d = _DIGITS[dtype]
        return (rng.integers(0, 2**d, size=n, dtype=np.int64) * (2.0**-d)).astype(np.float32)
    return rng.random(n, dtype=np.float32)


def _normal01(rng, n: int, dtype: D.dtype):
    if dtype is D.float64 or dtype is D.complex128:
        return rng.standard_normal(n)
    return rng.standard_normal(n, dtype=np.float32)


class Sample(Op):
    """Draw a tensor from a distribution (no inputs, no gradient)."""

    differentiable = False

    @staticmethod
    def forward(
        ctx, kind="uniform", shape=(), dtype=None, device=None, generator=None, a=0.0, b=1.0, strides=None
    ):
        rng = generator._engine
        n = math.prod(shape)
        if kind == "uniform":
            out = _uniform01(rng, n, dtype)
            if dtype.is_complex:
                out = out + 1j * _uniform01(rng, n, dtype)
            if a != 0.0 or b != 1.0:
                out = out * (b - a) + a
        elif kind == "normal":
            out = _normal01(rng, n, dtype)
            if dtype.is_complex:  # each part has variance 1/2, as torch's complex randn
                out = (out + 1j * _normal01(rng, n, dtype)) * np.sqrt(0.5)
            if a != 0.0 or b != 1.0:
                out = out * b + a
        elif kind == "randint":
            out = rng.integers(a, b, size=n, dtype=np.int64)
        elif kind == "randperm":
            out = rng.permutation(n).astype(np.int64)
        elif kind == "exponential":
            out = rng.exponential(1.0 / a, size=n)
        elif kind == "cauchy":
            out = a + b * rng.standard_cauchy(size=n)
        elif kind == "log_normal":
            out = rng.lognormal(a, b, size=n)
        elif kind == "geometric":
            out = rng.geometric(a, size=n)
        else:
            raise ValueError(f"unknown distribution {kind}")
        out = ctx.xp.asarray(out).astype(dtype.np, copy=False).reshape(shape)
        if strides is not None:
            res = ctx.be.empty_strided(shape, strides, dtype.np)
            res[...] = out
            out = res
        return out


def _sample(kind, shape, dtype, device, generator, requires_grad=False, strides=None, **params):
    dev = _dev(device)
    kw = {
        "kind": kind,
        "shape": tuple(shape),
        "dtype": dtype,
        "device": dev,
        "generator": _gen(generator, dev),
    }
    if strides is not None:
        kw["strides"] = strides
    kw.update(params)
    return _finish(dispatch(Sample, (), kw), requires_grad)


def _not_implemented(kernel: str, dt: D.dtype):
    return NotImplementedError(f"\"{kernel}\" not implemented for '{D.SCALAR_NAME[dt]}'")


def _float_dtype(dt: D.dtype, kernel: str, complex_ok: bool = True) -> D.dtype:
    if not (dt.is_floating_point or (complex_ok and dt.is_complex)):
        raise _not_implemented(kernel, dt)
    return dt


def _default_or(dtype) -> D.dtype:
    return D.to_dtype(dtype) if dtype is not None else D._DEFAULT[0]


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
    dt = _float_dtype(_default_or(dtype), "check_uniform_bounds")
    return _sample("uniform", _size_arg(size, "rand"), dt, device, generator, requires_grad)


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
    dt = _float_dtype(_default_or(dtype), "normal_kernel_cpu")
    return _sample("normal", _size_arg(size, "randn"), dt, device, generator, requires_grad)


def _check_from_to(lo: int, to_inc: int, dt: D.dtype) -> None:
    """torch's check_from_to_in_range: both ends must be representable in the dtype."""
    if dt.is_floating_point:
        f = D.finfo(dt)
        lim_lo, lim_hi = f.min, f.max
    elif dt is D.bool_:
        lim_lo, lim_hi = 0, 1
    else:
        i = np.iinfo(dt.np)
        lim_lo, lim_hi = int(i.min), int(i.max)
    for v, name in ((lo, "from"), (to_inc, "to - 1")):
        if not lim_lo <= v <= lim_hi:
            raise RuntimeError(f"{name} is out of bounds for {_TYPE_NAME[dt]}")


def _int_arg(v, fn: str, name: str, pos: int) -> int:
    if isinstance(v, Tensor) and v._data.ndim == 0 and not v._dtype.is_floating_point:
        v = v.item()
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")
    return int(v)


def _check_low_high(low: int, high: int) -> None:
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")


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
        if high is None or isinstance(high, (int, np.integer)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if not isinstance(size, (tuple, list, Size)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    low, high = _int_arg(low, "randint", "low", 1), _int_arg(high, "randint", "high", 2)
    _check_low_high(low, high)
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    _check_from_to(low, high - 1, dt)
    shape = _size_arg((size,), "randint")
    return _sample("randint", shape, dt, device, generator, requires_grad, a=low, b=high)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A random permutation of 0..n-1."""
    n = _int_arg(n, "randperm", "n", 1)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt = D.to_dtype(dtype) if dtype is not None else D.int64
    if dt is D.bool_ or dt.is_complex:
        raise _not_implemented("randperm", dt)
    if n > 0:
        _checked(n - 1, dt)
    return _sample("randperm", (n,), dt, device, generator, requires_grad)


def _like_sample(kind, input, dtype, device, requires_grad, generator, memory_format, kernel=None, **params):
    kw = _like(f"{kind}_like", input, dtype, device, memory_format)
    if kernel is not None:
        _float_dtype(kw["dtype"], kernel)
    return _sample(
        kind, kw["shape"], kw["dtype"], kw["device"], generator, requires_grad, kw.get("strides"), **params
    )


def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None, memory_format=None):
    """Uniform [0, 1) samples shaped (and laid out) like `input`."""
    return _like_sample(
        "uniform", input, dtype, device, requires_grad, generator, memory_format, "check_uniform_bounds"
    )


def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None, memory_format=None):
    """Standard normal samples shaped (and laid out) like `input`."""
    return _like_sample(
        "normal", input, dtype, device, requires_grad, generator, memory_format, "normal_kernel_cpu"
    )


def randint_like(
    input,
    low=0,
    high=None,
    *,
    dtype=None,
    device=None,
    requires_grad=False,
    generator=None,
    memory_format=None,
):
    """Integers in [low, high) shaped like `input`; randint_like(input, high) means [0, high)."""
    if high is None:
        low, high = 0, low
    low, high = _int_arg(low, "randint_like", "low", 2), _int_arg(high, "randint_like", "high", 3)
    _check_low_high(low, high)
    dt = D.to_dtype(dtype) if dtype is not None else input._dtype
    _check_from_to(low, high - 1, dt)
    return _like_sample("randint", input, dt, device, requires_grad, generator, memory_format, a=low, b=high)


def normal(
    mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None
):
    """Normal samples: tensor mean and/or std broadcast (output in mean's dtype); scalars need `size`."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        for t in (mean, std):
            if isinstance(t, Tensor) and not (t._dtype.is_floating_point or t._dtype.is_complex):
                raise _not_implemented("normal_kernel_cpu", t._dtype)
        from .shape import broadcast_shapes

        shape = broadcast_shapes(
            mean.shape if isinstance(mean, Tensor) else (), std.shape if isinstance(std, Tensor) else ()
        )
        if isinstance(std, Tensor):
            if std.numel() and bool((std.detach() < 0).any()):
                raise RuntimeError("normal expects all elements of std >= 0.0")
        elif std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        z = _sample("normal", tuple(shape), ref._dtype, ref._device, generator)
        res = z * std + mean
        return res if res._dtype is ref._dtype else res.to(ref._dtype)
    if size is None:
        raise TypeError("normal(): with scalar mean and std, 'size' is required")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    dt = _float_dtype(_default_or(dtype), "normal_kernel_cpu")
    return _sample(
        "normal",
        _size_arg((size,), "normal"),
        dt,
        device,
        generator,
        requires_grad,
        a=float(mean),
        b=float(std),
    )


class Bernoulli(Op):
    """Samples 0/1 with probability p; the gradient with respect to p is zero (as in torch)."""

    promote = NONE

    @staticmethod
    def forward(ctx, p, generator=None, scalar_p=None):
        u = generator._engine.random(p.shape)
        prob = p if scalar_p is None else scalar_p
        return ctx.xp.asarray(u < prob).astype(p.dtype)

    @staticmethod
    def backward(ctx, g):
        from .factory import zeros_like

        return zeros_like(g)


def _check_p(p, fn: str) -> None:
    if not 0 <= p <= 1:
        raise RuntimeError(f"{fn} expects p to be in [0, 1], but got p={p:g}")


def _check_p_tensor(p: Tensor, kernel: str) -> None:
    if not p._dtype.is_floating_point:
        raise _not_implemented(kernel, p._dtype)
    if p.numel() and not bool(((p.detach() >= 0) & (p.detach() <= 1)).all()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")


def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:
    """Samples 0/1 with probability `input` (or the scalar `p`), in input's dtype."""
    if p is None:
        _check_p_tensor(input, "bernoulli_tensor_cpu_p_")
        return dispatch(Bernoulli, (input,), {"generator": _gen(generator, input._device)})
    _check_p(p, "bernoulli_")
    return dispatch(
        Bernoulli, (input.detach(),), {"generator": _gen(generator, input._device), "scalar_p": float(p)}
    )


class Multinomial(Op):
    differentiable = False

    @staticmethod
    def forward(ctx, probs, num_samples=1, replacement=False, generator=None):
        rng = generator._engine
        if ctx.xp.__name__ != "numpy":
            return Multinomial._on_device(ctx.xp, rng, probs, num_samples, replacement)
        p = np.asarray(ctx.be.to_numpy(probs), dtype=np.float64)
        squeeze = p.ndim == 1
        p2 = p.reshape(1, -1) if squeeze else p
        out = np.empty((p2.shape[0], num_samples), dtype=np.int64)
        for r, row in enumerate(p2):
            w = row / row.sum()
            if replacement:
                out[r] = rng.choice(len(w), size=num_samples, replace=True, p=w)
            else:
                # Gumbel top-k: sampling without replacement proportional to the weights; zero-weight
                # categories come last (torch also returns them once the others are used up).
                with np.errstate(divide="ignore"):
                    keys = np.where(w > 0, np.log(w) - np.log(-np.log(rng.random(len(w)))), -np.inf)
                out[r] = np.argsort(-keys, kind="stable")[:num_samples]
        return ctx.be.from_numpy(out[0] if squeeze else out, None)

    @staticmethod
    def _on_device(xp, rng, probs, num_samples, replacement):
        """All rows at once on the GPU: inverse-CDF draws with replacement, Gumbel top-k without."""
        p = probs.astype(xp.float64)
        squeeze = p.ndim == 1
        p2 = p.reshape(1, -1) if squeeze else p
        w = p2 / p2.sum(-1, keepdims=True)
        if replacement:
            cdf = xp.cumsum(w, -1)
            u = rng.random((p2.shape[0], num_samples))
            out = (u[:, :, None] >= cdf[:, None, :]).sum(-1)
            out = xp.minimum(out, p2.shape[1] - 1)
        else:
            u = rng.random(p2.shape)
            keys = xp.where(w > 0, xp.log(w) - xp.log(-xp.log(u)), -xp.inf)
            out = xp.argsort(-keys, axis=-1)[:, :num_samples]
        out = out.astype(xp.int64)
        return out[0] if squeeze else out


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None) -> Tensor:
    """Indices sampled from the rows of `input` (unnormalised non-negative weights)."""
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input._dtype.is_floating_point:
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {D.SCALAR_NAME[input._dtype]}"
        )
    num_samples = _int_arg(num_samples, "multinomial", "num_samples", 2)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    x = input.detach()
    if x.numel():
        if bool((x < 0).any()) or not bool(x.isfinite().all()):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if bool((x.sum(-1) <= 0).any()):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    return dispatch(
        Multinomial,
        (x,),
        {
            "num_samples": num_samples,
            "replacement": bool(replacement),
            "generator": _gen(generator, x._device),
        },
    )


def poisson(input, generator=None) -> Tensor:
    """Poisson samples with rates `input` (in input's dtype)."""
    g = _gen(generator, input._device)
    lam = np.asarray(input.detach().cpu().numpy(), dtype=np.float64)
    from .factory import tensor

    return tensor(g._engine.poisson(lam).astype(input._dtype.np), device=input._device)


# ------------------------------------------------------------------------------------------ in place


def _fill_sample_(t: Tensor, kind, generator=None, **params) -> Tensor:
    from .inplace import copy_

    dt = t._dtype if t._dtype.is_floating_point or t._dtype.is_complex else D.int64
    return copy_(t, _sample(kind, t._data.shape, dt, t._device, generator, **params))


def _check_float_bounds(v, name: str, dt: D.dtype) -> None:
    if dt.is_floating_point:
        f = D.finfo(dt)
        if not f.min <= v <= f.max:
            raise RuntimeError(f"{name} is out of bounds for {_TYPE_NAME[dt]}")


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with uniform samples from [a, b)."""
    _float_dtype(t._dtype, "check_uniform_bounds")
    _check_float_bounds(a, "from", t._dtype)
    _check_float_bounds(b, "to", t._dtype)
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a:g} > to={b:g}")
    return _fill_sample_(t, "uniform", generator, a=float(a), b=float(b))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with normal samples."""
    _float_dtype(t._dtype, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    return _fill_sample_(t, "normal", generator, a=float(mean), b=float(std))


def bernoulli_(t: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1 samples of probability `p` (a number, or a tensor broadcastable to `t`)."""
    from .inplace import copy_

    if isinstance(p, Tensor):
        _check_p_tensor(p, "bernoulli_tensor_cpu_p_")
        probs = p.detach().to(D.float64).expand(t.shape)
        return copy_(t, bernoulli(probs, generator=generator))
    _check_p(p, "bernoulli_")
    from .factory import zeros

    s = bernoulli(zeros(t.shape, dtype=D.float64, device=t._device), float(p), generator=generator)
    return copy_(t, s)


def _continuous_only(t: Tensor, what: str) -> None:
    if not t._dtype.is_floating_point:
        raise RuntimeError(
            f"{what} distribution is a continuous probability distribution. dtype must be a floating point but "
            f"you specified {D.SCALAR_NAME[t._dtype]}"
        )


def exponential_(t: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with exponential samples of rate `lambd`."""
    _continuous_only(t, "Exponential")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    return _fill_sample_(t, "exponential", generator, a=float(lambd))


def cauchy_(t: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Fill with Cauchy samples."""
    _continuous_only(t, "Cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    return _fill_sample_(t, "cauchy", generator, a=float(median), b=float(sigma))


def log_normal_(t: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """Fill with samples whose logarithm is normal(mean, std)."""
    _float_dtype(t._dtype, "log_normal_cpu", complex_ok=False)
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    return _fill_sample_(t, "log_normal", generator, a=float(mean), b=float(std))


def geometric_(t: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success (values >= 1)."""
    if t._dtype is D.bool_ or t._dtype.is_complex:
        raise _not_implemented("geometric_cpu", t._dtype)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    return _fill_sample_(t, "geometric", generator, a=float(p))


_NO = object()


def random_(t: Tensor, *args, generator=None, **kwargs) -> Tensor:
    """random_(to) samples [0, to); random_(from, to) [from, to); random_(from, None) [from, max];
    random_() [0, max] where max is the dtype's largest integer (2**mantissa for floats)."""
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments ({len(args)} given)")
    lo = kwargs.pop("from", kwargs.pop("from_", _NO))
    hi = kwargs.pop("to", _NO)
    if kwargs:
        raise TypeError(f"random_() got unexpected keyword arguments {sorted(kwargs)}")
    if len(args) == 1 and lo is _NO and hi is _NO:
        hi = args[0]
    elif args:
        lo = args[0]
        if len(args) == 2:
            hi = args[1]
    dt = t._dtype
    if dt.is_complex:
        raise _not_implemented("random_from_to_cpu", dt)
    top = 2 ** _DIGITS[dt] if dt.is_floating_point else (1 if dt is D.bool_ else int(np.iinfo(dt.np).max))
    lo = 0 if lo is _NO or lo is None else _int_arg(lo, "random_", "from", 1)
    if hi is _NO or hi is None:
        to_inc = top
        _check_low_high(lo, top + 1)
    else:
        hi = _int_arg(hi, "random_", "to", 2)
        _check_low_high(lo, hi)
        to_inc = hi - 1
    _check_from_to(lo, to_inc, dt)
    s = _sample("randint", t._data.shape, D.int64, t._device, generator, a=lo, b=to_inc + 1)
    from .inplace import copy_

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
