"""Graph capture by tracing: run the model once and record what it calls (format: ember/export/FORMAT.md).

Calls of public functions and Tensor methods marked ``traceable`` are recorded as one node each, as the user
wrote them ("F.linear", "T.view", "E.arange"); any other dispatched op is recorded at op level ("op.Add").
Sizes read from traced tensors are SymInts, so shape arithmetic stays symbolic. Computations that touch no
traced value (literals, constant masks) run at trace time and enter the graph as constants. Reading a traced
value on the host (``.item()``, ``bool()``...), random ops, dropout in training mode and in-place writes to
inputs, parameters or views raise ExportError naming the module path and the op.
"""

from __future__ import annotations

import inspect
import itertools
import math
import sys
import warnings

import numpy as np

from .. import _dtype as D
from .._device import device as _device_cls
from .._size import Size, _fast_size
from .._tensor import Tensor
from .._trace_hooks import ACTIVE, unwrap_methods, wrap_methods
from ..autograd.grad_mode import no_grad
from ..ops._dispatch import dispatch, pop_mode, push_mode
from .symbolic import SymInt

_RANDOM_OPS = {"Sample", "Bernoulli", "Multinomial", "RandPerm", "Poisson"}


class ExportError(RuntimeError):
    """A model construct that tracing cannot capture (the message names the module path and the op)."""


def _flatten_out(out, where: str):
    """(list of tensors, structure spec) of a model's return value."""
    if isinstance(out, Tensor):
        return [out], "tensor"
    if out is None:
        return [], None
    if isinstance(out, (tuple, list)):
        tensors, specs = [], []
        for o in out:
            t, s = _flatten_out(o, where)
            specs.append([len(tensors), s])
            tensors.extend(t)
        return tensors, {"seq": "tuple" if isinstance(out, tuple) else "list", "items": specs}
    if isinstance(out, dict):
        tensors, specs = [], {}
        for k, o in out.items():
            t, s = _flatten_out(o, where)
            specs[str(k)] = [len(tensors), s]
            tensors.extend(t)
        return tensors, {"dict": specs}
    raise ExportError(
        f"ember.export: {where} returned a {type(out).__name__}; return tensors, tuples, lists or dicts"
    )


def rebuild_out(spec, flat: list, base: int = 0):
    """The model's return structure from the flat list of output tensors (inverse of _flatten_out)."""
    if spec == "tensor":
        return flat[base]
    if spec is None:
        return None
    if "seq" in spec:
        items = [rebuild_out(s, flat, base + off) for off, s in spec["items"]]
        return tuple(items) if spec["seq"] == "tuple" else items
    return {k: rebuild_out(s, flat, base + off) for k, (off, s) in spec["dict"].items()}


class Tracer:
    def __init__(self, root):
        self.nodes: list = []
        self.values: dict = {}  # id(tensor) -> value name
        self.keep: list = []  # tensors whose ids are in `values` (ids must not be reused while tracing)
        self.params: dict = {}  # value name -> (key, tensor)
        self.inputs: set = set()
        self.inside = 0
        self.scope = [""]
        self._count = itertools.count()
        self._sizes: dict = {}
        self.param_keys: dict = {}
        self.module_names: dict = {}
        if root is not None:
            for name, p in root.named_parameters(remove_duplicate=False):
                self.param_keys.setdefault(id(p), name)
            for name, b in root.named_buffers(remove_duplicate=False):
                self.param_keys.setdefault(id(b), name)
            for name, m in root.named_modules(remove_duplicate=False):
                self.module_names.setdefault(id(m), name)

    # -- values
    def _name(self, prefix: str) -> str:
        return f"{prefix}{next(self._count)}"

    def _bind(self, t: Tensor, name: str) -> str:
        self.values[id(t)] = name
        self.keep.append(t)
        return name

    def value_of(self, t: Tensor) -> str:
        name = self.values.get(id(t))
        if name is None:  # a parameter, buffer or constant first used here
            name = self._bind(t, self._name("p"))
            key = self.param_keys.get(id(t)) or f"const.{name}"
            self.params[name] = (key, t.detach())
        return name

    def traced(self, t) -> bool:
        return id(t) in self.values or id(t) in self.param_keys

    def depends(self, obj) -> bool:
        if isinstance(obj, Tensor):
            return self.traced(obj)
        if isinstance(obj, SymInt):
            return True
        if isinstance(obj, (tuple, list)):
            return any(self.depends(o) for o in obj)
        if isinstance(obj, slice):
            return self.depends((obj.start, obj.stop, obj.step))
        if isinstance(obj, dict):
            return any(self.depends(o) for o in obj.values())
        return False

    def where(self) -> str:
        return self.scope[-1]

    # -- encoding of arguments
    def encode(self, obj, op: str):
        if isinstance(obj, Tensor):
            return {"$v": self.value_of(obj)}
        if isinstance(obj, SymInt):
            return {"$s": obj.ref}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            f = float(obj)
            return f if math.isfinite(f) else {"$f": "nan" if f != f else ("inf" if f > 0 else "-inf")}
        if isinstance(obj, tuple):
            return {"$tuple": [self.encode(o, op) for o in obj]}
        if isinstance(obj, list):
            return [self.encode(o, op) for o in obj]
        if isinstance(obj, slice):
            return {
                "$slice": [self.encode(obj.start, op), self.encode(obj.stop, op), self.encode(obj.step, op)]
            }
        if obj is Ellipsis:
            return {"$ellipsis": True}
        if isinstance(obj, D.dtype):
            return {"$dtype": _dtype_name(obj)}
        if isinstance(obj, _device_cls):
            return None  # the program runs where it is loaded
        if isinstance(obj, np.ndarray):
            from ..ops.factory import from_numpy

            return {"$v": self.value_of(from_numpy(np.ascontiguousarray(obj)))}
        raise ExportError(
            f"ember.export: cannot record an argument of type {type(obj).__name__} for '{op}' "
            f"(called at module '{self.where()}')"
        )

    # -- outputs
    def _outputs(self, out, op: str):
        if isinstance(out, Tensor):
            return [self._bind(out, self._name("v"))]
        if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) or o is None for o in out):
            return [None if o is None else self._bind(o, self._name("v")) for o in out]
        raise ExportError(
            f"ember.export: '{op}' returned a {type(out).__name__}, which a graph cannot carry "
            f"(called at module '{self.where()}')"
        )

    def _record(self, op: str, args, kwargs, run):
        node = {
            "op": op,
            "args": [self.encode(a, op) for a in args],
            "kwargs": {k: self.encode(v, op) for k, v in kwargs.items()},
            "outputs": None,
            "scope": self.where(),
        }
        self.inside += 1
        try:
            out = run()
        finally:
            self.inside -= 1
        node["outputs"] = self._outputs(out, op)
        self.nodes.append(node)
        return out

    def record_call(self, name: str, fn, args, kwargs):
        """An API-level call ("F.linear", "T.view", ...): one node, inner ops unrecorded."""
        if not (self.depends(args) or self.depends(kwargs)):
            self.inside += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.inside -= 1
        if name == "F.dropout":
            bound = inspect.signature(fn).bind(*args, **kwargs)
            bound.apply_defaults()
            if bound.arguments.get("training") and bound.arguments.get("p"):
                raise ExportError(
                    f"ember.export: dropout in training mode is random and cannot be exported (called at module "
                    f"'{self.where()}'); call model.eval() before exporting"
                )
        return self._record(name, args, kwargs, lambda: fn(*args, **kwargs))

    def mode(self, op, args, kwargs, inplace):
        """The dispatch mode: ops outside recorded API calls become op-level nodes."""
        name = f"op.{op.__name__}"
        if op.__name__ in _RANDOM_OPS and not self.inside:  # baking one draw into the graph is never meant
            raise ExportError(
                f"ember.export: random op '{name}' cannot be exported (called at module '{self.where()}')"
            )
        if self.inside or not (self.depends(args) or self.depends(kwargs)):
            return dispatch(op, args, kwargs, inplace)
        if inplace:
            target = args[0]
            vname = self.values.get(id(target))
            if vname in self.inputs or id(target) in self.param_keys or vname in self.params:
                what = "an input" if vname in self.inputs else "a parameter or buffer"
                raise ExportError(
                    f"ember.export: in-place '{name}' writes to {what} of the traced model (called at module "
                    f"'{self.where()}'); write to a copy (x = x + ...) instead"
                )
            if target._base is not None:
                raise ExportError(
                    f"ember.export: in-place '{name}' on a view cannot be traced (called at module "
                    f"'{self.where()}'): the graph has no aliasing; use an out-of-place op"
                )
        return self._record(name, args, kwargs, lambda: dispatch(op, args, kwargs, inplace))

    # -- symbolic sizes
    def size_of(self, t: Tensor) -> Size:
        name = self.values.get(id(t))
        if self.inside or name is None or name in self.params:
            return _fast_size(t._data.shape)
        dims = []
        for i, n in enumerate(t._data.shape):
            key = (name, i)
            s = self._sizes.get(key)
            if s is None:
                ref = self._name("s")
                self.nodes.append(
                    {
                        "op": "sym.size",
                        "args": [{"$v": name}, i],
                        "kwargs": {},
                        "outputs": [ref],
                        "scope": self.where(),
                    }
                )
                s = self._sizes[key] = SymInt(n, ref, self)
            dims.append(s)
        return tuple.__new__(Size, dims)

    def sym_node(self, name: str, operands, value: int) -> SymInt:
        ref = self._name("s")
        self.nodes.append(
            {
                "op": f"sym.{name}",
                "args": [self.encode(o, name) for o in operands],
                "kwargs": {},
                "outputs": [ref],
                "scope": self.where(),
            }
        )
        return SymInt(value, ref, self)

    def host_read(self, t: Tensor) -> None:
        if self.inside or id(t) not in self.values or self.values[id(t)] in self.params:
            return
        caller = sys._getframe(2).f_code.co_name
        raise ExportError(
            f"ember.export: '{caller}' reads the value of a traced tensor on the host (called at module "
            f"'{self.where()}'); data-dependent Python control flow cannot be traced — keep the computation "
            f"in tensor ops (e.g. ember.where) or pass the value as a constant"
        )


def trace(model, example_inputs, *, dynamic_axes=None, input_names=None, output_names=None, optimize=True):
    """Run `model` once on `example_inputs` and return the captured Program (see ember.export.Program)."""
    from ..nn.modules.module import Module
    from ..ops.factory import from_numpy
    from .graph import optimize_graph
    from .program import Program

    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    inputs = [from_numpy(np.asarray(x)) if isinstance(x, np.ndarray) else x for x in example_inputs]
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise ExportError(
                f"ember.export: example input {i} is a {type(x).__name__}; pass tensors or arrays"
            )
    names = list(input_names) if input_names else _default_input_names(model, len(inputs))
    if len(names) != len(inputs):
        raise ExportError(f"ember.export: {len(names)} input names for {len(inputs)} inputs")
    dyn = _dynamic_axes(dynamic_axes, names, inputs, output_names)

    tr = Tracer(model if isinstance(model, Module) else None)
    graph_inputs = []
    for n, x in zip(names, inputs):
        v = tr._bind(x, tr._name("v"))
        tr.inputs.add(v)
        shape = [dyn.get(n, {}).get(i, int(s)) for i, s in enumerate(x._data.shape)]
        graph_inputs.append({"name": n, "value": v, "dtype": _dtype_name(x.dtype), "shape": shape})

    orig_call = Module.__call__

    def scoped_call(mod, *args, **kwargs):
        tr.scope.append(tr.module_names.get(id(mod), tr.scope[-1]))
        try:
            return orig_call(mod, *args, **kwargs)
        finally:
            tr.scope.pop()

    if ACTIVE[0] is not None:
        raise ExportError("ember.export: a trace is already running in this process")
    ACTIVE[0] = tr
    Module.__call__ = scoped_call
    originals = wrap_methods(Tensor)
    push_mode(tr.mode)
    try:
        with no_grad():
            out = model(*inputs)
    finally:
        pop_mode()
        unwrap_methods(Tensor, originals)
        Module.__call__ = orig_call
        ACTIVE[0] = None
    flat, spec = _flatten_out(out, "the model")
    if not flat:
        raise ExportError("ember.export: the model returned no tensors")
    out_names = (
        list(output_names)
        if output_names
        else (["output"] if len(flat) == 1 else [f"output_{i}" for i in range(len(flat))])
    )
    if len(out_names) != len(flat):
        raise ExportError(f"ember.export: {len(out_names)} output names for {len(flat)} outputs")
    graph_outputs = []
    for n, t in zip(out_names, flat):
        graph_outputs.append({"name": n, "value": tr.value_of(t)})
    graph = {
        "format": 1,
        "inputs": graph_inputs,
        "outputs": graph_outputs,
        "params": [
            {"value": v, "key": key, "dtype": _dtype_name(t.dtype), "shape": list(t.shape)}
            for v, (key, t) in tr.params.items()
        ],
        "nodes": tr.nodes,
        "output_structure": spec,
    }
    params = {v: t for v, (_, t) in tr.params.items()}
    if optimize:
        graph, params = optimize_graph(graph, params)
    golden = ([x.detach() for x in inputs], [t.detach() for t in flat])
    return Program(graph, params, golden=golden)


def _dtype_name(dt) -> str:
    return str(dt).rsplit(".", 1)[-1]  # ember.float32 -> "float32"


def _default_input_names(model, n: int) -> list:
    fn = getattr(model, "forward", model)
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) >= n:
        return params[:n]
    return [f"input_{i}" for i in range(n)]


def _dynamic_axes(spec, names, inputs, output_names=None) -> dict:
    """{input name: {axis: axis name}} from torch.onnx's dynamic_axes ({name: {axis: label} | [axes]}) or
    torch.export's dynamic_shapes (a tuple/list per input, or a dict by name, of {axis: label})."""
    if spec is None:
        return {}
    if isinstance(spec, (tuple, list)):
        spec = dict(zip(names, spec))
    out = {}
    for name, axes in spec.items():
        if axes is None:
            continue
        if name not in names:
            if name not in (output_names or ()):  # torch.onnx-style specs may name outputs too
                warnings.warn(
                    f"ember.export: dynamic_axes names '{name}', which is not an input ({', '.join(names)}); "
                    "it is ignored",
                    stacklevel=3,
                )
            continue
        nd = inputs[names.index(name)].dim()
        if isinstance(axes, dict):
            items = axes.items()
        else:
            items = ((a, f"{name}_dim{a % nd}") for a in axes)
        out[name] = {}
        for a, label in items:
            if not -nd <= int(a) < nd:
                raise ExportError(
                    f"ember.export: dynamic axis {a} out of range for input '{name}' of rank {nd}"
                )
            out[name][int(a) % nd] = str(getattr(label, "__name__", label))
    return out
