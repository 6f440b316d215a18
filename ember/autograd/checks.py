"""Finite-difference checks of first and second derivatives (float64), like torch.autograd.gradcheck."""

from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    from .._tensor import Tensor

    return (x,) if isinstance(x, Tensor) else tuple(x)


def _outputs(fn, inputs):
    from .._tensor import Tensor

    out = fn(*inputs)
    return [
        o
        for o in _as_tuple(out)
        if isinstance(o, Tensor) and (o.dtype.is_floating_point or o.dtype.is_complex)
    ]


def _numerical_jacobian(fn, inputs, idx, eps):
    """J[out_k][:, j] for each float output k, by central differences on input `idx`."""
    from .grad_mode import no_grad

    x = inputs[idx]
    with no_grad():
        outs0 = _outputs(fn, inputs)
        jac = [np.zeros((o.numel(), x.numel())) for o in outs0]
        arr = x._data  # perturbed in place through its own strides (works for non-contiguous inputs)
        for j, pos in enumerate(np.ndindex(*arr.shape)):
            orig = arr[pos].item()
            arr[pos] = orig + eps
            plus = [
                np.array(o.detach().cpu()._data, dtype=np.float64).reshape(-1) for o in _outputs(fn, inputs)
            ]
            arr[pos] = orig - eps
            minus = [
                np.array(o.detach().cpu()._data, dtype=np.float64).reshape(-1) for o in _outputs(fn, inputs)
            ]
            arr[pos] = orig
            for k in range(len(jac)):
                jac[k][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _analytical_jacobian(fn, inputs, idx):
    from ..ops.factory import tensor
    from .engine import grad

    outs = _outputs(fn, inputs)
    x = inputs[idx]
    jac = [np.zeros((o.numel(), x.numel())) for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for i in range(o.numel()):
            unit = np.zeros(o.numel())
            unit[i] = 1
            cot = tensor(unit.reshape(tuple(o.shape)), dtype=o.dtype, device=o.device)
            (g,) = grad(o, x, cot, retain_graph=True, allow_unused=True)
            if g is not None:
                jac[k][i, :] = np.asarray(g.detach().cpu()._data, dtype=np.float64).reshape(-1)
    return jac


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    fast_mode: bool = False,
    masked=None,
) -> bool:
    """Compare autograd's Jacobian with central finite differences for every input that requires grad."""
    from .._tensor import Tensor

    inputs = _as_tuple(inputs)
    checked = False
    for idx, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        checked = True
        num = _numerical_jacobian(func, inputs, idx, eps)
        ana = _analytical_jacobian(func, inputs, idx)
        for k, (n, a) in enumerate(zip(num, ana)):
            if not np.allclose(a, n, rtol=rtol, atol=atol, equal_nan=False):
                msg = (
                    f"Jacobian mismatch for output {k} with respect to input {idx},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                )
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    if not checked:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    **kw,
) -> bool:
    """gradcheck of the first derivatives (computed with create_graph=True) w.r.t. inputs and cotangents."""
    from .._tensor import Tensor
    from ..ops.random import randn
    from .engine import grad

    inputs = _as_tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = tuple(randn(*o.shape, dtype=o.dtype).requires_grad_(True) for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_grads(*args):
        from .grad_mode import enable_grad

        xs, gos = args[:n_in], args[n_in:]
        with enable_grad():
            os_ = _outputs(func, xs)
            gs = grad(os_, [xs[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(
        first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )
