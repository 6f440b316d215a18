"""ember.Size: the shape of a tensor, a tuple subclass like torch.Size."""

from __future__ import annotations

import math
import operator


class Size(tuple):
    """A tuple of ints naming a tensor's shape; prints as ``ember.Size([2, 3])``."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        items = tuple(sizes)
        if any(type(s) is not int for s in items):
            out = []
            for i, s in enumerate(items):
                try:
                    out.append(operator.index(s))
                except TypeError:
                    raise TypeError(
                        f"ember.Size() takes an iterable of 'int' (item {i} is '{type(s).__name__}')"
                    ) from None
            items = tuple(out)
        return tuple.__new__(cls, items)

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        return math.prod(self)

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return tuple.__new__(Size, r) if isinstance(key, slice) else r

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple(other) + tuple(self))

    def __mul__(self, n):
        r = tuple.__mul__(self, n)
        return NotImplemented if r is NotImplemented else tuple.__new__(Size, r)

    __rmul__ = __mul__

    def __reduce__(self):
        return (Size, (tuple(self),))


def _fast_size(shape: tuple) -> Size:
    """Size from a tuple already known to hold Python ints (array shapes): no validation."""
    return tuple.__new__(Size, shape)
