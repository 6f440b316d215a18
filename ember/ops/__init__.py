"""The op table. Each module holds Op classes (forward + backward side by side) and the public functions
that call them through ``dispatch``."""

from __future__ import annotations

from .activation import log_softmax, softmax
from .arith import *  # noqa: F403
from .compare import *  # noqa: F403
from .convert import clone, contiguous, to, to_dtype, type_as
from .elementwise import *  # noqa: F403
from .factory import *  # noqa: F403
from .index import *  # noqa: F403
from .inplace import copy_, fill_, write_out, zero_
from .join import *  # noqa: F403
from .matmul import *  # noqa: F403
from .promote import can_cast, promote_types, result_type
from .random import *  # noqa: F403
from .reduce import *  # noqa: F403
from .shape import *  # noqa: F403
