"""Convolution layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d (and Fold/Unfold, the im2col layers)."""

from __future__ import annotations

import math

from ... import ops as O
from ..._tensor import Tensor
from .. import init
from ..functional.conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from ..functional.conv import fold as _fold
from ..functional.conv import unfold as _unfold
from ..functional.vision import pad as _pad
from ..parameter import Parameter
from .module import Module


def _ntuple(v, n: int) -> tuple:
    """torch.nn.modules.utils._ntuple: iterables become tuples, scalars are repeated n times."""
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


def _reverse_repeat_tuple(t, n: int) -> tuple:
    return tuple(x for x in reversed(t) for _ in range(n))


class _ConvNd(Module):
    """Shared state of the convolution layers (torch's attribute names, init and repr)."""

    _dims = 0
    _functional = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple,
        stride: tuple,
        padding,
        dilation: tuple,
        transposed: bool,
        output_padding: tuple,
        groups: int,
        bias: bool,
        padding_mode: str,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in valid_padding_modes:
            raise ValueError(
                f"padding_mode must be one of {valid_padding_modes}, but got padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(self.padding, str):
            self._reversed_padding_repeated_twice = [0, 0] * len(kernel_size)
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1)):
                    total = d * (k - 1)
                    left = total // 2
                    self._reversed_padding_repeated_twice[2 * i] = left
                    self._reversed_padding_repeated_twice[2 * i + 1] = total - left
        else:
            self._reversed_padding_repeated_twice = _reverse_repeat_tuple(self.padding, 2)
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(O.empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(O.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight ~ kaiming_uniform(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in torch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)

    def _check_input(self, input) -> None:
        """Errors that name the layer: wrong rank or wrong channel count."""
        d = self._dims
        name = f"{type(self).__name__}({self.extra_repr()})"
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
        spatial = ("L",) if d == 1 else ("H", "W") if d == 2 else ("D", "H", "W")
        if input.dim() not in (d + 1, d + 2):
            raise RuntimeError(
                f"{name}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input "
                f"(N, {self.in_channels}, {', '.join(spatial)}), got shape {tuple(input.shape)}"
            )
        c = input.shape[-d - 1]
        if c != self.in_channels:
            raise RuntimeError(
                f"{name}: expected input[N, {self.in_channels}, {', '.join(spatial)}] with {self.in_channels} "
                f"channels, got shape {tuple(input.shape)} ({c} channels)"
            )


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        d = self._dims
        super().__init__(
            in_channels,
            out_channels,
            _ntuple(kernel_size, d),
            _ntuple(stride, d),
            padding if isinstance(padding, str) else _ntuple(padding, d),
            _ntuple(dilation, d),
            False,
            _ntuple(0, d),
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    def _conv_forward(self, input: Tensor, weight: Tensor, bias) -> Tensor:
        fn = type(self)._functional
        if self.padding_mode != "zeros":
            x = _pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution (cross-correlation) over (N, C_in, L) or (C_in, L) -> (N, C_out, L_out).

    L_out = floor((L + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1; weight (C_out, C_in/groups, k)."""

    _dims = 1
    _functional = staticmethod(conv1d)


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) over (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, H_out, W_out).

    out[n, o] = bias[o] + sum_c weight[o, c] * input[n, c] (valid cross-correlation per group);
    H_out = floor((H + 2*padding - dilation*(kH-1) - 1) / stride) + 1; weight (C_out, C_in/groups, kH, kW)."""

    _dims = 2
    _functional = staticmethod(conv2d)


class Conv3d(_Conv):
    """3-D convolution (cross-correlation) over (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out)."""

    _dims = 3
    _functional = staticmethod(conv3d)


class _ConvTransposeNd(_ConvNd):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {self.__class__.__name__}')
        d = self._dims
        super().__init__(
            in_channels,
            out_channels,
            _ntuple(kernel_size, d),
            _ntuple(stride, d),
            _ntuple(padding, d),
            _ntuple(dilation, d),
            True,
            _ntuple(output_padding, d),
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    def _output_padding(
        self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None
    ):
        """The output_padding that yields `output_size` (torch's rule and errors)."""
        if output_size is None:
            return _ntuple(self.output_padding, num_spatial_dims)
        has_batch_dim = input.dim() == num_spatial_dims + 2
        num_non_spatial = 2 if has_batch_dim else 1
        if len(output_size) == num_non_spatial + num_spatial_dims:
            output_size = output_size[num_non_spatial:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(
                f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, output_size must have "
                f"{num_spatial_dims} or {num_non_spatial + num_spatial_dims} elements (got {len(output_size)})"
            )
        min_sizes, max_sizes = [], []
        for d in range(num_spatial_dims):
            dim_size = (
                (input.size(d + num_non_spatial) - 1) * stride[d]
                - 2 * padding[d]
                + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1)
                + 1
            )
            min_sizes.append(dim_size)
            max_sizes.append(min_sizes[d] + stride[d] - 1)
        for i in range(len(output_size)):
            if output_size[i] < min_sizes[i] or output_size[i] > max_sizes[i]:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from {min_sizes} to "
                    f"{max_sizes} (for an input of {input.size()[num_non_spatial:]})"
                )
        return tuple(output_size[d] - min_sizes[d] for d in range(num_spatial_dims))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        if self.padding_mode != "zeros":
            raise ValueError(f"Only `zeros` padding mode is supported for {type(self).__name__}")
        self._check_input(input)
        d = self._dims
        output_padding = self._output_padding(
            input, output_size, self.stride, self.padding, self.kernel_size, d, self.dilation
        )
        fn = type(self)._functional
        return fn(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the gradient of Conv1d w.r.t. its input), weight (C_in, C_out/groups, k).

    L_out = (L - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1."""

    _dims = 1
    _functional = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (the gradient of Conv2d w.r.t. its input), weight (C_in, C_out/groups, kH, kW).

    H_out = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1 (same for W)."""

    _dims = 2
    _functional = staticmethod(conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution, weight (C_in, C_out/groups, kD, kH, kW)."""

    _dims = 3
    _functional = staticmethod(conv_transpose3d)


class Unfold(Module):
    """Extract sliding local blocks: (N, C, H, W) -> (N, C*prod(kernel_size), L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return _unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
            f"stride={self.stride}"
        )


class Fold(Module):
    """Combine sliding local blocks: (N, C*prod(kernel_size), L) -> (N, C, *output_size), summing overlaps."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return _fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
            f"padding={self.padding}, stride={self.stride}"
        )


__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Fold",
    "Unfold",
]
