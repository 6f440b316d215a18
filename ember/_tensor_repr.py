"""Tensor printing in torch's format: ``tensor([1.0000, 2.5000], requires_grad=True)``.

The formatting rules (precision 4, integer mode, scientific mode when max/min > 1000 or values beyond
1e8 / below 1e-4, summarisation past 1000 elements with 3 edge items, 80-column lines) follow torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from . import _dtype as D


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


OPTS = _PrintOptions()


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Like torch.set_printoptions (profiles 'default', 'short', 'full')."""
    if profile == "default":
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = 4, math.inf, 3, 80
    if precision is not None:
        OPTS.precision = precision
    if threshold is not None:
        OPTS.threshold = threshold
    if edgeitems is not None:
        OPTS.edgeitems = edgeitems
    if linewidth is not None:
        OPTS.linewidth = linewidth
    OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    return dataclasses.asdict(OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = OPTS.precision
        if not floating:
            for v in values.reshape(-1).tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = values.reshape(-1).astype(np.float64)
        finite = vals[np.isfinite(vals) & (vals != 0)]
        if finite.size == 0:
            return
        absv = np.abs(finite)
        vmin, vmax = float(absv.min()), float(absv.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        self.sci_mode = (
            (vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4)
            if OPTS.sci_mode is None
            else OPTS.sci_mode
        )
        for v in finite.tolist():
            if self.sci_mode:
                w = len(f"{v:.{p}e}")
            elif self.int_mode:
                w = len(f"{v:.0f}") + 1
            else:
                w = len(f"{v:.{p}f}")
            self.max_width = max(self.max_width, w)

    def format(self, v) -> str:
        p = OPTS.precision
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{p}f}"
        else:
            s = str(v)
        return (self.max_width - len(s)) * " " + s


def _summarized(a: np.ndarray) -> np.ndarray:
    """The values the formatter sees when printing is summarised (torch's get_summarized_data)."""
    e = OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:e], a[-e:]]) if a.shape[0] > 2 * e else a
    if not e:
        return a[(slice(0, 0),) * a.ndim]
    rows = (
        list(range(e)) + list(range(a.shape[0] - e, a.shape[0])) if a.shape[0] > 2 * e else range(a.shape[0])
    )
    return np.stack([_summarized(a[i]) for i in rows])


def _val_str(v, fmt, fmt2) -> str:
    if fmt2 is None:
        return fmt.format(v)
    real = fmt.format(v.real)
    imag = (fmt2.format(v.imag) + "j").lstrip()
    return real + imag if imag[0] in "+-" else real + "+" + imag


def _vector_str(a, indent, summarize, fmt, fmt2=None) -> str:
    elem_len = fmt.max_width + 2
    if fmt2 is not None:
        elem_len += fmt2.max_width + 1
    per_line = max(1, math.floor((OPTS.linewidth - indent) / elem_len))
    e = OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = (
            [_val_str(v, fmt, fmt2) for v in a[:e].tolist()]
            + [" ..."]
            + [_val_str(v, fmt, fmt2) for v in a[-e:].tolist()]
        )
    else:
        data = [_val_str(v, fmt, fmt2) for v in a.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with(a, indent, summarize, fmt, fmt2=None) -> str:
    if a.ndim == 0:
        return _val_str(a.item(), fmt, fmt2)
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt, fmt2)
    e = OPTS.edgeitems
    if summarize and a.shape[0] > 2 * e:
        slices = (
            [_tensor_str_with(a[i], indent + 1, summarize, fmt, fmt2) for i in range(e)]
            + ["..."]
            + [
                _tensor_str_with(a[i], indent + 1, summarize, fmt, fmt2)
                for i in range(a.shape[0] - e, a.shape[0])
            ]
        )
    else:
        slices = [_tensor_str_with(a[i], indent + 1, summarize, fmt, fmt2) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _host_values(t) -> np.ndarray:
    from ._tensor import _to_host

    a = np.asarray(_to_host(t))
    if t.dtype in (D.float16, D.bfloat16):
        a = a.astype(np.float32)
    return a


def tensor_str(t, indent: int) -> str:
    if t.numel() == 0:
        return "[]"
    a = _host_values(t)
    summarize = a.size > OPTS.threshold
    shown = _summarized(a) if summarize else a
    if t.dtype.is_complex:
        fmt = _Formatter(shown.real, True)
        fmt2 = _Formatter(shown.imag, True)
        return _tensor_str_with(a.astype(np.complex128), indent, summarize, fmt, fmt2)
    floating = t.dtype.is_floating_point
    fmt = _Formatter(shown, floating)
    if floating:
        a = a.astype(np.float64) if a.dtype != np.float64 else a
    return _tensor_str_with(a, indent, summarize, fmt)


def _add_suffixes(s: str, suffixes, indent: int) -> str:
    parts = [s]
    last_len = len(s) - s.rfind("\n") + 1
    for suf in suffixes:
        if last_len + len(suf) + 2 > OPTS.linewidth:
            parts.append(",\n" + " " * indent + suf)
            last_len = indent + len(suf)
        else:
            parts.append(", " + suf)
            last_len += len(suf) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t) -> str:
    from .autograd.grad_mode import no_grad

    with no_grad():
        is_param = getattr(t, "_is_param", False)
        prefix = "tensor("
        indent = len(prefix)
        suffixes = []
        if t.device.type != "cpu":
            suffixes.append(f"device='{t.device}'")
        default_complex = D.complex128 if D.get_default_dtype() is D.float64 else D.complex64
        default_dt = t.dtype in (D.get_default_dtype(), default_complex, D.int64, D.bool_)
        if t.numel() == 0:
            if t.dim() != 1:
                suffixes.append(f"size={tuple(t.shape)}")
            if t.dtype is not D.get_default_dtype():
                suffixes.append(f"dtype={t.dtype}")
            body = "[]"
        else:
            if not OPTS.edgeitems:
                suffixes.append(f"size={tuple(t.shape)}")
            if not default_dt:
                suffixes.append(f"dtype={t.dtype}")
            body = tensor_str(t, indent)
        if t.grad_fn is not None:
            suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
        elif t.requires_grad:
            suffixes.append("requires_grad=True")
        s = _add_suffixes(prefix + body, suffixes, indent)
        if is_param:
            s = f"Parameter containing:\n{s}"
        return s
