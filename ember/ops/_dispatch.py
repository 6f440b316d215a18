"""The single dispatch point: every op, in-place op, indexing and factory call passes through ``dispatch``.

It does, in order: mode hooks (tracing, autocast), device checks, torch type promotion, the forward on
backend arrays, output wrapping (views share their base's version counter), and graph recording —
including the in-place rules (leaf checks, version bumps, and CopySlices for writes through a view).
"""

from __future__ import annotations

import threading

import numpy as np

from .. import _dtype as D
from .._device import DEFAULT as _DEFAULT_DEVICE
from .._device import to_device
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import STATE
from ..autograd.node import (
    SavedInput,
    SavedOutput,
    SavedUpcast,
    SavedUpcastOutput,
    accumulate_node,
    edge_of,
)
from ..backend import _BACKENDS, get_backend
from .op import BOOL, FLOAT

_new = object.__new__
_EMPTY: dict = {}
_NO_EDGE = (None, 0)
_HALF = (D.float16, D.bfloat16)
_FROM_NP = D._FROM_NP
_PLAIN = (int, float, bool)  # saved as they are


class _Modes(threading.local):
    stack: list = []

    def __init__(self):
        self.stack = []


MODES = _Modes()


_ACTIVE_MODES = [0]  # modes pushed in any thread: the fast path skips the thread-local read when 0


def push_mode(mode) -> None:
    """Install a dispatch mode: ``mode(op, args, kwargs, inplace)`` sees every op until popped.
    Inside it, calling ``dispatch`` runs the modes below it (or the op itself)."""
    MODES.stack.append(mode)
    _ACTIVE_MODES[0] += 1


def pop_mode():
    mode = MODES.stack.pop()
    _ACTIVE_MODES[0] -= 1
    return mode


def dispatch(op, args: tuple, kwargs: dict = _EMPTY, inplace: bool = False):
    """Run `op` on `args` (Tensors / Python scalars) with static `kwargs`; in place on args[0] if asked."""
    if _ACTIVE_MODES[0]:
        stack = MODES.stack
        if stack:
            mode = stack.pop()
            try:
                return mode(op, args, kwargs, inplace)
            finally:
                stack.append(mode)
    return _run(op, args, kwargs, inplace)


def _op_name(op) -> str:
    return getattr(op, "public_name", None) or op.__name__.lower()


def _device_error(op, devs) -> RuntimeError:
    a, b = devs
    return RuntimeError(
        f"Expected all tensors to be on the same device, but found at least two devices, {a} and {b}! "
        f"(when checking arguments for {_op_name(op)})"
    )


def _run(op, args, kwargs, inplace):
    # -- one pass over the inputs: device, requires_grad, dtypes, arrays
    dev = None
    rg = False
    first_dt = None
    mixed = False  # tensor dtypes differ
    scalar_kind = -1  # highest category of Python scalars taking part: 0 bool, 1 int, 2 float, 3 other
    weak_dev = False  # dev comes only from 0-d CPU tensors, which may join any device (as in torch)
    saw_cpu = False  # a CPU tensor takes part (its array moves to dev below when dev is a GPU)
    fargs = []
    for a in args:
        if isinstance(a, Tensor):
            d = a._device
            if d is not dev:
                if d.type == "cpu":
                    saw_cpu = True
                if dev is None:
                    dev = d
                    weak_dev = d.type == "cpu" and a._data.ndim == 0
                elif d != dev:
                    if weak_dev:
                        dev = d
                        weak_dev = d.type == "cpu" and a._data.ndim == 0
                    elif not (a._data.ndim == 0 and d.type == "cpu") and not op.cross_device:
                        raise _device_error(op, (dev, d))
            elif weak_dev and a._data.ndim:
                weak_dev = False
            if a._requires_grad:
                rg = True
            dt = a._dtype
            if first_dt is None:
                first_dt = dt
            elif dt is not first_dt:
                mixed = True
            fargs.append(a._data)
        else:
            if a is not None:
                ta = type(a)
                k = 2 if ta is float else 1 if ta is int else 0 if ta is bool else 3
                if k > scalar_kind:
                    scalar_kind = k
            fargs.append(a)
    if dev is None:
        dev = to_device(kwargs.get("device")) if "device" in kwargs else _default_device()
    grad_on = STATE.enabled
    rg = rg and grad_on and op.differentiable
    target = args[0] if inplace else None

    # -- type promotion (torch's rules; casts of tensors are differentiable ops)
    promote = op.promote
    common = result_dt = upcast = None
    half_up = False  # half-precision inputs went to forward as float32 (upcast_half)
    if promote:
        if mixed or first_dt is None or scalar_kind == 3:
            common = _promoted(args)
        elif first_dt._cat >= scalar_kind:
            common = first_dt  # scalars of a lower (or equal integral) category never widen a tensor
        else:
            common = _promoted(args)
        if promote == FLOAT and not (common.is_floating_point or common.is_complex):
            common = D._DEFAULT[0]
        if (mixed or first_dt is not common) and not (
            mixed
            and common is D.float32
            and op.mixed_floats
            and not (inplace or kwargs)
            and _small_floats(args)
        ):
            args = tuple(
                _cast(a, common) if isinstance(a, Tensor) and a._dtype is not common else a for a in args
            )
            fargs = [a._data if isinstance(a, Tensor) else a for a in args]
        result_dt = D.bool_ if promote == BOOL else common
        if scalar_kind == 1 and common._cat == 1 and common is not D.int64:
            # torch casts Python ints to the tensor's integer dtype, wrapping out-of-range values
            fargs = [_wrap_int(f, common) if type(f) is int else f for f in fargs]
        up = op.upcast_half
        if up and common in _HALF and promote != BOOL and (up is True or dev.type == "cpu"):
            f32 = D.float32.np
            fargs = [f.astype(f32) if isinstance(a, Tensor) else f for f, a in zip(fargs, args)]
            half_up = True
            if op.saves_upcast_input:
                upcast = fargs
    if inplace:
        _check_inplace(op, target, grad_on, result_dt)

    # -- forward on arrays
    be = _BACKENDS.get(dev.type) or get_backend(dev)
    if rg:
        ctx = _new(op.node_cls)
        ctx.be = be
        ctx.xp = be.xp
        ctx.needs_input_grad = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
    else:
        ctx = be.nograd_ctx
    if dev.type != "cpu":
        if saw_cpu:  # NOTE: skipped otherwise: a generator over the inputs costs ~2 us per CUDA op
            fargs = _move_cpu_scalars(be, fargs, args)
        if kwargs and not op.host_kwargs:
            kwargs = _host_arrays_to_device(be, kwargs)
    if kwargs and op.tensor_attrs:
        kwargs = _arrays_in(kwargs)
    try:
        if inplace and op.forward_inplace is not None:
            out = op.forward_inplace(ctx, target._data, *fargs[1:], **kwargs)
            done_in_place = True
        else:
            out = op.forward(ctx, *fargs, **kwargs)
            done_in_place = False
    except ValueError as e:
        raise _shape_error(op, args, e) from None

    # -- outputs
    ndarray = be.ndarray
    if type(out) is not tuple:
        if type(out) is not ndarray:
            out = be.asarray(out)
        odt = out.dtype
        pre = None  # the float32 result before its rounding to a half-precision output
        if result_dt is None:
            result_dt = _FROM_NP.get(odt) or D.from_numpy_dtype(odt)
        elif odt is not result_dt.np and odt != result_dt.np:
            if half_up:
                pre = out
            out = out.astype(result_dt.np)
        if inplace:
            return _finish_inplace(op, ctx, args, target, out, rg, done_in_place)
        res = _wrap(out, result_dt, dev)
        view = op.is_view
        if view and (view is True or be.is_alias(out, args[0]._data)):
            base = args[0]
            res._base = base._base if base._base is not None else base
            res._vc = base._shared_vc()
        if rg and (result_dt.is_floating_point or result_dt.is_complex):
            _record(ctx, args, (out,), (res,), upcast, pre)
        return res

    outs = tuple(o if type(o) is ndarray else be.asarray(o) for o in out)
    res = tuple(_wrap(o, _FROM_NP.get(o.dtype) or D.from_numpy_dtype(o.dtype), dev) for o in outs)
    if op.is_view:
        base = args[0]
        root = base._base if base._base is not None else base
        vc = base._shared_vc()
        for r in res:
            r._base = root
            r._vc = vc
    if rg:
        diff = tuple(
            r if i not in op.nondiff_outputs and (r._dtype.is_floating_point or r._dtype.is_complex) else None
            for i, r in enumerate(res)
        )
        if any(r is not None for r in diff):
            _record(ctx, args, outs, diff, upcast)
    return res


_SMALL_FLOATS = frozenset((D.float32, D.float16, D.bfloat16))


def _small_floats(args) -> bool:
    """Every operand a tensor of float32, float16 or bfloat16 (what mixed_floats ops read in place)."""
    for a in args:
        if not isinstance(a, Tensor) or a._dtype not in _SMALL_FLOATS:
            return False
    return True


def _record(ctx, args, outs, res, upcast=None, pre=None) -> None:
    """Attach ctx as the grad_fn of the outputs in `res` (None entries carry no gradient). `upcast`: the
    float32 arrays forward saw in place of half-precision inputs (ops with upcast_half), if any; `pre`: the
    float32 result of a single-output op before its rounding to the half-precision output."""
    edges = []
    meta = []
    for a in args:
        if isinstance(a, Tensor):
            gf = a.grad_fn
            if gf is not None:
                edges.append((gf, a._out_nr))
            elif a._requires_grad:
                edges.append((accumulate_node(a), 0))
            else:
                edges.append(_NO_EDGE)
            meta.append((a._data.shape, a._dtype))
        else:
            edges.append(_NO_EDGE)
            meta.append(None)
    ctx.next_functions = tuple(edges)
    ctx._meta = meta
    if ctx._saved:
        ctx._saved = _resolve_saved(ctx, args, outs, res, upcast, pre)
    for i, r in enumerate(res):
        if r is not None:
            r._requires_grad = True
            r.grad_fn = ctx
            r._out_nr = i


def _resolve_saved(ctx, args, outs, res, upcast=None, pre=None) -> tuple:
    """Turn the arrays forward saved into SavedInput / SavedUpcast / SavedOutput / constant entries."""
    entries = []
    nd = ctx.be.ndarray
    for x in ctx._saved:
        if type(x) is not nd:  # arrays are the common case: one check
            if x is None or type(x) in _PLAIN:
                entries.append(x)
                continue
            if not isinstance(x, nd):
                x = ctx.be.asarray(x)  # a NumPy scalar from a 0-d computation
        entry = None
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                if a._data is x:
                    entry = SavedInput(a, a._version)
                    break
                if upcast is not None and upcast[i] is x:  # the float32 upcast of a half input
                    entry = SavedUpcast(a, a._version, x, D.float32)
                    break
        else:
            for k, o in enumerate(outs):
                if o is x and res[k] is not None:
                    r = res[k]
                    entry = SavedOutput(x, r._shared_vc(), r._version, k, r._dtype, r._device)
                    break
        if entry is None and pre is not None and x is pre and res[0] is not None:
            r = res[0]  # the float32 result an upcast op saved: the output, before rounding
            entry = SavedUpcastOutput(x, r._shared_vc(), r._version, 0, r._dtype, r._device, D.float32)
        if entry is None:
            dt = _FROM_NP.get(x.dtype) or D.from_numpy_dtype(x.dtype)
            dev = next(a._device for a in args if isinstance(a, Tensor))
            entry = _wrap(x, dt, dev)
        entries.append(entry)
    return tuple(entries)


# ------------------------------------------------------------------------------------------- in-place


def _check_inplace(op, target, grad_on, result_dt) -> None:
    if not isinstance(target, Tensor):
        raise TypeError(
            f"{_op_name(op)}_(): expected a Tensor to modify in place, got {type(target).__name__}"
        )
    if grad_on:
        if target.grad_fn is None and target._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        b = target._base
        if b is not None and b.grad_fn is None and b._requires_grad:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation."
            )
        if b is not None and target._requires_grad and target.__dict__.get("_multi_output_view"):
            name = target.grad_fn.name() if target.grad_fn is not None else "a multi-output view op"
            raise RuntimeError(
                f"Output {target._out_nr} of {name} is a view and is being modified inplace. This view is the "
                "output of a function that returns multiple views. Such functions do not allow the output views "
                "to be modified inplace. You should replace the inplace operation by an out-of-place one."
            )
    td = target._data
    if td.size > 1 and 0 in td.strides and any(st == 0 and sh > 1 for sh, st in zip(td.shape, td.strides)):
        raise RuntimeError(
            f"{_op_name(op)}_(): unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )
    if result_dt is not None and not D.can_cast(result_dt, target._dtype):
        raise RuntimeError(
            f"{_op_name(op)}_(): result type {D.SCALAR_NAME[result_dt]} can't be cast to the desired output type "
            f"{D.SCALAR_NAME[target._dtype]}"
        )


def _finish_inplace(op, ctx, args, target, out, rg, done_in_place):
    tdata = target._data
    if rg:
        # Saved copies of the target must hold its old value: copy them before the write.
        if ctx._saved:
            ctx._saved = tuple(x.copy() if x is tdata else x for x in ctx._saved)
        old_edge = edge_of(target)
    if not done_in_place:
        if out.shape != tdata.shape:
            raise RuntimeError(
                f"{_op_name(op)}_(): output with shape {list(tdata.shape)} doesn't match the broadcast shape "
                f"{list(out.shape)}"
            )
        try:
            tdata[...] = out
        except ValueError as e:
            if "read-only" in str(e):
                raise RuntimeError(
                    f"{_op_name(op)}_(): unsupported operation: more than one element of the written-to tensor "
                    "refers to a single memory location. Please clone() the tensor before performing the "
                    "operation."
                ) from None
            raise
        out = tdata
    target._bump_version()
    if rg:
        targs = (target,) + tuple(args[1:])
        _record(ctx, targs, (out,), (None,))
        ctx.next_functions = (old_edge or _NO_EDGE,) + ctx.next_functions[1:]
        ctx.needs_input_grad = (old_edge is not None,) + ctx.needs_input_grad[1:]
        if target._base is None:
            target.grad_fn = ctx
            target._out_nr = 0
            target._requires_grad = True
        else:
            from ._copy_slices import rebase_history

            rebase_history(target, ctx)
    return target


# ------------------------------------------------------------------------------------------- helpers


def _shape_error(op, args, e) -> RuntimeError:
    """NumPy's ValueErrors (mostly broadcasting) as torch-style RuntimeErrors naming the op and shapes."""
    from .shape import broadcast_shapes

    shapes = [list(a._data.shape) for a in args if isinstance(a, Tensor)]
    try:
        broadcast_shapes(*shapes)
        msg = str(e)
    except RuntimeError as be:
        msg = str(be)
    return RuntimeError(f"{_op_name(op)}: {msg} (input shapes {shapes})")


def _wrap_int(v: int, dt):
    info = _INT_RANGE.get(dt)
    if info is None:
        info = _INT_RANGE[dt] = (int(np.iinfo(dt.np).min), int(np.iinfo(dt.np).max))
    if info[0] <= v <= info[1]:
        return v
    return np.array(v, dtype=np.int64).astype(dt.np)[()]


_INT_RANGE: dict = {}


def _promoted(args) -> D.dtype:
    dims = []
    zeros = []
    wrapped = []
    for a in args:
        if isinstance(a, Tensor):
            (dims if a._data.ndim else zeros).append(a._dtype)
        elif a is not None:
            wrapped.append(D.scalar_dtype(a))
    return D.result_type_from(tuple(dims), tuple(zeros), tuple(wrapped))


def _cast(t: Tensor, dt) -> Tensor:
    from .convert import to_dtype

    return to_dtype(t, dt)


def _move_cpu_scalars(be, fargs, args):
    return tuple(
        be.asarray(f) if isinstance(a, Tensor) and a._device.type == "cpu" else f for f, a in zip(fargs, args)
    )


def _host_arrays_to_device(be, kwargs: dict) -> dict:
    """Index tables and masks that ops precompute with NumPy travel to the op's device.

    NOTE: runs for every op on a GPU: the common case (numbers, shapes, dtypes) returns after one pass of
    type checks, without building a generator per tuple."""
    out = None
    for k, v in kwargs.items():
        if isinstance(v, tuple):
            for x in v:
                if isinstance(x, np.ndarray):
                    break
            else:
                continue
        elif not isinstance(v, np.ndarray):
            continue
        if out is None:
            out = dict(kwargs)
        out[k] = (
            be.asarray(v)
            if isinstance(v, np.ndarray)
            else tuple(be.asarray(x) if isinstance(x, np.ndarray) else x for x in v)
        )
    return kwargs if out is None else out


def _arrays_in(obj):
    if isinstance(obj, Tensor):
        return obj._data
    if isinstance(obj, dict):
        return {k: _arrays_in(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_arrays_in(v) for v in obj)
    return obj


def _default_device():
    from .._device import CPU

    return _DEFAULT_DEVICE[0] or CPU

