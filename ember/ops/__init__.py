"""The op table. Each module holds Op classes (forward + backward side by side) and the public functions
that call them through ``dispatch``."""

from __future__ import annotations

import sys as _sys

from .activation import celu, log_softmax, relu, relu_, selu, softmax
from .arith import *  # noqa: F403
from .compare import *  # noqa: F403
from .convert import clone, contiguous, to, to_dtype, type_as
from .cumulative import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .factory import *  # noqa: F403
from .index import *  # noqa: F403
from .inplace import copy_, fill_, write_out, zero_
from .join import *  # noqa: F403
from .linalg_ops import *  # noqa: F403
from .matmul import *  # noqa: F403
from .promote import can_cast, promote_types, result_type
from .random import *  # noqa: F403
from .reduce import *  # noqa: F403
from .shape import *  # noqa: F403
from .sort import *  # noqa: F403

_MODULES = (
    "activation",
    "arith",
    "compare",
    "cumulative",
    "elementwise",
    "factory",
    "index",
    "join",
    "linalg_ops",
    "matmul",
    "random",
    "reduce",
    "shape",
    "sort",
)
# Only functions are public: submodule names (ember.ops.random ...) must not shadow ember.random & co.
# NOTE: looked up in sys.modules because `sort` (the function) shadows the `sort` submodule attribute.
__all__ = sorted(
    {name for m in _MODULES for name in _sys.modules[f"{__name__}.{m}"].__all__}
    | {
        "clone",
        "contiguous",
        "to",
        "to_dtype",
        "type_as",
        "copy_",
        "fill_",
        "write_out",
        "zero_",
        "can_cast",
        "promote_types",
        "result_type",
    }
)
