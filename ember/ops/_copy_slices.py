"""CopySlices: rewriting a base tensor's history after an in-place op on one of its views.

After ``y = x * 1; y[1:3] = z`` the base ``y`` gets a CopySlices node: its gradient passes through
unchanged outside the written window, and inside it goes through the in-place op's backward (to ``z``,
and to the old window values when the op reads them, e.g. ``y[1:3] *= 2``). The view then becomes an
as_strided view of the new base, so later uses of it see the new history.
"""

from __future__ import annotations

from .._tensor import Tensor
from ..autograd.node import _SEQ, Node, edge_of
from ._dispatch import _NO_EDGE, dispatch
from .op import Op
from .shape import AsStrided


class CopySlices(Node):
    """grad_fn of a base tensor whose view was modified in place by the op node `fn`."""

    __slots__ = ("fn", "geom", "base_like")

    def apply(self, g):
        from ..autograd.engine import _reduce_grad
        from .convert import clone

        size, stride, offset = self.geom
        result = dispatch(_CloneLike, (g,), {"like": self.base_like})
        window = dispatch(AsStrided, (result,), {"size": size, "stride": stride, "offset": offset})
        fn = self.fn
        grads = fn.apply(clone(window))
        if not isinstance(grads, tuple):
            grads = (grads,)
        g_old = grads[0]
        if g_old is None:
            window.zero_()
        else:
            g_old = _reduce_grad(g_old, fn._meta[0], fn, 0)
            window.copy_(g_old)
        return (result,) + tuple(grads[1:])

    def _release(self) -> None:
        self._freed = True
        self.fn._release()


class _CloneLike(Op):
    """A copy of the grad laid out like the base tensor (so the view's strides address the same elements)."""

    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, g, like=None):
        out = ctx.xp.empty_like(like)
        out[...] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return (gg,)


def rebase_history(view: Tensor, fn) -> None:
    """Install CopySlices on `view`'s base for in-place op node `fn`, and re-derive `view` from the base."""
    base = view._base
    be = fn.be
    isz = view._data.itemsize
    offset = be.byte_offset(view._data, base._data) // isz
    geom = (view._data.shape, tuple(s // isz for s in view._data.strides), offset)
    old_edge = edge_of(base)
    cs = CopySlices()
    cs.fn = fn
    cs.geom = geom
    cs.base_like = base._data
    cs.next_functions = (old_edge or _NO_EDGE,) + tuple(fn.next_functions[1:])
    cs.needs_input_grad = tuple(e[0] is not None for e in cs.next_functions)
    cs._meta = [(base._data.shape, base._dtype)] + list(fn._meta[1:])
    cs._seq = next(_SEQ)
    cs._freed = False
    cs._saved = ()
    base.grad_fn = cs
    base._out_nr = 0
    base._requires_grad = True
    # The view now reads from the new base history.
    from ..autograd.grad_mode import enable_grad

    with enable_grad():
        fresh = dispatch(AsStrided, (base,), {"size": geom[0], "stride": geom[1], "offset": offset})
    view.grad_fn = fresh.grad_fn
    view._out_nr = 0
    view._requires_grad = True
