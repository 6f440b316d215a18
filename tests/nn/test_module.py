"""nn.Module's public surface and the containers, side by side with torch.nn."""

import copy
import pickle

import numpy as np
import pytest
import torch

import ember
from tests.helpers import assert_close, randn
from tests.nn_helpers import copy_state, layer_parity


def _net(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 4)
            self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))
            self.register_buffer("stat", (ember if nn is ember.nn else torch).arange(3.0))
            self.register_buffer("tmp", (ember if nn is ember.nn else torch).zeros(2), persistent=False)
            self.scale = nn.Parameter((ember if nn is ember.nn else torch).ones(1))
            self.plain = 5

        def forward(self, x):
            return self.seq(self.a(x)) * self.scale

    return Net()


def test_registration_and_traversal_match_torch():
    t, e = _net(torch.nn), _net(ember.nn)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict().keys()) == list(t.state_dict().keys())
    assert e.plain == 5 and "plain" not in e._parameters
    assert isinstance(e.get_submodule("seq.0"), ember.nn.Linear)
    assert e.get_parameter("seq.0.weight") is e.seq[0].weight
    assert e.get_buffer("stat") is e.stat
    if torch.__version__.startswith("2.13"):  # module reprs changed between torch releases
        assert repr(e) == repr(t)
    assert sorted(dir(e)) == sorted(set(dir(e)))


def test_tied_parameters_count_once():
    for nn in (torch.nn, ember.nn):
        a, b = nn.Linear(4, 4), nn.Linear(4, 4)
        b.weight = a.weight
        m = nn.Sequential(a, b)
        assert len(list(m.parameters())) == 3
        assert len(list(m.named_parameters(remove_duplicate=False))) == 4
        shared = nn.ReLU()
        m2 = nn.Sequential(shared, shared)
        assert len(list(m2.modules())) == 2


def test_setattr_routing_errors_like_torch():
    for nn, mod in ((torch.nn, torch), (ember.nn, ember)):
        m = nn.Linear(2, 2)
        with pytest.raises(TypeError):
            m.weight = mod.ones(2, 2)  # a plain tensor can't replace a Parameter
        m.weight = nn.Parameter(mod.ones(2, 2))
        m.bias = None
        assert m.bias is None and "bias" in m._parameters
        with pytest.raises(KeyError):
            m.register_buffer("a.b", mod.ones(1))
        with pytest.raises(KeyError):
            m.register_parameter("weight2", nn.Parameter(mod.ones(1))) or m.register_buffer("weight2", None)
        with pytest.raises(TypeError):
            m.register_buffer("x", 3)

        class Early(nn.Module):
            def __init__(self):
                self.p = nn.Parameter(mod.ones(1))  # noqa: B023

        with pytest.raises(AttributeError):
            Early()
        with pytest.raises(AttributeError):
            m.nonexistent


def test_state_dict_round_trip_and_load_errors():
    t, e = _net(torch.nn), _net(ember.nn)
    copy_state(t, e)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    assert_close(e(ember.tensor(x)), t(torch.tensor(x)))
    sd = e.state_dict()
    assert not sd["a.weight"].requires_grad and sd["a.weight"]._data is e.a.weight._data
    del sd["a.bias"]
    sd["extra"] = ember.ones(1)
    res = e.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["a.bias"] and res.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "a.bias"'):
        e.load_state_dict(sd)
    bad = e.state_dict()
    bad["a.weight"] = ember.ones(2, 2)
    with pytest.raises(RuntimeError, match="size mismatch for a.weight"):
        e.load_state_dict(bad)
    assert e.load_state_dict(e.state_dict()).missing_keys == []


def test_train_eval_requires_grad_zero_grad_apply():
    e = _net(ember.nn)
    assert e.training and e.seq[0].training
    e.eval()
    assert not e.training and not e.seq[0].training
    e.train()
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())
    e.requires_grad_(True)
    e(ember.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in e.parameters())
    e.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in e.parameters())
    e.zero_grad()
    assert all(p.grad is None for p in e.parameters())
    seen = []
    e.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3


def test_to_and_casts_keep_parameter_identity():
    e = _net(ember.nn)
    w = e.a.weight
    opt_view = list(e.parameters())
    e.double()
    assert e.a.weight is w and w.dtype is ember.float64 and e.stat.dtype is ember.float64
    e.to(ember.float32)
    assert w.dtype is ember.float32 and any(p is w for p in opt_view)
    e.to("cpu")
    e.half().float()
    with pytest.raises(TypeError):
        e.to(ember.int64)
    assert e(ember.randn(2, 3)).dtype is ember.float32


def test_forward_hooks_match_torch():
    def run(nn, mod):
        m = nn.Linear(3, 2)
        torch.manual_seed(0)
        with mod.no_grad():
            m.weight.copy_(mod.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]]))
            m.bias.copy_(mod.tensor([0.1, 0.2]))
        log = []
        h1 = m.register_forward_pre_hook(lambda mod_, args: (args[0] * 2,))
        h2 = m.register_forward_hook(lambda mod_, args, out: out + 1)
        h3 = m.register_forward_hook(lambda mod_, args, kw, out: log.append(sorted(kw)), with_kwargs=True)
        x = mod.tensor([[1.0, 1.0, 1.0]])
        y1 = m(x)
        h1.remove()
        y2 = m(x)
        h2.remove()
        h3.remove()
        y3 = m(x)
        return y1, y2, y3, log

    e, t = run(ember.nn, ember), run(torch.nn, torch)
    for a, b in zip(e[:3], t[:3]):
        assert_close(a, b)
    assert e[3] == t[3]
    m = ember.nn.Linear(2, 2)
    assert not m._has_hooks
    h = m.register_forward_hook(lambda *a: None)
    assert m._has_hooks
    h.remove()
    assert not m._has_hooks


def test_full_backward_hooks_match_torch():
    def run(nn, mod):
        m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        return m

    t = run(torch.nn, torch)
    e = run(ember.nn, ember)
    copy_state(t, e)
    logs = {}
    for name, (mod, m) in {"t": (torch, t), "e": (ember, e)}.items():
        rec = []
        m[2].register_full_backward_pre_hook(lambda mod_, go: (go[0] * 2,))
        m[2].register_full_backward_hook(
            lambda mod_, gi, go, rec=rec: rec.append((gi[0].clone(), go[0].clone()))
        )
        m[0].register_full_backward_hook(lambda mod_, gi, go: (gi[0] * 0.5,))
        x = mod.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3) / 5, requires_grad=True)
        m(x).sum().backward()
        logs[name] = (rec, x.grad, m[0].weight.grad)
    assert_close(logs["e"][0][0][0], logs["t"][0][0][0])
    assert_close(logs["e"][0][0][1], logs["t"][0][0][1])
    assert_close(logs["e"][1], logs["t"][1])
    assert_close(logs["e"][2], logs["t"][2])


def test_containers_like_torch():
    for nn in (torch.nn, ember.nn):
        seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and len(seq[1:]) == 2
        seq.append(nn.Sigmoid())
        seq.insert(0, nn.Identity())
        del seq[0]
        assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear", "Sigmoid"]
        assert list(seq.state_dict().keys()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
        ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
        ml.extend([nn.ReLU()])
        ml.insert(1, nn.Tanh())
        assert len(ml) == 5 and isinstance(ml[1], nn.Tanh) and len(ml[::2]) == 3
        md = nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(1, 2)})
        md["c"] = nn.Tanh()
        assert list(md.keys()) == ["a", "b", "c"] and "b" in md
        assert list(md.state_dict().keys()) == ["b.weight", "b.bias"]
        mod = ember if nn is ember.nn else torch
        pl = nn.ParameterList([nn.Parameter(mod.ones(2)), mod.zeros(3)])
        assert len(pl) == 2 and isinstance(pl[1], nn.Parameter) and len(list(pl.parameters())) == 2
        pd = nn.ParameterDict({"w": mod.ones(2)})
        pd["b"] = nn.Parameter(mod.zeros(1))
        assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
        assert list(pd.state_dict().keys()) == ["w", "b"]
    e = ember.nn.Sequential(ember.nn.Linear(2, 3), ember.nn.ReLU())
    t = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    assert repr(e) == repr(t)
    assert repr(ember.nn.ModuleList()) == repr(torch.nn.ModuleList())
    assert repr(ember.nn.ParameterList([ember.nn.Parameter(ember.ones(2, 3))])).replace(
        "ember.", "torch."
    ) == repr(torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3))]))


def test_deepcopy_and_pickle_modules():
    e = _net(ember.nn)
    c = copy.deepcopy(e)
    assert c.a.weight is not e.a.weight and isinstance(c.a.weight, ember.nn.Parameter)
    assert_close(c.a.weight, torch.tensor(e.a.weight.detach().cpu().numpy()))
    p = pickle.loads(pickle.dumps(ember.nn.Sequential(ember.nn.Linear(2, 2))))
    assert isinstance(p[0].weight, ember.nn.Parameter) and p[0].weight.requires_grad


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (7,)])
def test_linear_layer_parity(bias, shape):
    layer_parity(lambda nn: nn.Linear(7, 4, bias=bias), randn(*shape))
    layer_parity(lambda nn: nn.Linear(7, 4, bias=bias), randn(*shape, dtype="float64"), dtype="float64")


def test_bilinear_and_flatten_layers():
    layer_parity(lambda nn: nn.Bilinear(3, 4, 5), randn(6, 3), randn(6, 4))
    layer_parity(lambda nn: nn.Flatten(), randn(2, 3, 4))
    layer_parity(lambda nn: nn.Unflatten(1, (2, 3)), randn(4, 6))
    layer_parity(lambda nn: nn.Identity(54, unused="x"), randn(3))


def test_linear_errors_and_init():
    with pytest.raises(
        RuntimeError,
        match=r"Linear\(in_features=784\): expected input\[..., 784\], got shape "
        r"\(64, 783\)",
    ):
        ember.nn.Linear(784, 10)(ember.randn(64, 783))
    w = ember.nn.Linear(400, 300).weight
    bound = 1 / 20
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.9 * bound
    assert abs(float(w.std()) - bound / np.sqrt(3)) < 0.01 * bound * 10


@pytest.mark.parametrize(
    "name,kw",
    [
        ("ReLU", {}),
        ("ReLU6", {}),
        ("LeakyReLU", {"negative_slope": 0.2}),
        ("ELU", {"alpha": 0.7}),
        ("SELU", {}),
        ("CELU", {"alpha": 1.3}),
        ("GELU", {"approximate": "tanh"}),
        ("GELU", {}),
        ("SiLU", {}),
        ("Mish", {}),
        ("Softplus", {"beta": 2.0}),
        ("Sigmoid", {}),
        ("LogSigmoid", {}),
        ("Tanh", {}),
        ("Hardtanh", {}),
        ("Hardswish", {}),
        ("Hardsigmoid", {}),
        ("Softmax", {"dim": 1}),
        ("LogSoftmax", {"dim": -1}),
        ("Softmin", {"dim": 1}),
        ("Softsign", {}),
        ("Tanhshrink", {}),
        ("Hardshrink", {}),
        ("Softshrink", {"lambd": 0.3}),
        ("Threshold", {"threshold": 0.1, "value": -2.0}),
        ("GLU", {}),
        ("PReLU", {}),
        ("PReLU", {"num_parameters": 4}),
    ],
)
def test_activation_modules(name, kw):
    layer_parity(lambda nn: getattr(nn, name)(**kw), randn(3, 4, 2))
    assert repr(getattr(ember.nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))


def test_functional_activations_inplace():
    import torch.nn.functional as TF

    import ember.nn.functional as F

    for fe, ft in ((F.relu, TF.relu), (F.elu, TF.elu), (F.hardtanh, TF.hardtanh)):
        xe, xt = ember.tensor([-1.0, 0.5, 2.0]), torch.tensor([-1.0, 0.5, 2.0])
        re, rt = fe(xe, inplace=True), ft(xt, inplace=True)
        assert re is xe and rt is xt
        assert_close(xe, xt)
