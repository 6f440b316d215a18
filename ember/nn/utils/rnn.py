"""PackedSequence and the padding/packing helpers of torch.nn.utils.rnn.

A PackedSequence holds the time-major rows of a batch of variable-length sequences sorted by decreasing
length: `data` (sum(lengths), *) and `batch_sizes[t]` = how many sequences are longer than t. Packing and
padding are one advanced-indexing op each (differentiable, gradients scatter back with one add_at).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import _dtype as D
from ... import ops as O
from ..._tensor import Tensor


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


def _bind(optional, fn):
    return None if optional is None else fn(optional)


class PackedSequence(PackedSequence_):
    """Packed rows of variable-length sequences: (data, batch_sizes, sorted_indices, unsorted_indices)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never be created "
                "manually. They should be instantiated by functions like pack_sequence and "
                "pack_padded_sequences in nn.utils.rnn."
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """Convert `data` (dtype and/or device); indices follow the device. Returns self if unchanged."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def call_to(t):
            return t.to(data.device)

        return type(self)(
            data, self.batch_sizes, _bind(self.sorted_indices, call_to), _bind(self.unsorted_indices, call_to)
        )

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def pin_memory(self):
        return self

    def double(self):
        return self.to(dtype=D.float64)

    def float(self):
        return self.to(dtype=D.float32)

    def half(self):
        return self.to(dtype=D.float16)

    def long(self):
        return self.to(dtype=D.int64)

    def int(self):
        return self.to(dtype=D.int32)

    def short(self):
        return self.to(dtype=D.int16)

    def char(self):
        return self.to(dtype=D.int8)

    def byte(self):
        return self.to(dtype=D.uint8)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation (None stays None)."""
    if permutation is None:
        return None
    perm = np.asarray(permutation.tolist(), dtype=np.int64).reshape(-1)
    out = np.empty_like(perm)
    out[perm] = np.arange(perm.size, dtype=np.int64)
    return O.tensor(out, dtype=D.int64, device=permutation.device)


def _lengths_list(lengths) -> list:
    if isinstance(lengths, Tensor):
        return [int(v) for v in lengths.reshape(-1).tolist()]
    return [int(v) for v in lengths]


def _pack_index(lengths: list, t_in: int, batch_first: bool):
    """(index tensors selecting the packed rows of a (T, B, *) or (B, T, *) input, batch_sizes list)."""
    lens = np.asarray(lengths, dtype=np.int64)
    T = int(lens.max()) if lens.size else 0
    valid = np.arange(T)[:, None] < lens[None, :]  # (T, B), time-major = packed order
    ts, bs = np.nonzero(valid)
    batch_sizes = valid.sum(1).tolist()
    first, second = (bs, ts) if batch_first else (ts, bs)
    return (O.tensor(first, dtype=D.int64), O.tensor(second, dtype=D.int64)), batch_sizes


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True):
    """Pack a padded (T, B, *) [batch_first: (B, T, *)] batch whose sequences have the given lengths."""
    lens = _lengths_list(lengths)
    batch_dim = 0 if batch_first else 1
    if len(lens) != input.size(batch_dim):
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} (batch_size="
            f"{input.size(batch_dim)})"
        )
    if enforce_sorted:
        sorted_indices = None
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can "
                "pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this "
                "requirement if you do not need ONNX exportability."
            )
    else:
        order = np.argsort(-np.asarray(lens, dtype=np.int64), kind="stable")
        sorted_indices = O.tensor(order, dtype=D.int64, device=input.device)
        input = input.index_select(batch_dim, sorted_indices)
        lens = [lens[i] for i in order]
    if lens and lens[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
        )
    t_in = input.size(1 - batch_dim)
    if lens and lens[0] > t_in:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {lens[0]} exceeds the padded sequence length {t_in} of input "
            f"{list(input.shape)}"
        )
    index, batch_sizes = _pack_index(lens, t_in, batch_first)
    data = input[index]
    return PackedSequence(data, O.tensor(batch_sizes, dtype=D.int64, device="cpu"), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first: bool = False, padding_value: float = 0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded (T, B, *) [or (B, T, *)], lengths int64 tensor)."""
    data, batch_sizes_t, _, unsorted = sequence
    batch_sizes = [int(b) for b in batch_sizes_t.tolist()]
    max_len = len(batch_sizes)
    T = max_len
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {max_len}"
            )
        T = total_length
    B = batch_sizes[0] if batch_sizes else 0
    n = data.size(0)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes, dtype=np.int64)])
    pos = np.full((T, B), n, dtype=np.int64)  # row n is the padding row
    for t, bs in enumerate(batch_sizes):
        pos[t, :bs] = offsets[t] + np.arange(bs)
    lengths = (pos != n).sum(0)
    if batch_first:
        pos = pos.T
    pad_row = O.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = O.cat([data, pad_row])[O.tensor(np.ascontiguousarray(pos), dtype=D.int64)]
    lengths_t = O.tensor(lengths, dtype=D.int64)
    if unsorted is not None:
        padded = padded.index_select(0 if batch_first else 1, unsorted)
        lengths_t = lengths_t[unsorted.cpu()]
    return padded, lengths_t


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
):
    """Stack (L_i, *) tensors into (T, B, *) [batch_first: (B, T, *)], padded with padding_value."""
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    elif not isinstance(sequences, (list, tuple)):
        try:
            sequences = list(sequences)
        except TypeError:
            raise RuntimeError(
                f"pad_sequence: Expected iterable for input sequences, but got arg of type: {type(sequences)}"
            ) from None
    sequences = list(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    lens = [s.size(0) for s in sequences]
    T, B = max(lens), len(sequences)
    trail = tuple(sequences[0].shape[1:])
    for s in sequences:
        if tuple(s.shape[1:]) != trail:
            raise RuntimeError(
                f"pad_sequence: all sequences must share their trailing dims {list(trail)}, "
                f"got {list(s.shape)}"
            )
    n = sum(lens)
    starts = np.concatenate([[0], np.cumsum(lens, dtype=np.int64)])
    pos = np.full((B, T), n, dtype=np.int64)
    for b, ln in enumerate(lens):
        rows = starts[b] + np.arange(ln)
        if padding_side == "right":
            pos[b, :ln] = rows
        else:
            pos[b, T - ln :] = rows
    if not batch_first:
        pos = np.ascontiguousarray(pos.T)
    dt = sequences[0].dtype
    pad_row = O.full((1,) + trail, padding_value, dtype=dt, device=sequences[0].device)
    return O.cat(list(sequences) + [pad_row])[O.tensor(pos, dtype=D.int64)]


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Split a padded batch back into a list of (L_i, *) tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:ln] for seq, ln in zip(padded_sequences.unbind(0), _lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted: bool = True):
    """pack_padded_sequence(pad_sequence(sequences), lengths)."""
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences) -> list:
    """A PackedSequence back to the list of its sequences."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]
