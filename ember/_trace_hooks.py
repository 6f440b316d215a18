"""Hooks the export tracer uses to see calls at the level the user wrote them (below nn, which uses them).

``traceable(name)`` wraps a public function or Tensor method: while a tracer is active (and not already inside
a recorded call) the call is recorded as one graph node named `name` — "F.linear", "T.view", "E.arange" —
with its arguments as given (shapes unresolved), and the ops it dispatches inside are not recorded. When no
tracer is active the wrapper costs one list read. ``REGISTRY`` maps each name to its function: the loaded
program resolves node names through it only (never through getattr on names read from a file).
"""

from __future__ import annotations

import functools

ACTIVE: list = [None]  # the tracer of this process, or None
REGISTRY: dict = {}


def traceable(name: str):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            tr = ACTIVE[0]
            if tr is None or tr.inside:
                return fn(*args, **kwargs)
            return tr.record_call(name, fn, args, kwargs)

        REGISTRY[name] = wrapper
        return wrapper

    return deco


METHODS: tuple = ()  # Tensor methods recorded as "T.<name>" while tracing


def register_methods(cls, names) -> None:
    """Name Tensor methods for the graph ("T.view" -> Tensor.view); the tracer wraps them while it runs."""
    global METHODS
    METHODS = tuple(names)
    for n in names:
        REGISTRY[f"T.{n}"] = getattr(cls, n)


def wrap_methods(cls) -> dict:
    """Install recording wrappers on the Tensor methods (only during a trace, so eager code pays nothing);
    returns the originals for unwrap_methods."""
    originals = {n: cls.__dict__[n] for n in METHODS}
    for n, fn in originals.items():
        wrapped = traceable(f"T.{n}")(fn)
        REGISTRY[f"T.{n}"] = fn
        setattr(cls, n, wrapped)
    return originals


def unwrap_methods(cls, originals: dict) -> None:
    for n, fn in originals.items():
        setattr(cls, n, fn)
