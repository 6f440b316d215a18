"""count_calls: wrap functions so that a test knows a fused path was taken (and how often)."""

from __future__ import annotations

import inspect


def count_calls(monkeypatch, owner, **names) -> dict:
    """For each key=attr, replace owner.attr (a module function, or a class's staticmethod) by a wrapper that
    counts into calls[key]; returns the calls dict (monkeypatch undoes the wrapping after the test)."""
    calls = dict.fromkeys(names, 0)
    for key, attr in names.items():
        orig = getattr(owner, attr)

        def counted(*a, _orig=orig, _key=key, **k):
            calls[_key] += 1
            return _orig(*a, **k)

        static = isinstance(inspect.getattr_static(owner, attr), staticmethod)
        monkeypatch.setattr(owner, attr, staticmethod(counted) if static else counted)
    return calls
