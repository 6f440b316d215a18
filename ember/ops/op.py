"""Op: the internal base of every ember operation (forward on arrays, backward on Tensors).

An Op subclass declares how dispatch treats it through class attributes, then defines
``forward(ctx, *inputs, **attrs)`` on backend arrays (inputs are arrays or Python scalars) and
``backward(ctx, *grads)`` with ember Tensor ops, returning one gradient (or None) per positional input.
Each Op gets a Node subclass named like torch's (``MulBackward0``) to serve as its ctx / grad_fn.

NOTE: when no graph is recorded, forward receives a ctx shared by all ops of that backend (no allocation
on the fast path): forward may set attributes on ctx for backward, but must never read them back.
"""

from __future__ import annotations

from ..autograd.node import Node

# Promotion kinds (how dispatch picks the compute dtype and result dtype).
NONE = 0  # the op handles dtypes itself; the result dtype is the array's dtype
SAME = 1  # cast tensor inputs to the promoted dtype; result has that dtype
FLOAT = 2  # like SAME, but integral/bool results become the default float dtype
BOOL = 3  # compute in the promoted dtype; result is bool (comparisons)


class OpNode(Node):
    """A graph node created for one application of an Op."""

    __slots__ = ("xp", "be")
    op = None

    def apply(self, *grads):
        return self.op.backward(self, *grads)


class Op:
    """Base of the op table. See the module docstring for the contract."""

    promote = NONE
    upcast_half = False  # compute float16/bfloat16 in float32 and round once, as torch does ("cpu": only on CPU)
    # forward takes float32/float16/bfloat16 operands of different dtypes and gives float32 without a cast op
    # before it (as torch's add kernels read each operand's dtype); autograd casts each gradient back
    mixed_floats = False
    # forward saves its float32-upcast input unmodified: under create_graph backward then gets the
    # differentiable cast of the input (else the saved copy is a constant and higher derivatives lose a term)
    saves_upcast_input = False
    is_view = False  # True: output aliases input 0; "maybe": a view when the output shares input 0's memory
    differentiable = True
    nondiff_outputs: tuple = ()  # indices of outputs that never carry gradients (e.g. argmax indices)
    cross_device = False  # inputs may live on different devices (copy_)
    host_kwargs = False  # keep NumPy arrays in kwargs on the host (else dispatch moves them to the op's device)
    tensor_attrs = False  # kwargs may hold Tensors (converted to arrays, never differentiated)
    node_name: str | None = None
    forward_inplace = (
        None  # optional forward_inplace(ctx, target_array, *others): write into target, return it
    )
    num_outputs = 1
    node_cls: type

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        name = cls.node_name or f"{cls.__name__}Backward0"
        cls.node_cls = type(name, (OpNode,), {"__slots__": (), "op": cls, "num_outputs": cls.num_outputs})

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError(f"the derivative of {ctx.name()} is not implemented")
