"""_host_arrays_to_device (every CUDA op's kwargs): NumPy arrays, alone or inside tuples, go through the
backend's asarray; everything else, and the dict itself when nothing moves, is passed through untouched."""

from __future__ import annotations

import numpy as np

from ember.ops._dispatch import _host_arrays_to_device


class _Moves:
    """A stand-in device backend that marks what it was asked to move."""

    def asarray(self, a):
        return ("moved", a.shape)


def test_only_arrays_move_and_untouched_kwargs_are_the_same_dict():
    be = _Moves()
    plain = {"dim": 1, "shape": (2, 3), "dtype": np.float32, "name": "x", "none": None, "empty": ()}
    assert _host_arrays_to_device(be, plain) is plain
    idx = np.arange(3)
    mixed = {"dim": 0, "index": idx, "parts": (None, idx, 5), "shape": (4,)}
    out = _host_arrays_to_device(be, mixed)
    assert out is not mixed and mixed["index"] is idx  # the caller's dict is not modified
    assert out["index"] == ("moved", (3,))
    assert out["parts"] == (None, ("moved", (3,)), 5)
    assert out["dim"] == 0 and out["shape"] == (4,)
    sub = {"m": np.ma.masked_array([1, 2])}  # ndarray subclasses count as arrays, as before
    assert _host_arrays_to_device(be, sub)["m"] == ("moved", (2,))
