"""Graph utilities on the export format: printing and the simple passes (dead code, common subexpressions,
constant folding). A graph is the JSON-able dict of ember/export/FORMAT.md; passes return new dicts."""

from __future__ import annotations

import copy
import json


def refs(obj, kind: str = "$v"):
    """The value names an encoded argument mentions ($v tensors or $s symbolic ints)."""
    if isinstance(obj, dict):
        if kind in obj:
            yield obj[kind]
        for v in obj.values():
            if isinstance(v, (dict, list)):
                yield from refs(v, kind)
    elif isinstance(obj, list):
        for v in obj:
            yield from refs(v, kind)


def node_inputs(node) -> set:
    names = set(refs(node["args"])) | set(refs(node["kwargs"]))
    return names | set(refs(node["args"], "$s")) | set(refs(node["kwargs"], "$s"))


def _rename(obj, mapping: dict):
    if isinstance(obj, dict):
        if "$v" in obj and obj["$v"] in mapping:
            return {"$v": mapping[obj["$v"]]}
        if "$s" in obj and obj["$s"] in mapping:
            return {"$s": mapping[obj["$s"]]}
        return {k: _rename(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rename(v, mapping) for v in obj]
    return obj


def dead_code_elimination(graph: dict) -> dict:
    """Drop nodes none of whose outputs reach a graph output (ops have no side effects in a graph)."""
    g = copy.deepcopy(graph)
    live = {o["value"] for o in g["outputs"]}
    kept = []
    for node in reversed(g["nodes"]):
        if any(o in live for o in node["outputs"] if o is not None):
            kept.append(node)
            live |= node_inputs(node)
    g["nodes"] = kept[::-1]
    g["params"] = [p for p in g["params"] if p["value"] in live]
    return g


def common_subexpressions(graph: dict) -> dict:
    """Merge nodes that call the same op on the same arguments (the later one reuses the earlier outputs)."""
    g = copy.deepcopy(graph)
    seen: dict = {}
    mapping: dict = {}
    kept = []
    for node in g["nodes"]:
        node["args"] = _rename(node["args"], mapping)
        node["kwargs"] = _rename(node["kwargs"], mapping)
        key = json.dumps([node["op"], node["args"], node["kwargs"]], sort_keys=True)
        prev = seen.get(key)
        if prev is not None and len(prev["outputs"]) == len(node["outputs"]):
            for a, b in zip(node["outputs"], prev["outputs"]):
                if a is not None and b is not None:
                    mapping[a] = b
                elif a is not None:  # the earlier node dropped this output: keep the node after all
                    break
            else:
                continue
        seen[key] = node
        kept.append(node)
    g["nodes"] = kept
    g["outputs"] = [dict(o, value=mapping.get(o["value"], o["value"])) for o in g["outputs"]]
    return g


def fold_constants(graph: dict, params: dict, run_node) -> tuple[dict, dict]:
    """Evaluate, once, nodes that depend on parameters and constants only (no input, no symbolic size);
    their results become constants (e.g. batch norm's scale and shift in eval mode)."""
    g = copy.deepcopy(graph)
    params = dict(params)
    const = set(params)
    folded = {}
    kept = []
    for node in g["nodes"]:
        ins = node_inputs(node)
        if node["op"].startswith("sym.") or not ins or not ins <= const:
            kept.append(node)
            continue
        outs = run_node(node, params)
        for name, t in zip(node["outputs"], outs):
            if name is not None:
                params[name] = t
                const.add(name)
                folded[name] = t
    g["nodes"] = kept
    for name, t in folded.items():
        from .trace import _dtype_name

        g["params"].append(
            {"value": name, "key": f"const.{name}", "dtype": _dtype_name(t.dtype), "shape": list(t.shape)}
        )
    g = dead_code_elimination(g)
    live = {p["value"] for p in g["params"]}
    return g, {k: v for k, v in params.items() if k in live}


def _is_identity(node) -> bool:
    """Calls that return their input unchanged: dropout outside training (contiguous stays: a view after it
    needs the layout when the graph runs on ember's ops)."""
    op, args, kw = node["op"], node["args"], node["kwargs"]
    if op == "F.dropout":
        training = kw.get("training", args[2] if len(args) > 2 else True)
        p = kw.get("p", args[1] if len(args) > 1 else 0.5)
        return training is False or p == 0
    return False


def strip_identities(graph: dict) -> dict:
    """Remove identity calls (eval-mode dropout), rewiring their users to the input."""
    g = copy.deepcopy(graph)
    mapping: dict = {}
    kept = []
    for node in g["nodes"]:
        node["args"] = _rename(node["args"], mapping)
        node["kwargs"] = _rename(node["kwargs"], mapping)
        first = node["args"][0] if node["args"] else None
        if _is_identity(node) and isinstance(first, dict) and "$v" in first:
            mapping[node["outputs"][0]] = first["$v"]
            continue
        kept.append(node)
    g["nodes"] = kept
    g["outputs"] = [dict(o, value=mapping.get(o["value"], o["value"])) for o in g["outputs"]]
    return g


def optimize_graph(graph: dict, params: dict) -> tuple[dict, dict]:
    """strip_identities, dead-code elimination, common subexpressions, constant folding."""
    from .program import run_node

    g = common_subexpressions(dead_code_elimination(strip_identities(graph)))
    return fold_constants(g, params, run_node)


def _fmt(obj) -> str:
    if isinstance(obj, dict):
        if "$v" in obj:
            return "%" + obj["$v"]
        if "$s" in obj:
            return "%" + obj["$s"]
        if "$tuple" in obj:
            items = [_fmt(v) for v in obj["$tuple"]]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if "$slice" in obj:
            a, b, c = ("" if v is None else _fmt(v) for v in obj["$slice"])
            return f"{a}:{b}" + (f":{c}" if c else "")
        if "$ellipsis" in obj:
            return "..."
        if "$dtype" in obj:
            return f"ember.{obj['$dtype']}"
        if "$f" in obj:
            return obj["$f"]
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ", ".join(_fmt(v) for v in obj) + "]"
    return repr(obj)


def format_graph(graph: dict) -> str:
    """A readable listing: inputs with dtypes and (symbolic) shapes, one line per node, the outputs."""

    def shape(s):
        return "[" + ", ".join(str(d) for d in s) + "]"

    ins = ", ".join(f"%{i['value']}: {i['name']} {i['dtype']}{shape(i['shape'])}" for i in graph["inputs"])
    lines = [f"graph({ins}):"]
    for p in graph["params"]:
        lines.append(f"  %{p['value']}: param {p['key']} {p['dtype']}{shape(p['shape'])}")
    for n in graph["nodes"]:
        outs = ", ".join("_" if o is None else "%" + o for o in n["outputs"])
        args = [_fmt(a) for a in n["args"]] + [f"{k}={_fmt(v)}" for k, v in n["kwargs"].items()]
        call = f"{n['op']}({', '.join(args)})"
        scope = f"  # {n['scope']}" if n.get("scope") else ""
        lines.append(f"  {outs} = {call}{scope}")
    lines.append("  return " + ", ".join(f"%{o['value']} ({o['name']})" for o in graph["outputs"]))
    return "\n".join(lines)
