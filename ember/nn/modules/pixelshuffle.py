"""PixelShuffle/PixelUnshuffle, Upsample (+ UpsamplingNearest2d/Bilinear2d) and the padding layers."""

from __future__ import annotations

from ..._tensor import Tensor
from ..functional.vision import interpolate, pad, pixel_shuffle, pixel_unshuffle
from .module import Module


def _ntuple(v, n: int):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


class PixelShuffle(Module):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r) with r = upscale_factor."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W) with r = downscale_factor."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Upsample(Module):
    """Resize (N, C, *spatial) by `size` or `scale_factor` with interpolate's modes."""

    def __init__(
        self,
        size=None,
        scale_factor=None,
        mode: str = "nearest",
        align_corners=None,
        recompute_scale_factor=None,
    ):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """Upsample(mode='nearest') for (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample(mode='bilinear', align_corners=True) for (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


# ------------------------------------------------------------------------------------------------ padding


class _PadNd(Module):
    _mode = "constant"
    _n = 2

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(padding, self._n)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(Module):
    _n = 2

    def __init__(self, padding, value: float):
        super().__init__()
        self.padding = _ntuple(padding, self._n)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with `value`: padding = (left, right) or an int."""

    _n = 2


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with `value`: padding = (left, right, top, bottom) or an int."""

    _n = 4


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with `value`: padding = (left, right, top, bottom, front, back) or an int."""

    _n = 6


class ZeroPad1d(ConstantPad1d):
    """Zero-pad the last dim."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Zero-pad the last 2 dims: padding = (left, right, top, bottom) or an int."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Zero-pad the last 3 dims."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Reflect-pad the last dim (the edge value is not repeated): (N, C, W) or (C, W)."""

    _mode, _n = "reflect", 2


class ReflectionPad2d(_PadNd):
    """Reflect-pad the last 2 dims: (N, C, H, W) or (C, H, W)."""

    _mode, _n = "reflect", 4


class ReflectionPad3d(_PadNd):
    """Reflect-pad the last 3 dims: (N, C, D, H, W) or (C, D, H, W)."""

    _mode, _n = "reflect", 6


class ReplicationPad1d(_PadNd):
    """Replicate-pad the last dim (repeat the edge value)."""

    _mode, _n = "replicate", 2


class ReplicationPad2d(_PadNd):
    """Replicate-pad the last 2 dims."""

    _mode, _n = "replicate", 4


class ReplicationPad3d(_PadNd):
    """Replicate-pad the last 3 dims."""

    _mode, _n = "replicate", 6


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        n = self._n // 2
        if input.dim() not in (n + 1, n + 2):
            raise ValueError(f"expected {n + 1}D or {n + 2}D input (got {input.dim()}D input)")
        return pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    """Circular (wrap-around) padding of the last dim."""

    _n = 2


class CircularPad2d(_CircularPadNd):
    """Circular (wrap-around) padding of the last 2 dims."""

    _n = 4


class CircularPad3d(_CircularPadNd):
    """Circular (wrap-around) padding of the last 3 dims."""

    _n = 6


__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "PixelShuffle",
    "PixelUnshuffle",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]
