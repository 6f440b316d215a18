"""pad, interpolate, pixel_shuffle and their layers against torch."""

import numpy as np
import pytest
import torch

import ember
from tests.helpers import gradcheck_fn, parity, raises_like, randn, vals
from tests.nn_helpers import layer_parity

# ------------------------------------------------------------------------------------------------ pad

PADS = [
    ((2, 3, 8), (2, 3)),
    ((2, 3, 8), (-2, 3)),
    ((2, 3, 8), (-3, -2)),
    ((3, 8), (1, 4)),
    ((2, 3, 5, 6), (1, 2, 3, 1)),
    ((2, 3, 5, 6), (0, 0, -1, 2)),
    ((3, 5, 6), (2, 1, 0, 3)),
    ((2, 3, 4, 5, 6), (1, 2, 3, 1, 0, 2)),
]


@pytest.mark.parametrize("shape,pads", PADS)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes(shape, pads, mode):
    parity(lambda t, x: t.nn.functional.pad(x, pads, mode=mode), randn(*shape))


@pytest.mark.parametrize(
    "shape,pads,mode",
    [
        ((2, 3, 8), (8, 1), "circular"),
        ((2, 3, 8), (7, 6), "reflect"),
        ((2, 3, 8), (9, 12), "replicate"),
        ((2, 3, 8), (-8, 1), "replicate"),
        ((2, 3, 8), (-3, -5), "circular"),
        ((2, 3, 8), (-5, 4), "reflect"),
    ],
)
def test_pad_edge_amounts(shape, pads, mode):
    parity(lambda t, x: t.nn.functional.pad(x, pads, mode=mode), randn(*shape, dtype="float64"))


def test_pad_constant_any_dims_values_dtypes():
    parity(lambda t, x: t.nn.functional.pad(x, (1, 2, 3, 1, 1, 1, 1, 2), value=1.5), randn(2, 3, 5, 6))
    parity(lambda t, x: t.nn.functional.pad(x, (1, 1), value=-2), randn(7))
    parity(lambda t, x: t.nn.functional.pad(x, (2, -1, -1, 0)), randn(3, 4, noncontig=True))
    parity(lambda t, x: t.nn.functional.pad(x, (1, 1, 1, 1), value=2.5), vals([[1, 2], [3, 4]], "int64"))
    parity(lambda t, x: t.nn.functional.pad(x, (1, 2), value=1), vals([[True, False]], "bool"))
    parity(
        lambda t, x: t.nn.functional.pad(x, (1, 2, 0, 1), mode="reflect"), randn(2, 3, 4, dtype="bfloat16")
    )
    parity(lambda t, x: t.nn.functional.pad(x, (1, 1), mode="replicate"), vals([[[1, 2, 3]]], "int64"))
    parity(lambda t, x: t.nn.functional.pad(x, (2, 2)), randn(2, 2, 0))
    parity(lambda t, x: t.nn.functional.pad(x, (1, 1), mode="reflect"), randn(0, 2, 3))


PAD_ERRORS = [
    (lambda t, x: t.nn.functional.pad(x, [1]), (2, 3, 8), "divisible by 2"),
    (lambda t, x: t.nn.functional.pad(x, [1] * 10), (2, 3, 8, 8), "two times"),
    (lambda t, x: t.nn.functional.pad(x, [1, 1], mode="foo"), (2, 3, 8), "foo"),
    (lambda t, x: t.nn.functional.pad(x, [1, 1], mode="reflect", value=2), (2, 3, 8), "value"),
    (lambda t, x: t.nn.functional.pad(x, [1, 1], mode="reflect"), (2, 3, 8, 8), "not supported"),
    (lambda t, x: t.nn.functional.pad(x, [1, 1], mode="circular"), (8,), "not supported"),
    (lambda t, x: t.nn.functional.pad(x, [-5, -4]), (2, 3, 8), None),
    (lambda t, x: t.nn.functional.pad(x, [8, 1], mode="reflect"), (2, 3, 8), "Padding size"),
    (lambda t, x: t.nn.functional.pad(x, [9, 1], mode="circular"), (2, 3, 8), "wrapping"),
    (lambda t, x: t.nn.functional.pad(x, [-3, -6], mode="circular"), (2, 3, 8), "empty"),
    (lambda t, x: t.nn.functional.pad(x, [-9, 1], mode="replicate"), (2, 3, 8), "too small"),
    (lambda t, x: t.nn.functional.pad(x, [1, 1], mode="reflect"), (2, 0, 3), "non-zero"),
    (lambda t, x: t.nn.functional.pad(x, [1.5, 1]), (2, 3, 8), None),
    (lambda t, x: t.nn.functional.pad(x.bool(), [1, 1], mode="replicate"), (2, 3, 8), "Bool"),
]


@pytest.mark.parametrize("fn,shape,match", PAD_ERRORS)
def test_pad_errors(fn, shape, match):
    raises_like(fn, randn(*shape), match=match)


# ------------------------------------------------------------------------------------------ interpolate

MODES = [
    ("nearest", {}),
    ("nearest-exact", {}),
    ("bilinear", {"align_corners": False}),
    ("bilinear", {"align_corners": True}),
    ("bicubic", {"align_corners": False}),
    ("bicubic", {"align_corners": True}),
    ("area", {}),
]


@pytest.mark.parametrize("mode,kw", MODES)
@pytest.mark.parametrize("size", [(3, 5), (13, 17), (16, 6), (8, 7)])
def test_interpolate_size_2d(mode, kw, size):
    parity(lambda t, x: t.nn.functional.interpolate(x, size=size, mode=mode, **kw), randn(2, 3, 8, 7))


@pytest.mark.parametrize("mode,kw", MODES)
@pytest.mark.parametrize("sf", [2, 0.7, (1.5, 2.3), 3.1])
@pytest.mark.parametrize("recompute", [None, True])
def test_interpolate_scale_2d(mode, kw, sf, recompute):
    parity(
        lambda t, x: t.nn.functional.interpolate(
            x, scale_factor=sf, mode=mode, recompute_scale_factor=recompute, **kw
        ),
        randn(2, 3, 8, 7, dtype="float64"),
    )


@pytest.mark.parametrize(
    "shape,kw",
    [
        ((2, 3, 8), {"size": 5, "mode": "linear"}),
        ((2, 3, 8), {"scale_factor": 2.5, "mode": "linear", "align_corners": True}),
        ((2, 3, 8), {"scale_factor": 1.7, "mode": "nearest"}),
        ((2, 3, 9), {"size": 4, "mode": "nearest-exact"}),
        ((2, 3, 9), {"size": 4, "mode": "area"}),
        ((2, 2, 4, 5, 6), {"size": (5, 3, 7), "mode": "trilinear"}),
        ((2, 2, 4, 5, 6), {"scale_factor": (2, 0.5, 1.4), "mode": "trilinear", "align_corners": True}),
        ((2, 2, 4, 5, 6), {"scale_factor": 1.7, "mode": "nearest"}),
        ((2, 2, 4, 5, 6), {"size": (2, 3, 4), "mode": "area"}),
        ((0, 3, 4, 4), {"size": 3, "mode": "bilinear"}),
    ],
)
def test_interpolate_1d_3d(shape, kw):
    parity(lambda t, x: t.nn.functional.interpolate(x, **kw), randn(*shape))


def test_interpolate_dtypes_and_views():
    parity(
        lambda t, x: t.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
        randn(1, 2, 4, 5, dtype="bfloat16"),
    )
    parity(
        lambda t, x: t.nn.functional.interpolate(x, size=(5, 9), mode="bicubic"),
        randn(1, 2, 4, 6, noncontig=True),
    )
    parity(
        lambda t, x: t.nn.functional.interpolate(x, size=(5, 9)),
        vals(np.arange(24).reshape(1, 2, 3, 4), "uint8"),
    )
    with pytest.warns(UserWarning, match="deprecated"):
        parity(lambda t, x: t.nn.functional.upsample(x, scale_factor=2, mode="nearest"), randn(1, 2, 3, 4))
        parity(lambda t, x: t.nn.functional.upsample_bilinear(x, size=(5, 6)), randn(1, 2, 3, 4))
        parity(lambda t, x: t.nn.functional.upsample_nearest(x, scale_factor=3), randn(1, 2, 3, 4))
    with pytest.warns(UserWarning, match="deprecated"):
        ember.nn.functional.upsample(ember.zeros(1, 1, 2, 2), scale_factor=2)


INTERP_ERRORS = [
    (lambda t, x: t.nn.functional.interpolate(x, size=3, scale_factor=2), (2, 3, 8, 8), "only one"),
    (lambda t, x: t.nn.functional.interpolate(x), (2, 3, 8, 8), "either"),
    (lambda t, x: t.nn.functional.interpolate(x, size=(3, 3, 3)), (2, 3, 8, 8), "spatial dimensions"),
    (lambda t, x: t.nn.functional.interpolate(x, scale_factor=(2, 2, 2)), (2, 3, 8, 8), "spatial dimensions"),
    (lambda t, x: t.nn.functional.interpolate(x, size=3, mode="linear"), (2, 3, 8, 8), "needs 3D"),
    (lambda t, x: t.nn.functional.interpolate(x, size=3, mode="trilinear"), (2, 3, 8, 8), "needs 5D"),
    (lambda t, x: t.nn.functional.interpolate(x, size=3, align_corners=True), (2, 3, 8, 8), "align_corners"),
    (lambda t, x: t.nn.functional.interpolate(x, size=3, mode="foo"), (2, 3, 8, 8), "foo"),
    (lambda t, x: t.nn.functional.interpolate(x, size=3), (8, 8), "Only 3D, 4D and 5D"),
    (
        lambda t, x: t.nn.functional.interpolate(x, size=3, recompute_scale_factor=True),
        (2, 3, 8, 8),
        "recompute",
    ),
    (lambda t, x: t.nn.functional.interpolate(x, size=(3.0, 3)), (2, 3, 8, 8), "expected size"),
    (lambda t, x: t.nn.functional.interpolate(x, scale_factor=0.1), (2, 3, 8, 8), "greater than 0"),
    (lambda t, x: t.nn.functional.interpolate(x, size=3), (2, 3, 0, 4), "greater than 0"),
    (lambda t, x: t.nn.functional.interpolate(x.long(), size=3), (2, 3, 8, 8), "not implemented"),
]


@pytest.mark.parametrize("fn,shape,match", INTERP_ERRORS)
def test_interpolate_errors(fn, shape, match):
    raises_like(fn, randn(*shape), match=match)


# ---------------------------------------------------------------------------------------- pixel shuffle


@pytest.mark.parametrize(
    "shape,r", [((2, 8, 3, 3), 2), ((9, 2, 4), 3), ((3, 2, 8, 3, 3), 2), ((1, 4, 0, 2), 2)]
)
def test_pixel_shuffle(shape, r):
    # torch's PixelShuffleBackward0 mis-shapes the gradient of an empty input: compare values only there
    parity(lambda t, x: t.nn.functional.pixel_shuffle(x, r), randn(*shape), grad=0 not in shape)
    unshape = shape[:-3] + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    if 0 in shape:  # torch's pixel_unshuffle returns an empty input unchanged (shape not unshuffled)
        assert tuple(ember.nn.functional.pixel_unshuffle(ember.zeros(*unshape), r).shape) == shape
        return
    parity(lambda t, x: t.nn.functional.pixel_unshuffle(x, r), randn(*unshape, dtype="float64"))


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda t, x: t.nn.functional.pixel_shuffle(x, 2), (2, 8)),
        (lambda t, x: t.nn.functional.pixel_shuffle(x, 2), (2, 5, 3, 3)),
        (lambda t, x: t.nn.functional.pixel_shuffle(x, 0), (2, 5, 3, 3)),
        (lambda t, x: t.nn.functional.pixel_unshuffle(x, 2), (2, 5, 3, 4)),
        (lambda t, x: t.nn.functional.pixel_unshuffle(x, 2), (2, 5, 4, 3)),
    ],
)
def test_pixel_shuffle_errors(fn, shape):
    raises_like(fn, randn(*shape))


# ------------------------------------------------------------------------------------------ gradients


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda t, x: t.nn.functional.pad(x, (2, -1, 1, 1), value=3.0), (1, 2, 3, 4)),
        (lambda t, x: t.nn.functional.pad(x, (2, 1, 1, 2), mode="reflect"), (1, 2, 3, 4)),
        (lambda t, x: t.nn.functional.pad(x, (3, -1), mode="replicate"), (2, 2, 4)),
        (lambda t, x: t.nn.functional.pad(x, (1, 2, 2, 0), mode="circular"), (1, 2, 3, 3)),
        (lambda t, x: t.nn.functional.interpolate(x, size=(5, 3)), (1, 2, 3, 4)),
        (lambda t, x: t.nn.functional.interpolate(x, scale_factor=1.5, mode="bilinear"), (1, 2, 3, 4)),
        (
            lambda t, x: t.nn.functional.interpolate(x, size=(4, 5), mode="bicubic", align_corners=True),
            (1, 1, 3, 3),
        ),
        (lambda t, x: t.nn.functional.interpolate(x, size=5, mode="linear"), (2, 2, 3)),
        (lambda t, x: t.nn.functional.interpolate(x, size=(2, 3), mode="area"), (1, 2, 5, 4)),
        (lambda t, x: t.nn.functional.pixel_shuffle(x, 2), (1, 8, 2, 2)),
    ],
)
def test_vision_gradcheck(fn, shape):
    gradcheck_fn(fn, randn(*shape))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: ember.nn.functional.pad(x, (2, 1, 1, 2), mode="reflect"),
        lambda x: ember.nn.functional.interpolate(x, size=(5, 7), mode="bilinear"),
        lambda x: ember.nn.functional.interpolate(x, scale_factor=2, mode="nearest"),
    ],
)
def test_vision_gradgradcheck(fn):
    x = ember.tensor(np.random.default_rng(4).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert ember.autograd.gradgradcheck(fn, (x,))


# ------------------------------------------------------------------------------------------ layers

VISION_LAYERS = [
    (lambda nn: nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda nn: nn.Upsample(size=(7, 3), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    (lambda nn: nn.Upsample(scale_factor=(2, 1.5), mode="bicubic"), (2, 3, 4, 5)),
    (lambda nn: nn.Upsample(scale_factor=1.5, mode="linear"), (2, 3, 5)),
    (lambda nn: nn.Upsample(size=(3, 4, 5), mode="trilinear"), (1, 2, 2, 3, 3)),
    (lambda nn: nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 4, 5)),
    (lambda nn: nn.UpsamplingBilinear2d(size=(6, 7)), (2, 3, 4, 5)),
    (lambda nn: nn.PixelShuffle(2), (2, 8, 3, 4)),
    (lambda nn: nn.PixelUnshuffle(2), (2, 2, 4, 6)),
    (lambda nn: nn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    (lambda nn: nn.ZeroPad1d(2), (2, 3, 5)),
    (lambda nn: nn.ZeroPad3d(1), (1, 2, 2, 3, 3)),
    (lambda nn: nn.ConstantPad1d((2, -1), 3.5), (2, 3, 5)),
    (lambda nn: nn.ConstantPad2d(1, -1.0), (3, 4, 5)),
    (lambda nn: nn.ConstantPad3d((1, 0, 0, 1, 1, 0), 2.0), (1, 2, 2, 3, 3)),
    (lambda nn: nn.ReflectionPad1d((2, 3)), (2, 3, 5)),
    (lambda nn: nn.ReflectionPad2d(2), (2, 3, 4, 5)),
    (lambda nn: nn.ReflectionPad3d(1), (1, 2, 2, 3, 3)),
    (lambda nn: nn.ReplicationPad1d(3), (3, 5)),
    (lambda nn: nn.ReplicationPad2d((1, 0, 2, 3)), (2, 3, 4, 5)),
    (lambda nn: nn.ReplicationPad3d(2), (1, 2, 2, 3, 3)),
    (lambda nn: nn.CircularPad1d(2), (2, 3, 5)),
    (lambda nn: nn.CircularPad2d((1, 2, 2, 1)), (2, 3, 4, 5)),
    (lambda nn: nn.CircularPad3d(1), (1, 2, 2, 3, 3)),
]


@pytest.mark.parametrize("make,shape", VISION_LAYERS)
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_vision_layer_parity(make, shape, dtype):
    layer_parity(make, randn(*shape, dtype=dtype or "float32"), dtype=dtype)
    assert repr(make(ember.nn)) == repr(make(torch.nn))


def test_circular_pad_layer_rank_error():
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        ember.nn.CircularPad2d(1)(ember.zeros(5))
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        torch.nn.CircularPad2d(1)(torch.zeros(5))


def test_upsample_attributes():
    e, t = ember.nn.Upsample(scale_factor=(2, 3)), torch.nn.Upsample(scale_factor=(2, 3))
    assert e.scale_factor == t.scale_factor == (2.0, 3.0)
    assert e.name == t.name and e.recompute_scale_factor == t.recompute_scale_factor
    assert repr(ember.nn.Upsample(size=4)) == repr(torch.nn.Upsample(size=4))
