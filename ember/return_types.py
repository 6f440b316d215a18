"""Named tuples returned by reductions with indices, like torch.return_types."""

from __future__ import annotations

from collections import namedtuple


def _make(name: str, fields: list):
    base = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"ember.return_types.{name}(\n{body})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__})


max = _make("max", ["values", "indices"])
min = _make("min", ["values", "indices"])
median = _make("median", ["values", "indices"])
nanmedian = _make("nanmedian", ["values", "indices"])
mode = _make("mode", ["values", "indices"])
kthvalue = _make("kthvalue", ["values", "indices"])
sort = _make("sort", ["values", "indices"])
topk = _make("topk", ["values", "indices"])
cummax = _make("cummax", ["values", "indices"])
cummin = _make("cummin", ["values", "indices"])
aminmax = _make("aminmax", ["min", "max"])
slogdet = _make("slogdet", ["sign", "logabsdet"])
var_mean = _make("var_mean", ["var", "mean"])
std_mean = _make("std_mean", ["std", "mean"])
qr = _make("qr", ["Q", "R"])
svd = _make("svd", ["U", "S", "Vh"])
eigh = _make("eigh", ["eigenvalues", "eigenvectors"])
