"""The backward engine: iterative, dependency-counted, reverse-topological execution of the graph.

No recursion anywhere (a 10,000-step unrolled RNN must not hit Python's recursion limit). Gradients for a
node are summed before the node runs; broadcast gradients are reduced to each input's shape here, not in
every op; saved tensors are released after a node runs unless ``retain_graph``.
"""

from __future__ import annotations

from .. import _tensor as _T  # partly initialised here (it imports this package): used at call time
from .. import backend as _backend
from .grad_mode import STATE
from .node import AccumulateGrad, accumulate_node


def _ops():
    from .. import ops

    return ops


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, _T.Tensor):
        return (x,)
    return tuple(x)


def _make_roots(outputs, grad_outputs, who: str):
    roots, grads = [], []
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{who}: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    for i, t in enumerate(outputs):
        if not isinstance(t, _T.Tensor):
            raise TypeError(f"{who}: expected Tensor outputs, got {type(t).__name__} at index {i}")
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not (t._dtype.is_floating_point or t._dtype.is_complex):
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t._dtype}"
                )
            g = _ops().ones_like(t)
        else:
            if not isinstance(g, _T.Tensor):
                g = _ops().tensor(g, dtype=t._dtype, device=t._device)
            if g._data.shape != t._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] has a shape "
                    f"of {t.shape}."
                )
        roots.append((t.grad_fn, t._out_nr) if t.grad_fn is not None else (accumulate_node(t), 0))
        grads.append(g)
    return roots, grads


def backward(
    tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None
):
    """Accumulate d(tensors)/d(leaves) into the leaves' ``.grad`` (torch.autograd.backward)."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if retain_graph is None:
        retain_graph = create_graph
    roots, grads = _make_roots(tensors, grad_tensors, "backward")
    targets = None
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        targets = [_input_edge(t, i) for i, t in enumerate(inputs)]
    _execute(roots, grads, retain_graph, create_graph, targets, inputs, capture=False)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Return d(outputs)/d(inputs) without touching ``.grad`` (torch.autograd.grad)."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported by ember")
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    roots, grads = _make_roots(outputs, _as_tuple(grad_outputs), "grad")
    targets = [_input_edge(t, i) for i, t in enumerate(inputs)]
    result = _execute(roots, grads, retain_graph, create_graph, targets, inputs, capture=True)
    out = []
    for i, g in enumerate(result):
        if g is None:
            if materialize_grads:
                g = _ops().zeros_like(inputs[i])
            elif not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
        out.append(g)
    return tuple(out)


def _input_edge(t, i):
    if not isinstance(t, _T.Tensor):
        raise TypeError(f"grad: inputs[{i}] must be a Tensor, got {type(t).__name__}")
    if not t._requires_grad:
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_nr)
    return (accumulate_node(t), 0)


def _topo_needed(root_nodes, target_nodes):
    """Nodes that lead to a target (all reachable nodes when target_nodes is None), found without recursion."""
    if target_nodes is None:  # backward(): every reachable node; no post-order needed
        seen = set(root_nodes)
        stack = list(seen)
        while stack:
            for nx, _ in stack.pop().next_functions:
                if nx is not None and nx not in seen:
                    seen.add(nx)
                    stack.append(nx)
        return seen
    order = []
    seen = set()
    stack = [(n, False) for n in root_nodes]
    while stack:
        n, expanded = stack.pop()
        if expanded:
            order.append(n)
            continue
        if n in seen:
            continue
        seen.add(n)
        stack.append((n, True))
        for nx, _ in n.next_functions:
            if nx is not None and nx not in seen:
                stack.append((nx, False))
    if target_nodes is None:
        return seen
    needed = set()
    for n in order:  # children come before parents in post-order
        if n in target_nodes or any(nx in needed for nx, _ in n.next_functions if nx is not None):
            needed.add(n)
    return needed


def _execute(roots, grads, retain_graph, create_graph, targets, inputs, capture):
    from .grad_mode import STATE

    STATE.in_backward += 1
    try:
        return _execute_graph(roots, grads, retain_graph, create_graph, targets, inputs, capture)
    finally:
        STATE.in_backward -= 1


def _execute_graph(roots, grads, retain_graph, create_graph, targets, inputs, capture):
    target_nodes = None if targets is None else {n for n, _ in targets}
    root_nodes = []
    for n, _ in roots:
        if n not in root_nodes:
            root_nodes.append(n)
    needed = _topo_needed(root_nodes, target_nodes)

    deps: dict = {}
    get = deps.get
    if target_nodes is None:  # every reachable node is needed
        for n in needed:
            for nx, _ in n.next_functions:
                if nx is not None:
                    deps[nx] = get(nx, 0) + 1
    else:
        for n in needed:
            for nx, _ in n.next_functions:
                if nx is not None and nx in needed:
                    deps[nx] = get(nx, 0) + 1

    buffers: dict = {}
    for (n, nr), g in zip(roots, grads):
        if n not in needed:
            continue
        buf = buffers.get(n)
        if buf is None:
            buf = buffers[n] = [None] * n.num_outputs
        buf[nr] = g if buf[nr] is None else buf[nr] + g

    target_slots: dict = {}
    if targets is not None:
        for i, key in enumerate(targets):
            target_slots.setdefault(key, []).append(i)
    captured = [None] * (len(targets) if targets is not None else 0)

    # Gradient owners already handed to a .grad: a second leaf receiving the same memory gets a copy.
    given = {id(_owner(g._data)) for g in grads}
    ready = [n for n in root_nodes if n in needed and deps.get(n, 0) == 0]
    prev_mode = STATE.enabled
    STATE.enabled = create_graph
    try:
        while ready:
            n = ready.pop()
            gs = buffers.pop(n, None) or [None] * n.num_outputs
            if type(n) is AccumulateGrad:
                if target_slots:
                    _capture(target_slots, captured, n, gs)
                if not (capture and n in target_nodes):
                    _accumulate(n, gs[0], create_graph, given)
                continue
            if n._tensor_pre_hooks or "_retained_outputs" in n.__dict__:
                _run_tensor_hooks(n, gs)
            if target_slots:
                _capture(target_slots, captured, n, gs)
                if target_nodes is not None and n in target_nodes:
                    if not capture and inputs is not None:
                        _accumulate_nonleaf(n, gs, inputs, create_graph)
                    if capture and not any(nx in needed for nx, _ in n.next_functions if nx is not None):
                        continue
            in_grads = _call_node(n, gs)
            if not retain_graph:
                n._release()
            meta = getattr(n, "_meta", None)
            for i, (nx, nr) in enumerate(n.next_functions):
                if nx is None or nx not in needed:
                    continue
                g = in_grads[i]  # _call_node returns at least one entry per edge
                if g is not None:
                    if meta is not None:
                        m = meta[i]
                        if m is not None and (g._data.shape != m[0] or g._dtype is not m[1]):
                            g = _reduce_grad(g, m, n, i)
                    buf = buffers.get(nx)
                    if buf is None:
                        buffers[nx] = buf = [None] * nx.num_outputs
                    prev = buf[nr]
                    buf[nr] = g if prev is None else prev + g
                left = deps[nx] - 1
                deps[nx] = left
                if left == 0:
                    ready.append(nx)
    finally:
        STATE.enabled = prev_mode
    return captured


def _capture(target_slots, captured, n, gs) -> None:
    """Record the incoming gradients of nodes that autograd.grad was asked about."""
    for nr in range(len(gs)):
        slots = target_slots.get((n, nr))
        if slots and gs[nr] is not None:
            for i in slots:
                captured[i] = gs[nr] if captured[i] is None else captured[i] + gs[nr]


def _call_node(n, gs):
    pre = n._pre_hooks
    if pre:
        for h in tuple(pre.values()):
            r = h(tuple(gs))
            if r is not None:
                gs = list(r)
    if gs.count(None) == len(gs):  # no gradient arrived (gs is a list)
        res = (None,) * len(n.next_functions)
    else:
        res = n.apply(*gs)
        if not isinstance(res, tuple):
            res = (res,) if not isinstance(res, list) else tuple(res)
        if len(res) < len(n.next_functions):
            raise RuntimeError(
                f"function {n.name()} returned an incorrect number of gradients (expected "
                f"{len(n.next_functions)}, got {len(res)})"
            )
    post = n._post_hooks
    if post:
        for h in tuple(post.values()):
            r = h(res, tuple(gs))
            if r is not None:
                res = tuple(r)
    return res


def _run_tensor_hooks(n, gs) -> None:
    th = n._tensor_pre_hooks
    if th:
        for nr, hooks in th.items():
            if gs[nr] is None:
                continue
            for h in tuple(hooks.values()):
                r = h(gs[nr])
                if r is not None:
                    gs[nr] = r
    retained = n.__dict__.get("_retained_outputs")
    if retained:
        for nr, ref in retained.items():
            t = ref()
            if t is not None and gs[nr] is not None:
                g = gs[nr]
                if t._grad is None:
                    t._grad = g.clone() if STATE.enabled else g.detach().clone()
                else:
                    t._grad = t._grad + g


def _owner(a):
    b = a.base
    return a if b is None else b


def _accumulate(node: AccumulateGrad, g, create_graph: bool, given: set) -> None:
    t = node.variable
    if t is None or g is None:
        return
    hooks = t._hooks
    if hooks:
        for h in tuple(hooks.values()):
            r = h(g)
            if r is not None:
                g = r
    if create_graph:
        t._grad = g if t._grad is None else t._grad + g
        return
    if t._grad is None:
        gd = g._data
        owner = id(_owner(gd))
        if owner in given or g._requires_grad or gd.strides != t._data.strides or 0 in gd.strides:
            # A private copy laid out like the parameter (torch's grad layout contract): a transposed or
            # expanded grad would make every optimizer pass a strided, unvectorised NumPy loop (~30x slower).
            buf = _backend.get_backend(t._device).xp.empty_like(t._data)
            buf[...] = gd
            g = _T._wrap(buf, g._dtype, g._device)
        else:
            g = g.detach()
            given.add(owner)
        t._grad = g
    else:
        acc = t._grad
        if acc._requires_grad:
            t._grad = acc + g
        else:
            acc._data += g._data
            acc._bump_version()
    for h in tuple(t.__dict__.get("_post_accumulate_hooks", {}).values()):
        h(t)


def _accumulate_nonleaf(n, gs, inputs, create_graph) -> None:
    for t in inputs:
        if t.grad_fn is n and gs[t._out_nr] is not None:
            g = gs[t._out_nr]
            t._grad = g.detach().clone() if t._grad is None else t._grad + g


def _reduce_grad(g, meta, node, i):
    """Sum a broadcast gradient back to its input's shape and cast it to the input's dtype."""
    shape, dtype = meta
    if g._data.shape != shape:
        try:
            g = _ops().sum_to_size(g, shape)
        except RuntimeError:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {i} - got {list(g.shape)} but "
                f"expected shape compatible with {list(shape)}"
            ) from None
    if g._dtype is not dtype:
        if STATE.enabled:  # create_graph: the differentiable cast
            return _ops().to_dtype(g, dtype)
        # first order: cast the array (the backend's cast: CUDA's vectorised kernel), no op dispatch
        g = _T._wrap(_backend.get_backend(g._device).cast(g._data, dtype.np), dtype, g._device)
    return g
