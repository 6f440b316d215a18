"""Run an exported ember graph (format v1, ember/export/FORMAT.md) on NumPy arrays.

``run_graph(graph, params, inputs)`` binds the inputs (checked against their declared dtype and shape) and the
parameters, evaluates the nodes in order (``sym.*`` nodes to Python ints, every other node through
``kernels.KERNELS``) and returns the graph outputs. Node names resolve only through that table, never through
getattr on a name read from a file.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .kernels import KERNELS

DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "int64": np.dtype(np.int64),
    "int32": np.dtype(np.int32),
    "int16": np.dtype(np.int16),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "bool": np.dtype(np.bool_),
    "complex64": np.dtype(np.complex64),
    "complex128": np.dtype(np.complex128),
}

SYM_OPS = {
    "sym.add": lambda a, b: a + b,
    "sym.sub": lambda a, b: a - b,
    "sym.mul": lambda a, b: a * b,
    "sym.floordiv": lambda a, b: a // b,
    "sym.mod": lambda a, b: a % b,
    "sym.neg": lambda a: -a,
    "sym.max": max,
    "sym.min": min,
}

_FLOATS = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def dtype_of(name: str) -> np.dtype:
    """The NumPy dtype for an ember dtype name."""
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"ember_runtime: unknown dtype '{name}'") from None


def decode(obj, env: dict, dtype=dtype_of):
    """An encoded argument as a runtime value ($v / $s refs looked up in env; tuples, slices, dtypes...);
    `dtype` maps dtype names (NumPy dtypes here; ember's Program passes ember dtypes)."""
    if isinstance(obj, dict):
        if "$v" in obj or "$s" in obj:
            name = obj.get("$v", obj.get("$s"))
            try:
                return env[name]
            except KeyError:
                raise ValueError(f"ember_runtime: value '{name}' is used before it is defined") from None
        if "$tuple" in obj:
            return tuple(decode(v, env, dtype) for v in obj["$tuple"])
        if "$slice" in obj:
            return slice(*(decode(v, env, dtype) for v in obj["$slice"]))
        if "$ellipsis" in obj:
            return Ellipsis
        if "$dtype" in obj:
            return dtype(obj["$dtype"])
        if "$f" in obj:
            return _FLOATS[obj["$f"]]
        if "$none" in obj:
            return None
        raise ValueError(f"ember_runtime: unknown encoded value with keys {sorted(obj)}")
    if isinstance(obj, list):
        return [decode(v, env, dtype) for v in obj]
    return obj


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _bind_input(spec: dict, x) -> np.ndarray:
    """x checked against the declared dtype and shape (string dims are dynamic and take any size)."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    want_dt = dtype_of(spec["dtype"])
    shape = spec["shape"]
    ok = a.dtype == want_dt and a.ndim == len(shape)
    ok = ok and all(isinstance(d, str) or int(d) == n for d, n in zip(shape, a.shape))
    if not ok:
        raise ValueError(
            f"ember_runtime: input '{spec['name']}' expects {spec['dtype']} of shape {_shape_str(shape)}, got "
            f"{a.dtype.name} of shape {_shape_str(a.shape)}"
        )
    return a


def _bind_param(spec: dict, params: dict) -> np.ndarray:
    name = spec["value"]
    if name not in params:
        raise ValueError(f"ember_runtime: missing parameter '{name}' ({spec.get('key', '?')})")
    a = np.asarray(params[name])
    want_dt = dtype_of(spec["dtype"])
    if a.dtype != want_dt or list(a.shape) != [int(s) for s in spec["shape"]]:
        raise ValueError(
            f"ember_runtime: parameter '{name}' ({spec.get('key', '?')}) expects {spec['dtype']} of shape "
            f"{_shape_str(spec['shape'])}, got {a.dtype} of shape {_shape_str(a.shape)}"
        )
    return a


def run_node(node: dict, env: dict) -> list:
    """Evaluate one node; returns one value per entry of node['outputs']."""
    op = node["op"]
    args = [decode(a, env) for a in node.get("args", [])]
    kwargs = {k: decode(v, env) for k, v in node.get("kwargs", {}).items()}
    n_out = len(node["outputs"])
    if op == "sym.size":
        return [int(args[0].shape[int(args[1])])]
    sym = SYM_OPS.get(op)
    if sym is not None:
        return [int(sym(*(int(a) for a in args)))]
    fn = KERNELS.get(op)
    if fn is None:
        raise NotImplementedError(
            f"ember_runtime: no kernel for op '{op}' (called at module '{node.get('scope', '')}')"
        )
    try:
        out = fn(*args, **kwargs)
    except Exception as e:
        e.add_note(f"ember_runtime: while running op '{op}' (called at module '{node.get('scope', '')}')")
        raise
    if isinstance(out, (tuple, list)):
        if len(out) != n_out:
            raise RuntimeError(
                f"ember_runtime: op '{op}' (called at module '{node.get('scope', '')}') returned {len(out)} "
                f"values where the graph expects {n_out}"
            )
        return list(out)
    if n_out != 1:
        raise RuntimeError(
            f"ember_runtime: op '{op}' (called at module '{node.get('scope', '')}') returned one value where "
            f"the graph expects {n_out}"
        )
    return [out]


def run_graph(graph: dict, params: dict, inputs: list) -> list:
    """Run `graph` with `params` ({value name: array}) on `inputs` (one array per graph input, in order)."""
    if graph.get("format", 1) != 1:
        raise ValueError(
            f"ember_runtime: unsupported graph format {graph.get('format')!r} (this runtime reads 1)"
        )
    specs = graph["inputs"]
    if len(inputs) != len(specs):
        names = ", ".join(s["name"] for s in specs)
        raise ValueError(f"ember_runtime: the graph takes {len(specs)} inputs ({names}), got {len(inputs)}")
    env: dict = {}
    for spec, x in zip(specs, inputs):
        env[spec["value"]] = _bind_input(spec, x)
    bound = [env[s["value"]] for s in specs]
    for spec in graph.get("params", []):
        env[spec["value"]] = _bind_param(spec, params)
        bound.append(env[spec["value"]])
    for node in graph["nodes"]:
        for name, value in zip(node["outputs"], run_node(node, env)):
            if name is not None:
                env[name] = value
    outs = []
    for o in graph["outputs"]:
        v = decode({"$v": o["value"]}, env)
        a = np.asarray(v)
        # never hand out views of the caller's inputs or parameters, nor read-only (broadcast) views
        if not a.flags.writeable or any(np.may_share_memory(a, b) for b in bound):
            a = np.array(a, copy=True)
        outs.append(a)
    return outs
