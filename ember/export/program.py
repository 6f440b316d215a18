"""Program: a captured graph plus its weights, callable like the model it came from (run with ember's ops).

Node names resolve only through the registry of traceable functions, ember's Op classes and the sym.*
arithmetic — never through getattr on a name read from a file — so a loaded graph cannot call arbitrary code.
"""

from __future__ import annotations

import numpy as np

from ember_runtime.interpreter import SYM_OPS
from ember_runtime.interpreter import decode as _decode

from .. import _dtype as D
from .._tensor import Tensor
from .._trace_hooks import REGISTRY
from ..autograd.grad_mode import no_grad
from ..ops._dispatch import dispatch
from .graph import format_graph
from .trace import ExportError, rebuild_out

_OPS: dict = {}
_DTYPES = {
    "float32": D.float32,
    "float64": D.float64,
    "float16": D.float16,
    "bfloat16": D.bfloat16,
    "int64": D.int64,
    "int32": D.int32,
    "int16": D.int16,
    "int8": D.int8,
    "uint8": D.uint8,
    "bool": D.bool_,
}


def _op_classes() -> dict:
    if not _OPS:
        import ember.nn.functional  # noqa: F401  (registers the nn ops)

        from ..ops.op import Op

        stack = [Op]
        while stack:
            c = stack.pop()
            for s in c.__subclasses__():
                _OPS.setdefault(s.__name__, s)
                stack.append(s)
    return _OPS


def decode(obj, env: dict):
    """An encoded argument with ember dtypes (the format's decoding is ember_runtime's)."""
    return _decode(obj, env, _dtype)


def _dtype(name: str):
    try:
        return _DTYPES[name]
    except KeyError:
        raise ExportError(f"ember.export: unknown dtype '{name}'") from None


def run_node(node: dict, env: dict) -> list:
    """Evaluate one node with ember's ops; returns its outputs (a list, one per node output)."""
    op = node["op"]
    args = [decode(a, env) for a in node["args"]]
    kwargs = {k: decode(v, env) for k, v in node["kwargs"].items()}
    if op.startswith("sym."):
        if op == "sym.size":
            return [int(args[0].shape[args[1]])]
        fn = SYM_OPS.get(op)
        if fn is None:
            raise ExportError(f"ember.export: unknown symbolic op '{op}'")
        return [fn(*(int(a) for a in args))]
    if op.startswith("op."):
        cls = _op_classes().get(op[3:])
        if cls is None:
            raise ExportError(f"ember.export: unknown op '{op}' (called at module '{node.get('scope', '')}')")
        if not cls.tensor_attrs:
            kwargs = {k: v._data if isinstance(v, Tensor) else v for k, v in kwargs.items()}
        out = dispatch(cls, tuple(args), kwargs)
    else:
        fn = REGISTRY.get(op)
        if fn is None:
            raise ExportError(f"ember.export: unknown op '{op}' (called at module '{node.get('scope', '')}')")
        out = fn(*args, **kwargs)
    return [out] if isinstance(out, Tensor) else list(out)


class Program:
    """A traced model: ``program(*inputs)`` runs the graph; ``print(program)`` lists it."""

    def __init__(self, graph: dict, params: dict, *, golden=None, extra_files=None, metadata=None):
        self.graph = graph
        self.params = params
        self.golden = golden
        self.extra_files = dict(extra_files or {})
        self.metadata = dict(metadata or {})

    @property
    def input_names(self) -> list:
        return [i["name"] for i in self.graph["inputs"]]

    @property
    def output_names(self) -> list:
        return [o["name"] for o in self.graph["outputs"]]

    def module(self):
        """torch.export's spelling: a callable running the program."""
        return self

    def to(self, device) -> Program:
        self.params = {k: v.to(device) for k, v in self.params.items()}
        return self

    def _bind_inputs(self, inputs) -> dict:
        from ..ops.factory import from_numpy

        spec = self.graph["inputs"]
        if len(inputs) != len(spec):
            raise TypeError(
                f"ember.export program takes {len(spec)} inputs ({', '.join(self.input_names)}), "
                f"got {len(inputs)}"
            )
        dev = next(iter(self.params.values())).device if self.params else None
        env = {}
        for x, s in zip(inputs, spec):
            if isinstance(x, np.ndarray):
                x = from_numpy(np.ascontiguousarray(x))
            if not isinstance(x, Tensor):
                raise TypeError(f"input '{s['name']}' must be a tensor or array, got {type(x).__name__}")
            if dev is not None and x.device != dev:
                x = x.to(dev)
            want = _DTYPES[s["dtype"]]
            ok_rank = x.dim() == len(s["shape"])
            ok_dims = ok_rank and all(isinstance(d, str) or d == n for d, n in zip(s["shape"], x.shape))
            if x.dtype is not want or not ok_dims:
                shape = "[" + ", ".join(str(d) for d in s["shape"]) + "]"
                raise ValueError(
                    f"input '{s['name']}': expected {s['dtype']}{shape}, got {_name(x.dtype)}{list(x.shape)}"
                )
            env[s["value"]] = x
        return env

    def run_flat(self, *inputs) -> list:
        """The graph outputs as a flat list of tensors, in `output_names` order (servers use this)."""
        env = dict(self.params)
        env.update(self._bind_inputs(inputs))
        with no_grad():
            for node in self.graph["nodes"]:
                for name, v in zip(node["outputs"], run_node(node, env)):
                    if name is not None:
                        env[name] = v
        return [env[o["value"]] for o in self.graph["outputs"]]

    def __call__(self, *inputs):
        flat = self.run_flat(*inputs)
        spec = self.graph.get("output_structure")
        return rebuild_out(spec, flat) if spec is not None else tuple(flat)

    def verify(self, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
        """Re-run the golden example saved with the program; raise AssertionError on a mismatch."""
        if self.golden is None:
            raise ExportError("ember.export: this program has no golden example")
        ins, outs = self.golden
        got = self(*ins)
        got = [got] if isinstance(got, Tensor) else _flat(got)
        for i, (g, w) in enumerate(zip(got, outs)):
            a = g.detach().float().cpu().numpy() if g.dtype.is_floating_point else g.cpu().numpy()
            b = w.detach().float().cpu().numpy() if w.dtype.is_floating_point else w.cpu().numpy()
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"golden output {i} differs")
        return True

    def __repr__(self) -> str:
        return format_graph(self.graph)

    __str__ = __repr__


def _flat(x) -> list:
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat(v)]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _flat(v)]
    return []


def _name(dt) -> str:
    return str(dt).rsplit(".", 1)[-1]
