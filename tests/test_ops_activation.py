"""softmax/log_softmax and the pointwise activations against torch (values, grads, dtypes, gradcheck)."""

import pytest
import torch.nn.functional as TF

import ember
import ember.ops.activation as A
from tests.helpers import gradcheck_fn, parity, raises_like, rand, vals

SHAPES = [(), (0,), (7,), (3, 5), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
def test_softmax_family(shape, fn, dtype):
    for dim in range(-len(shape), max(len(shape), 1)):
        parity(lambda t, x, d=dim: getattr(t, fn)(x, d), rand(*shape, dtype=dtype, low=-5, high=5))
        parity(lambda t, x, d=dim: getattr(x, fn)(d), rand(*shape, dtype=dtype, noncontig=True))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_extremes_and_dtype_arg(fn):
    parity(lambda t, x: getattr(t, fn)(x, -1), vals([[1e4, -1e4, 0.0], [float("-inf"), 0.0, 1.0]]))
    parity(lambda t, x: getattr(t, fn)(x, 1, dtype=t.float64), rand(3, 4))
    parity(lambda t, x: getattr(t, fn)(x.to(t.int64), 0, dtype=t.float32), rand(5), grad=False)
    raises_like(lambda t, x: getattr(t, fn)(x, 0), vals([1, 2], dtype="int64"))
    raises_like(lambda t, x: getattr(t, fn)(x, 2), rand(3, 4))
    gradcheck_fn(lambda t, x: getattr(t, fn)(x, 1), rand(2, 3))
    assert ember.autograd.gradgradcheck(
        lambda x: getattr(ember, fn)(x, 1), (ember.randn(2, 3, dtype=ember.float64, requires_grad=True),)
    )


POINTWISE = [
    "relu",
    "relu6",
    "gelu",
    "silu",
    "selu",
    "elu",
    "celu",
    "leaky_relu",
    "softplus",
    "hardtanh",
    "hardswish",
    "hardsigmoid",
    "logsigmoid",
    "mish",
    "softsign",
    "tanhshrink",
]


@pytest.mark.parametrize("name", POINTWISE)
@pytest.mark.parametrize("shape", [(), (0,), (4, 5)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_pointwise_activation(name, shape, dtype):
    def fn(t, x):
        return (TF if t.__name__ == "torch" else A).__dict__[name](x)

    parity(fn, rand(*shape, dtype=dtype, low=-6, high=6, kinks=[0.0, 3.0, -3.0]))


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_gradcheck(name):
    def fn(t, x):
        return A.__dict__[name](x)

    # keep away from the kinks where the finite difference is undefined
    gradcheck_fn(fn, vals([-5.1, -2.2, -0.7, 0.4, 1.3, 2.6, 4.9], dtype="float64"))


@pytest.mark.parametrize("kw", [{"approximate": "tanh"}, {"approximate": "none"}])
def test_gelu_modes(kw):
    parity(lambda t, x: (TF.gelu if t.__name__ == "torch" else A.gelu)(x, **kw), rand(3, 4, low=-4, high=4))


def test_activation_kwargs():
    parity(lambda t, x: (TF if t.__name__ == "torch" else A).leaky_relu(x, 0.2), rand(6, kinks=[0.0]))
    parity(lambda t, x: (TF if t.__name__ == "torch" else A).elu(x, 0.5), rand(6))
    parity(lambda t, x: (TF if t.__name__ == "torch" else A).softplus(x, 2.0, 5.0), rand(6, low=-5, high=5))
    parity(lambda t, x: (TF if t.__name__ == "torch" else A).hardtanh(x, -0.5, 0.5), rand(6))


def test_relu_inplace_and_method():
    parity(lambda t, x: (x * 1).relu_(), rand(3, 4, kinks=[0.0]))
    parity(lambda t, x: x.relu(), rand(3, 4, kinks=[0.0]))
    parity(lambda t, x: t.relu(x.to(t.int64)), rand(5, low=-5, high=5), grad=False)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_zero_dim(approximate):
    parity(lambda t, x: t.nn.functional.gelu(x, approximate=approximate), rand())
