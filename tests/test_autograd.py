"""Autograd semantics against torch: accumulation, retain/free, hooks, in-place and views (CopySlices),
version counters, higher-order gradients, custom Functions, grad modes."""

import gc

import pytest
import torch

import ember
from tests.helpers import assert_close, gradcheck_fn, rand


def both(fn):
    """Run fn(module) on ember and torch; compare whatever it returns."""
    t = fn(torch)
    e = fn(ember)
    assert_close(e, t)
    return e


def test_setitem_on_view_of_graph_tensor_gives_grads_to_both():
    def f(m):
        x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        z = m.tensor([10.0, 20.0], requires_grad=True)
        y = x * 1
        y[1:3] = z
        (y * m.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return x.grad, z.grad, y.grad_fn is not None

    both(f)


def test_inplace_mul_through_view_reads_old_values():
    def f(m):
        x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        z = m.tensor([5.0, 6.0], requires_grad=True)
        y = x * 2
        v = y[1:3]
        v.mul_(z)
        (y * m.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        return x.grad, z.grad, y.detach(), v.detach()

    both(f)


def test_view_after_inplace_reads_new_history():
    def f(m):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x.sin()
        col = y[:, 1]
        col.add_(x[:, 0] * 3)
        (col * m.tensor([2.0, -1.0])).sum().backward()
        return x.grad

    both(f)


def test_inplace_on_transposed_view_of_nonleaf():
    def f(m):
        x = m.arange(6.0).view(2, 3).requires_grad_()
        y = x * 1
        yt = y.t()
        yt[0] = yt[0] * 10
        (y * m.arange(6.0).view(2, 3)).sum().backward()
        return x.grad, y.detach()

    both(f)


def test_relu_inplace_after_linear():
    def f(m):
        w = m.tensor([[1.0, -2.0, 0.5], [3.0, 4.0, -1.0]], requires_grad=True)
        b = m.tensor([0.1, -5.0, 0.0], requires_grad=True)
        h = m.tensor([[1.0, 1.0], [2.0, -1.0]]) @ w + b
        h.clamp_(min=0)
        (h * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        return w.grad, b.grad

    both(f)


def test_param_data_update_is_untracked():
    def f(m):
        p = m.tensor([1.0, 2.0], requires_grad=True)
        y = (p * p).sum()
        p.data.add_(1.0)
        y.backward()  # saved p was changed through .data: not detected, as in torch
        return p.detach(), p.grad, p.is_leaf

    both(f)


def test_modified_saved_tensor_raises():
    for mod in (torch, ember):
        a = mod.tensor([1.0, 2.0], requires_grad=True)
        b = a.exp()
        b.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()
        c = a * 1
        d = c * c
        c.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            d.sum().backward()


def test_version_counter_shared_by_views():
    for mod in (torch, ember):
        x = mod.zeros(4)
        v = x[1:3]
        d = x.detach()
        v.add_(1)
        assert x._version == v._version == d._version == 1
        x.data.add_(1)  # .data has its own counter
        assert x._version == 1


def test_leaf_inplace_errors():
    for mod in (torch, ember):
        a = mod.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            a.add_(1)
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            a[0:2].mul_(2)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            a[0] = 5
        with mod.no_grad():
            a.mul_(2)
        assert a.requires_grad and a.is_leaf


def test_accumulation_and_zeroing():
    def f(m):
        x = m.tensor([1.0, -2.0], requires_grad=True)
        for _ in range(3):
            (x * x).sum().backward()
        g1 = x.grad.clone()
        x.grad.zero_()
        (x**3).sum().backward()
        return g1, x.grad

    both(f)


def test_shared_grad_buffers_are_not_aliased():
    x = ember.ones(3, requires_grad=True)
    y = ember.ones(3, requires_grad=True)
    (x + y).sum().backward()
    x.grad.add_(5)
    assert y.grad.tolist() == [1.0, 1.0, 1.0]
    v = ember.tensor([1.0, 2.0, 3.0])
    z = ember.zeros(3, requires_grad=True)
    (z + 0).backward(v)
    z.grad.mul_(0)
    assert v.tolist() == [1.0, 2.0, 3.0]


def test_backward_twice_errors_only_with_saved_tensors():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = (x + 1).sum()
        y.backward()
        y.backward()  # AddBackward/SumBackward save nothing: allowed
        z = (x * x).sum()
        z.backward(retain_graph=True)
        z.backward()
        return x.grad

    both(f)
    for mod in (torch, ember):
        x = mod.tensor([1.0, 2.0], requires_grad=True)
        z = (x * x).sum()
        z.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            z.backward()


def test_nonscalar_backward_needs_gradient():
    for mod in (torch, ember):
        x = mod.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
            (x * 2).backward()
        with pytest.raises(RuntimeError, match="does not require grad"):
            mod.ones(2).sum().backward()


def test_gradient_penalty_double_backward():
    def f(m):
        w = m.tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True)
        x = m.tensor([[1.0, 2.0], [-1.0, 0.5]], requires_grad=True)
        out = (x @ w).tanh().softmax(-1)[:, 0].sum()
        (g,) = m.autograd.grad(out, x, create_graph=True)
        penalty = (((g * g).sum(1).sqrt() - 1) ** 2).mean()
        penalty.backward()
        return w.grad, x.grad

    both(f)


def test_third_order_derivative():
    def f(m):
        x = m.tensor([0.7, -1.3], requires_grad=True)
        y = (x.sin() * x.exp()).sum()
        (g1,) = m.autograd.grad(y, x, create_graph=True)
        (g2,) = m.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = m.autograd.grad(g2.sum(), x)
        return g1, g2, g3

    both(f)


def test_autograd_grad_options():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = m.tensor([3.0], requires_grad=True)
        z = (x * 2).sum()
        gx, gy = m.autograd.grad(z, [x, y], allow_unused=True, retain_graph=True)
        (gm,) = m.autograd.grad(z, [y], materialize_grads=True, retain_graph=True)
        return gx, gy is None, gm, x.grad is None

    both(f)
    x = ember.ones(2, requires_grad=True)
    y = ember.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        ember.autograd.grad((x * 2).sum(), [x, y])


def test_grad_of_nonleaf_intermediate():
    def f(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = x * x
        out = (h.exp() * 0.1).sum()
        (gh,) = m.autograd.grad(out, h)
        return gh

    both(f)


def test_backward_inputs_argument():
    def f(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        b = m.tensor([3.0, 4.0], requires_grad=True)
        (a * b).sum().backward(inputs=[a])
        return a.grad, b.grad is None

    both(f)


def test_hooks_and_retain_grad():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()))
        y = x * 2
        y.retain_grad()
        h = y.register_hook(lambda g: g * 10)
        (y * y).sum().backward()
        h.remove()
        y2 = x * 3
        y2.retain_grad()
        (y2 * y2).sum().backward()
        return x.grad, y.grad, y2.grad, seen[0], y.retains_grad

    both(f)


def test_node_hooks():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.grad_fn.register_prehook(lambda gout: (gout[0] * 2,))
        y.grad_fn.register_hook(lambda gin, gout: (gin[0] + 1,))
        y.sum().backward()
        return x.grad

    both(f)


def test_grad_modes():
    for mod in (torch, ember):
        x = mod.ones(2, requires_grad=True)
        with mod.no_grad():
            assert not (x * 2).requires_grad
            with mod.enable_grad():
                assert (x * 2).requires_grad
        with mod.inference_mode():
            assert not (x * 2).requires_grad
        with mod.set_grad_enabled(False):
            assert not mod.is_grad_enabled()
        assert mod.is_grad_enabled()

        @mod.no_grad()
        def g(t):
            return t * 2

        assert not g(x).requires_grad

        @mod.no_grad()
        def gen(t):
            yield t * 2

        assert not next(gen(x)).requires_grad
        mod.set_grad_enabled(False)
        assert not (x * 2).requires_grad
        mod.set_grad_enabled(True)


def test_detach_and_requires_grad_rules():
    for mod in (torch, ember):
        x = mod.ones(2, requires_grad=True)
        y = x * 2
        d = y.detach()
        assert not d.requires_grad and d.is_leaf
        with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
            y.requires_grad = False
        with pytest.raises(RuntimeError, match="floating point"):
            mod.ones(2, dtype=mod.int64).requires_grad_()
        y.detach_()
        assert y.is_leaf and not y.requires_grad
        with pytest.raises(RuntimeError, match="numpy"):
            x.cpu().numpy()


def test_no_recursion_limit_on_long_chains():
    x = ember.tensor([0.5], requires_grad=True)
    h = x
    for _ in range(10_000):
        h = h * 1.0001 + 0.0
    h.sum().backward()
    assert abs(x.grad.item() - 1.0001**10_000) < 1e-2


def test_saved_tensors_released_after_backward():
    x = ember.ones(1000, requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="already been freed"):
        node.saved_tensors


def test_intermediates_freed_without_retain():
    import weakref

    x = ember.ones(10, requires_grad=True)
    y = x.exp()
    ref = weakref.ref(y.grad_fn)
    z = y.sum()
    del y
    z.backward()
    del z
    gc.collect()
    assert ref() is None


class MulConst(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        ctx.save_for_backward(x)
        return x * k

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return grad * ctx.k, None


class TorchMulConst(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        ctx.save_for_backward(x)
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None


class Cube(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class TwoOutputs(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        idx = ember.arange(x.shape[0])
        ctx.mark_non_differentiable(idx)
        return x * 2, idx

    @staticmethod
    def backward(ctx, g, g_idx):
        return g * 2


def test_custom_function():
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    xt = torch.tensor([1.0, -2.0], requires_grad=True)
    y, yt = MulConst.apply(x, 3.0), TorchMulConst.apply(xt, 3.0)
    assert y.grad_fn.name() == "MulConstBackward"
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    assert_close(x.grad, xt.grad)
    gradcheck_fn(lambda m, a: Cube.apply(a), rand(4))
    assert ember.autograd.gradgradcheck(
        Cube.apply, (ember.randn(3, dtype=ember.float64, requires_grad=True),)
    )
    out, idx = TwoOutputs.apply(x)
    assert out.requires_grad and not idx.requires_grad
    out.sum().backward()


def test_function_wrong_number_of_grads():
    class Bad(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    a = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(a, a).sum().backward()


def test_gradcheck_catches_wrong_backward():
    class Wrong(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2x

    x = ember.randn(3, dtype=ember.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        ember.autograd.gradcheck(Wrong.apply, (x,))
    assert not ember.autograd.gradcheck(Wrong.apply, (x,), raise_exception=False)
