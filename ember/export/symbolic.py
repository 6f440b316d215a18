"""SymInt: a size read from a traced tensor. It is an int (the example's value, so Python code runs on as
usual) that also names a graph value; arithmetic on it records `sym.*` nodes, so `B * T`, `C // n_head` or
`T - 1` stay symbolic when they reach a view, an arange or a slice."""

from __future__ import annotations


class SymInt(int):
    def __new__(cls, value: int, ref: str, tracer):
        obj = int.__new__(cls, value)
        obj.ref = ref
        obj.tracer = tracer
        return obj

    def _op(self, name: str, other, reflected: bool = False):
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        value = {
            "add": int(a) + int(b),
            "sub": int(a) - int(b),
            "mul": int(a) * int(b),
            "floordiv": int(a) // int(b),
            "mod": int(a) % int(b),
        }[name]
        return self.tracer.sym_node(name, (a, b), value)

    def __add__(self, o):
        return self._op("add", o)

    def __radd__(self, o):
        return self._op("add", o, True)

    def __sub__(self, o):
        return self._op("sub", o)

    def __rsub__(self, o):
        return self._op("sub", o, True)

    def __mul__(self, o):
        return self._op("mul", o)

    def __rmul__(self, o):
        return self._op("mul", o, True)

    def __floordiv__(self, o):
        return self._op("floordiv", o)

    def __rfloordiv__(self, o):
        return self._op("floordiv", o, True)

    def __mod__(self, o):
        return self._op("mod", o)

    def __rmod__(self, o):
        return self._op("mod", o, True)

    def __neg__(self):
        return self.tracer.sym_node("neg", (self,), -int(self))

    def __pos__(self):
        return self

    def __repr__(self) -> str:
        return f"SymInt({int(self)}, {self.ref})"

    __hash__ = int.__hash__
