"""Generic checks over every Module class in ember.nn: repr equals torch's, state_dict round trip through
ember.save/ember.load, to(float64), train()/eval(). A new class must be added to ARGS (the first test
fails otherwise), so nothing escapes these checks."""

import inspect

import pytest
import torch

import ember
from tests.helpers import assert_close

ARGS = {
    "AdaptiveAvgPool1d": (3,),
    "AdaptiveAvgPool2d": ((2, 3),),
    "AdaptiveAvgPool3d": (2,),
    "AdaptiveMaxPool1d": (3,),
    "AdaptiveMaxPool2d": (2,),
    "AdaptiveMaxPool3d": (2,),
    "AlphaDropout": (0.2,),
    "AvgPool1d": (3,),
    "AvgPool2d": (2, 1),
    "AvgPool3d": (2,),
    "BCELoss": (),
    "BCEWithLogitsLoss": (),
    "BatchNorm1d": (4,),
    "BatchNorm2d": (4,),
    "BatchNorm3d": (4,),
    "Bilinear": (3, 4, 5),
    "CELU": (),
    "CircularPad1d": (1,),
    "CircularPad2d": (1,),
    "CircularPad3d": (1,),
    "ConstantPad1d": (1, 0.5),
    "ConstantPad2d": (1, 0.5),
    "ConstantPad3d": (1, 0.5),
    "Conv1d": (2, 3, 3),
    "Conv2d": (2, 3, 3, 2, 1),
    "Conv3d": (2, 3, 2),
    "ConvTranspose1d": (2, 3, 3),
    "ConvTranspose2d": (2, 3, 3, 2),
    "ConvTranspose3d": (2, 3, 2),
    "CosineEmbeddingLoss": (),
    "CosineSimilarity": (),
    "CrossEntropyLoss": (),
    "Dropout": (0.3,),
    "Dropout1d": (),
    "Dropout2d": (),
    "Dropout3d": (),
    "ELU": (),
    "Embedding": (10, 3),
    "EmbeddingBag": (10, 3),
    "FeatureAlphaDropout": (),
    "Flatten": (),
    "Fold": ((4, 5), (2, 2)),
    "GELU": (),
    "GLU": (),
    "GRU": (3, 4, 2),
    "GRUCell": (3, 4),
    "GaussianNLLLoss": (),
    "GroupNorm": (2, 4),
    "Hardshrink": (),
    "Hardsigmoid": (),
    "Hardswish": (),
    "Hardtanh": (),
    "HingeEmbeddingLoss": (),
    "HuberLoss": (),
    "Identity": (),
    "InstanceNorm1d": (3,),
    "InstanceNorm2d": (3,),
    "InstanceNorm3d": (3,),
    "KLDivLoss": (),
    "L1Loss": (),
    "LPPool1d": (2, 3),
    "LPPool2d": (2, 2),
    "LPPool3d": (2, 2),
    "LSTM": (3, 4),
    "LSTMCell": (3, 4),
    "LayerNorm": (4,),
    "LeakyReLU": (),
    "Linear": (3, 4),
    "LocalResponseNorm": (2,),
    "LogSigmoid": (),
    "LogSoftmax": (1,),
    "MSELoss": (),
    "MarginRankingLoss": (),
    "MaxPool1d": (2,),
    "MaxPool2d": (3, 2, 1),
    "MaxPool3d": (2,),
    "MaxUnpool1d": (2,),
    "MaxUnpool2d": (2,),
    "MaxUnpool3d": (2,),
    "Mish": (),
    "MultiLabelMarginLoss": (),
    "MultiLabelSoftMarginLoss": (),
    "MultiMarginLoss": (),
    "MultiheadAttention": (8, 2),
    "NLLLoss": (),
    "PReLU": (),
    "PairwiseDistance": (),
    "PixelShuffle": (2,),
    "PixelUnshuffle": (2,),
    "PoissonNLLLoss": (),
    "RMSNorm": (4,),
    "RNN": (3, 4),
    "RNNCell": (3, 4),
    "RReLU": (),
    "ReLU": (),
    "ReLU6": (),
    "ReflectionPad1d": (1,),
    "ReflectionPad2d": (1,),
    "ReflectionPad3d": (1,),
    "ReplicationPad1d": (1,),
    "ReplicationPad2d": (1,),
    "ReplicationPad3d": (1,),
    "SELU": (),
    "SiLU": (),
    "Sigmoid": (),
    "SmoothL1Loss": (),
    "SoftMarginLoss": (),
    "Softmax": (1,),
    "Softmin": (1,),
    "Softplus": (),
    "Softshrink": (),
    "Softsign": (),
    "Tanh": (),
    "Tanhshrink": (),
    "Threshold": (0.1, 20.0),
    "Transformer": (8, 2, 1, 1, 16),
    "TransformerDecoderLayer": (8, 2, 16),
    "TransformerEncoderLayer": (8, 2, 16),
    "TripletMarginLoss": (),
    "TripletMarginWithDistanceLoss": (),
    "Unflatten": (1, (2, 2)),
    "Unfold": ((2, 2),),
    "Upsample": (None, 2.0),
    "UpsamplingBilinear2d": (None, 2.0),
    "UpsamplingNearest2d": (None, 2.0),
    "ZeroPad1d": (1,),
    "ZeroPad2d": (1,),
    "ZeroPad3d": (1,),
}
# Classes built from other modules, with their own factories (both libraries).
FACTORIES = {
    "Sequential": lambda nn: nn.Sequential(nn.Linear(2, 3), nn.ReLU()),
    "ModuleList": lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)]),
    "ModuleDict": lambda nn: nn.ModuleDict({"a": nn.Linear(2, 2)}),
    "ParameterList": lambda nn: nn.ParameterList(
        [nn.Parameter(nn.init.zeros_((torch if nn is torch.nn else ember).empty(2)))]
    ),
    "ParameterDict": lambda nn: nn.ParameterDict(
        {"w": nn.Parameter((torch if nn is torch.nn else ember).ones(2))}
    ),
    "TransformerEncoder": lambda nn: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16), 2, enable_nested_tensor=False
    ),
    "TransformerDecoder": lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2),
}
ABSTRACT = {"Module", "RNNBase", "RNNCellBase"}


def _classes():
    return sorted(
        n for n, c in vars(ember.nn).items() if inspect.isclass(c) and issubclass(c, ember.nn.Module)
    )


def _make(nn, name):
    if name in FACTORIES:
        return FACTORIES[name](nn)
    return getattr(nn, name)(*ARGS[name])


def test_every_module_class_is_covered():
    missing = [n for n in _classes() if n not in ARGS and n not in FACTORIES and n not in ABSTRACT]
    assert not missing, f"add these to ARGS/FACTORIES: {missing}"


@pytest.mark.parametrize("name", sorted(set(ARGS) | set(FACTORIES)))
def test_generic_module_checks(name, tmp_path):
    ember.manual_seed(0)
    e = _make(ember.nn, name)
    t = _make(torch.nn, name)
    if torch.__version__.startswith("2.13"):  # module reprs changed between torch releases
        assert repr(e).replace("ember.", "torch.") == repr(t)
    assert list(e.state_dict().keys()) == list(t.state_dict().keys())
    # state_dict round trip through ember.save / ember.load into a fresh instance
    path = tmp_path / "m.ember"
    ember.save(e.state_dict(), path)
    ember.manual_seed(1)
    fresh = _make(ember.nn, name)
    result = fresh.load_state_dict(ember.load(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, a), (_, b) in zip(e.state_dict().items(), fresh.state_dict().items()):
        assert_close(b, torch.tensor(a.cpu().numpy()), what=k)
    # train/eval propagate
    e.eval()
    assert all(not m.training for m in e.modules())
    e.train()
    assert all(m.training for m in e.modules())
    # to(float64) converts floating parameters and buffers, keeps others
    e.to(ember.float64)
    for k, v in e.state_dict().items():
        if v.is_floating_point():
            assert v.dtype is ember.float64, k
        else:
            assert v.dtype in (ember.int64, ember.bool), k
