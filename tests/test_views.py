"""View semantics against torch: views share memory and the version counter with their base, contiguous()
copies only when needed, in-place ops on views of non-leaves rewrite the base's history, and writes into
expanded (overlapping) tensors are refused."""

import numpy as np
import pytest
import torch

import ember
from tests.helpers import assert_close, raises_like, rand

# Each entry makes a view of a (2, 3, 4) tensor (or of one piece of a multi-view op).
VIEWS = {
    "view": lambda x: x.view(6, 4),
    "view_-1": lambda x: x.view(-1),
    "reshape": lambda x: x.reshape(3, 8),
    "view_as": lambda x: x.view_as(x.new_zeros(4, 6)),
    "slice": lambda x: x[1:, ::2],
    "int_index": lambda x: x[1],
    "ellipsis_none": lambda x: x[..., None, 1:3],
    "0d_index": lambda x: x[1, 2, 3],
    "tensor_int_index": lambda x: x[x.new_tensor(1).long()],
    "transpose": lambda x: x.transpose(0, 2),
    "t": lambda x: x[0].t(),
    "mT": lambda x: x.mT,
    "permute": lambda x: x.permute(2, 0, 1),
    "movedim": lambda x: x.movedim(0, -1),
    "narrow": lambda x: x.narrow(2, 1, 2),
    "select": lambda x: x.select(1, -1),
    "unfold": lambda x: x.unfold(2, 2, 2),
    "diagonal": lambda x: x.diagonal(1, 1, 2),
    "as_strided": lambda x: x.as_strided((3, 2), (4, 1), 5),
    "squeeze": lambda x: x[:1].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "flatten": lambda x: x.flatten(1),
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "split": lambda x: x.split(2, 2)[1],
    "chunk": lambda x: x.chunk(3, 1)[2],
    "unbind": lambda x: x.unbind(0)[1],
    "tensor_split": lambda x: x.tensor_split([1, 3], 2)[1],
    "detach": lambda x: x.detach(),
    "alias": lambda x: x[...],
    "view_of_view": lambda x: x.transpose(0, 1)[1:].diagonal(0, 1, 2),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_shares_memory_and_version_counter(name):
    f = VIEWS[name]

    def run(m):
        x = m.arange(24.0).view(2, 3, 4)
        root = x._base
        v = f(x)
        shares = v.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        base_ok = name == "detach" or v._base is root
        v.add_(100)  # write through the view
        after_view_write = x.clone()
        versions = (x._version, v._version)
        x.mul_(-1)  # write to the base
        return shares, base_ok, after_view_write, v.clone(), versions, v.is_contiguous(), v.stride()

    assert_close(run(ember), run(torch))


def test_expand_view_sees_base_writes_and_shares_version():
    def run(m):
        x = m.arange(4.0).view(4, 1)
        e = x.expand(4, 3)
        shares = e.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        x.add_(1)
        return shares, e.clone(), e._version, e.stride(), e._base is x

    assert_close(run(ember), run(torch))


# Writes where torch detects internal overlap (a zero stride). ember refuses every write into an expanded
# tensor, also those torch lets through (fill_, zero_, masked_fill_, index_fill_, e[0, 0] = v).
@pytest.mark.parametrize(
    "write,match",
    [
        (lambda e: e.add_(1), None),
        (lambda e: e.mul_(2), None),
        (lambda e: e.sin_(), None),
        (lambda e: e.clamp_(min=0), None),
        (lambda e: e.copy_(e.new_ones(4, 3)), None),
        (lambda e: e.__setitem__(0, 1.0), "memory location"),
        (lambda e: e.scatter_(0, e.new_zeros(1, 1).long(), 1.0), "memory location"),
        (lambda e: e.index_add_(0, e.new_zeros(1).long(), e.new_ones(1, 3)), "memory location"),
        (lambda e: e.masked_scatter_(e == e, e.new_ones(12)), "memory location"),
        (lambda e: e.put_(e.new_zeros(1).long(), e.new_ones(1)), "memory location"),
    ],
)
def test_writing_into_expanded_tensor_raises(write, match):
    raises_like(lambda t, x: write(x.expand(4, 3)), rand(4, 1, requires_grad=False), match=match)


def test_writing_into_zero_stride_as_strided_raises():
    raises_like(lambda t, x: x.as_strided((3, 2), (1, 0)).mul_(2), rand(6, requires_grad=False))
    raises_like(lambda t, x: x.as_strided((3, 2), (0, 1)).add_(x[:2]), rand(6, requires_grad=False))


@pytest.mark.parametrize(
    "make,copies",
    [
        (lambda x: x, False),
        (lambda x: x[1:], False),
        (lambda x: x[:, :2], True),
        (lambda x: x.t(), True),
        (lambda x: x[::2], True),
        (lambda x: x[:1].expand(5, 4), True),
        (lambda x: x[:, :1], True),
        (lambda x: x.unsqueeze(1), False),
        (lambda x: x[0:1].t(), False),
        (lambda x: x.view(4, 1, 3).transpose(0, 0), False),
    ],
)
def test_contiguous_copies_only_when_needed(make, copies):
    def run(m):
        x = m.arange(12.0).view(3, 4)
        v = make(x)
        c = v.contiguous()
        same_obj = c is v
        shares = c.data_ptr() == v.data_ptr()
        x.add_(1)
        return same_obj, shares, c.is_contiguous(), v.is_contiguous(), c.clone(), c.stride()

    e, t = run(ember), run(torch)
    assert_close(e, t)
    assert t[0] is not copies


# ------------------------------------------------------------------------------------------------ in-place on views

INPLACE_VIEWS = {
    k: VIEWS[k] for k in VIEWS if k not in ("split", "chunk", "unbind", "tensor_split", "detach")
}


@pytest.mark.parametrize("name", list(INPLACE_VIEWS))
@pytest.mark.parametrize(
    "op",
    ["mul_", "add_", "setitem", "sin_", "copy_"],
)
def test_inplace_on_view_of_nonleaf_rewrites_base_history(name, op):
    f = INPLACE_VIEWS[name]

    def run(m):
        x = m.tensor(np.sin(np.arange(24.0) * 1.3).reshape(2, 3, 4), requires_grad=True)
        w = m.tensor(1.7, dtype=m.float64, requires_grad=True)
        y = x * 2
        v = f(y)
        if op == "mul_":
            v.mul_(w)
        elif op == "add_":
            v.add_(w * v.detach().sign())
        elif op == "setitem":
            v[...] = w * 3
        elif op == "sin_":
            v.sin_()
        else:
            v.copy_(w.expand(v.shape) * v.detach().clone())
        weights = m.arange(24.0, dtype=m.float64).view(2, 3, 4)
        loss = (y.cos() * weights).sum() + (v * v).sum()
        loss.backward()
        return y.detach(), v.detach(), x.grad, w.grad, y.grad_fn is not None

    assert_close(run(ember), run(torch))


def test_inplace_on_two_views_then_base():
    def run(m):
        x = m.tensor([[1.0, -2.0, 0.5], [3.0, 0.2, -1.0]], dtype=m.float64, requires_grad=True)
        z = m.tensor([0.3, -0.7], dtype=m.float64, requires_grad=True)
        y = x.sin()
        a = y[:, 0]
        b = y.t()[2]
        a.mul_(z)
        b.add_(a)
        y.sub_(1)
        (y * y).sum().backward()
        return x.grad, z.grad, a.detach(), b.detach()

    assert_close(run(ember), run(torch))


def test_inplace_on_view_of_leaf_requiring_grad_raises():
    raises_like(lambda t, x: x[0].add_(1), rand(3, 4))
    raises_like(lambda t, x: x.t().mul_(2), rand(3, 4))
    raises_like(lambda t, x: x.diagonal().zero_(), rand(3, 4))


def test_inplace_on_view_under_no_grad_is_untracked():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        with m.no_grad():
            y[1:].mul_(10)
        y.sum().backward()
        return y.detach(), x.grad, y._version

    assert_close(run(ember), run(torch))


@pytest.mark.parametrize(
    "piece", [lambda y: y.split(1)[0], lambda y: y.unbind(0)[1], lambda y: y.chunk(2)[0]]
)
def test_inplace_on_multi_output_view_raises(piece):
    raises_like(lambda t, x: piece(x * 1).mul_(2), rand(2, 3))


def test_multi_output_view_pieces_writable_without_grad():
    def run(m):
        x = m.arange(6.0).view(2, 3)
        for p in x.split(1):
            p.mul_(2)
        x.unbind(1)[0].fill_(-1)
        x.chunk(3, 1)[2].add_(10)
        return x, x._version

    assert_close(run(ember), run(torch))
