"""Joining, splitting and rearranging ops against torch: cat/stack families, narrow/select/split/chunk/
tensor_split/unbind, flip/roll, tril/triu, repeat/tile/repeat_interleave, diag family, meshgrid, block_diag,
cartesian_prod (forward, grads, errors)."""

import pytest
import torch

import ember
from tests.helpers import assert_close, gradcheck_fn, ints, parity, raises_like, rand, vals

# ------------------------------------------------------------------------------------------------ cat / stack


@pytest.mark.parametrize(
    "shapes,dim",
    [
        ([(2, 3), (4, 3)], 0),
        ([(2, 3), (2, 1), (2, 0)], 1),
        ([(2, 3), (2, 5)], -1),
        ([(2, 3, 4), (2, 1, 4)], -2),
        ([(3,), (0,), (2,)], 0),
        ([(0, 3), (0, 3)], 0),
        ([(2, 2)], 1),
    ],
)
@pytest.mark.parametrize("fn", ["cat", "concat", "concatenate"])
def test_cat(fn, shapes, dim):
    parity(lambda t, *xs: getattr(t, fn)(xs, dim), *[rand(*s) for s in shapes])


def test_cat_noncontig_and_dtypes():
    parity(lambda t, x, y: t.cat([x, y], 1), rand(3, 2, noncontig=True), rand(3, 4))
    parity(lambda t, x, y: t.cat([x, y]), rand(2, 3, dtype="float16"), rand(1, 3, dtype="float64"))
    parity(lambda t, x, y: t.cat([x, y]), ints(2, 3, dtype="int32"), rand(1, 3))
    parity(lambda t, x, y: t.cat([x, y]), ints(2, 3, dtype="int64"), ints(1, 3, dtype="bool"))
    parity(
        lambda t, x, y, z: t.cat((x, y, z), dim=-1),
        ints(2, 1, dtype="uint8"),
        ints(2, 2, dtype="int8"),
        rand(2, 1, dtype="bfloat16"),
    )


def test_cat_legacy_empty_1d_skipped():
    parity(lambda t, x, y, z: t.cat([x, y, z], 1), rand(0), rand(2, 3), rand(2, 2))
    parity(lambda t, x, y: t.cat([x, y]), rand(0), rand(0, dtype="float64"))
    parity(lambda t, x, y: t.cat([x, y], dim=0), rand(0, dtype="float16"), ints(2, 3, dtype="int64"))


def test_cat_out():
    for m in (torch, ember):
        out = m.zeros(5, 2)
        r = m.cat([m.ones(2, 2), m.zeros(3, 2) + 2], out=out)
        assert r is out
    assert_close(out, torch.cat([torch.ones(2, 2), torch.zeros(3, 2) + 2]))


def test_cat_errors():
    raises_like(lambda t, x, y: t.cat([x, y]), rand(2, 3), rand(2, 4), match="Sizes of tensors must match")
    raises_like(lambda t, x, y: t.cat([x, y]), rand(2, 3), rand(3))
    raises_like(lambda t, x, y: t.cat([x, y]), rand(), rand())
    raises_like(lambda t, x, y: t.cat([x, y], 2), rand(2, 3), rand(2, 3))
    raises_like(lambda t: t.cat([]))
    raises_like(lambda t: t.hstack([]))
    raises_like(lambda t, x, y: t.cat([x, y]), rand(2), rand())
    raises_like(lambda t, x: t.cat(x), rand(2, 3))
    raises_like(lambda t, x: t.cat([x, 1.0]), rand(2))


@pytest.mark.parametrize(
    "shape,dim", [((2, 3), 0), ((2, 3), 2), ((2, 3), -1), ((2, 3), -3), ((), 0), ((0, 2), 1)]
)
def test_stack(shape, dim):
    parity(lambda t, x, y, z: t.stack([x, y, z], dim), rand(*shape), rand(*shape), rand(*shape))
    parity(
        lambda t, x, y: t.stack((x, y), dim=dim), rand(*shape, noncontig=True), rand(*shape, dtype="float64")
    )


def test_stack_errors_and_out():
    raises_like(lambda t, x, y: t.stack([x, y]), rand(2, 3), rand(3, 2), match="stack expects each tensor")
    raises_like(lambda t, x, y: t.stack([x, y], 3), rand(2, 3), rand(2, 3))
    raises_like(lambda t: t.stack([]))
    for m in (torch, ember):
        out = m.zeros(2, 3)
        assert m.stack([m.ones(3), m.ones(3)], out=out) is out


@pytest.mark.parametrize("fn", ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)], [(), ()], [(2, 3, 2), (2, 3, 2)]])
def test_stack_family(fn, shapes):
    if fn == "column_stack" and len(shapes[0]) == 3:
        shapes = [(2, 3), (2, 1)]
    parity(lambda t, *xs: getattr(t, fn)(xs), *[rand(*s) for s in shapes])


def test_stack_family_mixed():
    parity(lambda t, x, y: t.hstack([x, y]), rand(2, 3), rand(2, 1, dtype="float64"))
    parity(lambda t, x, y: t.vstack([x, y]), rand(3), rand(2, 3, noncontig=True))
    parity(lambda t, x, y: t.dstack([x, y]), rand(3), rand(1, 3))
    parity(lambda t, x, y, z: t.column_stack([x, y, z]), rand(3), rand(3, 2), ints(3, dtype="int64"))


# ------------------------------------------------------------------------------------------------ narrow / select


@pytest.mark.parametrize(
    "shape,dim,start,length",
    [
        ((5, 3), 0, 1, 3),
        ((5, 3), -1, 0, 2),
        ((5, 3), 0, -2, 2),
        ((5, 3), 1, 3, 0),
        ((5,), 0, 5, 0),
        ((4, 3), 0, 0, 4),
    ],
)
def test_narrow(shape, dim, start, length):
    parity(lambda t, x: x.narrow(dim, start, length), rand(*shape))
    parity(lambda t, x: t.narrow(x, dim, start, length), rand(*shape, noncontig=True, dtype="float64"))


def test_narrow_tensor_start_and_errors():
    parity(lambda t, x: x.narrow(0, t.tensor(2), 2), rand(5, 2))
    raises_like(lambda t, x: x.narrow(0, 3, 3), rand(5))
    raises_like(lambda t, x: x.narrow(0, -6, 1), rand(5))
    raises_like(lambda t, x: x.narrow(0, 0, -1), rand(5))
    raises_like(lambda t, x: x.narrow(2, 0, 1), rand(5, 2))
    raises_like(lambda t, x: x.narrow(0, 0, 1), rand())


@pytest.mark.parametrize(
    "shape,dim,index", [((4, 3), 0, 2), ((4, 3), 1, -1), ((4, 3), -2, -4), ((2, 3, 4), 2, 0)]
)
def test_select(shape, dim, index):
    parity(lambda t, x: x.select(dim, index), rand(*shape))
    parity(lambda t, x: t.select(x, dim, index), rand(*shape, noncontig=True))


def test_select_errors():
    raises_like(lambda t, x: x.select(0, 4), rand(4, 3))
    raises_like(lambda t, x: x.select(1, -4), rand(4, 3))
    raises_like(lambda t, x: x.select(2, 0), rand(4, 3))
    raises_like(lambda t, x: x.select(0, 0), rand())


# ------------------------------------------------------------------------------------------------ split family


@pytest.mark.parametrize(
    "shape,arg,dim",
    [
        ((7, 2), 3, 0),
        ((7, 2), 7, 0),
        ((7, 2), 10, 0),
        ((2, 6), 2, -1),
        ((7, 2), [2, 0, 5], 0),
        ((2, 6), (1, 5), 1),
        ((0, 2), 3, 0),
        ((0, 2), 0, 0),
    ],
)
def test_split(shape, arg, dim):
    parity(lambda t, x: t.split(x, arg, dim), rand(*shape))
    parity(lambda t, x: x.split(arg, dim=dim), rand(*shape, noncontig=True))


def test_split_with_sizes_and_errors():
    parity(lambda t, x: x.split_with_sizes([1, 2, 3], dim=1), rand(2, 6))
    parity(lambda t, x: t.split_with_sizes(x, (4, 0)), rand(4, 2))
    raises_like(lambda t, x: x.split_with_sizes([1, 2], 1), rand(2, 6))
    raises_like(lambda t, x: x.split([4, 3]), rand(6))
    raises_like(lambda t, x: x.split(0), rand(6))
    raises_like(lambda t, x: x.split(2, 1), rand(6))


@pytest.mark.parametrize(
    "shape,chunks,dim",
    [
        ((6, 2), 3, 0),
        ((7, 2), 3, 0),
        ((5,), 5, 0),
        ((5,), 8, 0),
        ((2, 5), 2, -1),
        ((0, 3), 2, 0),
        ((6,), 4, 0),
    ],
)
def test_chunk(shape, chunks, dim):
    parity(lambda t, x: x.chunk(chunks, dim), rand(*shape))
    parity(lambda t, x: t.chunk(x, chunks, dim=dim), rand(*shape, dtype="float64"))


def test_chunk_errors():
    raises_like(lambda t, x: x.chunk(0), rand(6))
    raises_like(lambda t, x: x.chunk(2, 1), rand(6))
    raises_like(lambda t, x: x.chunk(2), rand())


@pytest.mark.parametrize(
    "shape,arg,dim",
    [
        ((7, 2), 3, 0),
        ((2, 7), 3, -1),
        ((5,), 7, 0),
        ((7,), [2, 5], 0),
        ((7,), [2, 2, 9], 0),
        ((7,), [-2, 3], 0),
        ((7,), [5, 2], 0),
        ((7,), [], 0),
        ((0,), 2, 0),
    ],
)
def test_tensor_split(shape, arg, dim):
    parity(lambda t, x: t.tensor_split(x, arg, dim), rand(*shape))
    parity(lambda t, x: x.tensor_split(arg, dim=dim), rand(*shape, dtype="float64"))


def test_tensor_split_tensor_args_and_errors():
    parity(lambda t, x: t.tensor_split(x, t.tensor([1, 4]), 1), rand(2, 6))
    parity(lambda t, x: t.tensor_split(x, t.tensor(3)), rand(7))
    raises_like(lambda t, x: t.tensor_split(x, 0), rand(7))
    raises_like(lambda t, x: t.tensor_split(x, 2), rand())
    raises_like(lambda t, x: t.tensor_split(x, t.tensor([1.0, 2.0])), rand(7))
    raises_like(lambda t, x: t.tensor_split(x, 2, 1), rand(7))


@pytest.mark.parametrize("shape,dim", [((3, 2), 0), ((3, 2), 1), ((3, 2), -1), ((0, 2), 0), ((2, 0), 0)])
def test_unbind(shape, dim):
    parity(lambda t, x: x.unbind(dim), rand(*shape))
    parity(lambda t, x: t.unbind(x, dim=dim), rand(*shape, noncontig=True))


def test_unbind_error():
    raises_like(lambda t, x: x.unbind(), rand())
    raises_like(lambda t, x: x.unbind(2), rand(3, 2))
    raises_like(lambda t, x: x.split(1), rand())


@pytest.mark.parametrize(
    "fn,shape,arg",
    [
        ("hsplit", (2, 6), 3),
        ("hsplit", (6,), [1, 4]),
        ("hsplit", (2, 4, 2), 2),
        ("vsplit", (6, 2), 2),
        ("vsplit", (6, 2), [2, 3]),
    ],
)
def test_hsplit_vsplit(fn, shape, arg):
    parity(lambda t, x: getattr(t, fn)(x, arg), rand(*shape))
    parity(lambda t, x: getattr(x, fn)(arg), rand(*shape, dtype="float64"))


def test_hsplit_vsplit_errors():
    raises_like(lambda t, x: t.hsplit(x, 4), rand(2, 6))
    raises_like(lambda t, x: t.vsplit(x, 2), rand(6))
    raises_like(lambda t, x: t.hsplit(x, 2), rand())
    raises_like(lambda t, x: t.hsplit(x, 0), rand(2, 6))
    raises_like(lambda t, x: t.hsplit(x, 4), rand(6), match="divisible")
    raises_like(lambda t, x: t.dsplit(x, 2), rand(2, 4))


def test_dsplit():
    parity(lambda t, x: t.dsplit(x, 2), rand(2, 1, 4))
    parity(lambda t, x: t.dsplit(x, [1, 3]), rand(2, 1, 4, dtype="float64"))


# ------------------------------------------------------------------------------------------------ flip / roll


@pytest.mark.parametrize(
    "shape,dims",
    [((3, 4), 0), ((3, 4), (0, 1)), ((3, 4), [-1]), ((2, 3, 4), (0, 2)), ((), ()), ((3,), ()), ((0, 2), 1)],
)
def test_flip(shape, dims):
    parity(lambda t, x: t.flip(x, [dims] if isinstance(dims, int) else dims), rand(*shape))
    parity(lambda t, x: x.flip(dims), rand(*shape, noncontig=True))


def test_flip_variants_and_errors():
    parity(lambda t, x: t.fliplr(x), rand(3, 4))
    parity(lambda t, x: t.flipud(x), rand(3, 4, noncontig=True))
    parity(lambda t, x: t.flipud(x), ints(5))
    parity(lambda t, x: x.flip(0), ints(4, 2, dtype="bool"))
    parity(lambda t, x: x.flip([0]), rand())
    raises_like(lambda t, x: x.flip((0, 0)), rand(3, 4), match="multiple times")
    raises_like(lambda t, x: x.flip(2), rand(3, 4))
    raises_like(lambda t, x: t.fliplr(x), rand(3))
    raises_like(lambda t, x: t.flipud(x), rand())


@pytest.mark.parametrize(
    "shape,shifts,dims",
    [
        ((3, 4), 1, None),
        ((3, 4), -5, None),
        ((3, 4), 2, 1),
        ((3, 4), -1, -2),
        ((3, 4), (1, 2), (0, 1)),
        ((2, 3, 4), (1, -1, 7), (0, 1, 2)),
        ((2, 3, 4), (1, 1), (2, 2)),
        ((), 3, None),
        ((0, 3), 1, 0),
        ((3, 4), (2,), None),
    ],
)
def test_roll(shape, shifts, dims):
    parity(lambda t, x: t.roll(x, shifts, dims), rand(*shape))
    parity(lambda t, x: x.roll(shifts, dims=dims), rand(*shape, noncontig=True, dtype="float64"))


def test_roll_errors():
    raises_like(lambda t, x: x.roll((1, 2), 0), rand(3, 4))
    raises_like(lambda t, x: x.roll((1, 2)), rand(3, 4))
    raises_like(lambda t, x: x.roll(1, 2), rand(3, 4))
    raises_like(lambda t, x: x.roll([], []), rand(3, 4))
    raises_like(lambda t, x: x.roll(1, 0), rand())


@pytest.mark.parametrize("fn", ["tril", "triu"])
@pytest.mark.parametrize(
    "shape,diagonal",
    [
        ((4, 5), 0),
        ((4, 5), 2),
        ((4, 5), -1),
        ((4, 5), 9),
        ((4, 5), -9),
        ((2, 3, 3), 1),
        ((2, 2, 3, 4), -2),
        ((0, 3), 0),
    ],
)
def test_tril_triu(fn, shape, diagonal):
    parity(lambda t, x: getattr(t, fn)(x, diagonal), rand(*shape))
    parity(lambda t, x: getattr(x, fn)(diagonal=diagonal), rand(*shape, noncontig=True))


def test_tril_triu_ints_inplace_errors():
    parity(lambda t, x: t.tril(x, 1), ints(3, 4))
    parity(lambda t, x: t.triu(x), ints(3, 3, dtype="bool"))
    parity(lambda t, x: (x * 1).tril_(-1), rand(3, 4))
    parity(lambda t, x: (x * 1).triu_(1), rand(2, 3, 4, noncontig=True))
    raises_like(lambda t, x: t.tril(x), rand(3))
    raises_like(lambda t, x: t.triu(x), rand())


# ------------------------------------------------------------------------------------------------ repeat / tile


@pytest.mark.parametrize(
    "shape,sizes",
    [
        ((2, 3), (2, 1)),
        ((2, 3), (1, 3)),
        ((2, 3), (2, 2, 2)),
        ((3,), (2, 1, 2)),
        ((), (3,)),
        ((), ()),
        ((2, 3), (0, 2)),
        ((0, 2), (3, 1)),
    ],
)
def test_repeat(shape, sizes):
    parity(lambda t, x: x.repeat(*sizes) if sizes else x.repeat(()), rand(*shape))
    parity(lambda t, x: x.repeat(sizes), rand(*shape, noncontig=True, dtype="float64"))


def test_repeat_errors():
    raises_like(lambda t, x: x.repeat(2), rand(2, 3))
    raises_like(lambda t, x: x.repeat(2, -1), rand(2, 3))


@pytest.mark.parametrize(
    "shape,dims",
    [((2, 3), (2,)), ((2, 3), (2, 1)), ((2, 3), (2, 1, 3)), ((3,), (2, 2)), ((), (2,)), ((2, 3), ())],
)
def test_tile(shape, dims):
    parity(lambda t, x: t.tile(x, dims), rand(*shape))
    parity(lambda t, x: x.tile(dims), ints(*shape))


@pytest.mark.parametrize(
    "shape,repeats,dim",
    [
        ((2, 3), 2, None),
        ((2, 3), 2, 0),
        ((2, 3), 3, -1),
        ((2, 3), 0, 1),
        ((), 3, None),
        ((2, 3), [1, 0, 2], 1),
        ((3,), [2, 2, 1], 0),
        ((2, 3), [1, 2, 0, 1, 1, 3], None),
        ((2, 3), [4], 0),
        ((0, 2), 2, 0),
    ],
)
def test_repeat_interleave(shape, repeats, dim):
    if isinstance(repeats, list):
        parity(lambda t, x: t.repeat_interleave(x, t.tensor(repeats), dim), rand(*shape))
    else:
        parity(lambda t, x: t.repeat_interleave(x, repeats, dim), rand(*shape))
        parity(lambda t, x: x.repeat_interleave(repeats, dim=dim), rand(*shape, noncontig=True))
        parity(lambda t, x: x.repeat_interleave(t.tensor(repeats), dim=dim), ints(*shape))


def test_repeat_interleave_counts_only_and_dtypes():
    parity(lambda t, r: t.repeat_interleave(r), vals([2, 0, 3], dtype="int64"))
    parity(lambda t, r: t.repeat_interleave(r), vals([1, 2], dtype="int32"))
    parity(lambda t, r: t.repeat_interleave(r), vals([], dtype="int64"))
    parity(
        lambda t, x: t.repeat_interleave(x, t.tensor([1, 2], dtype=t.int32), 0), rand(2, 2, dtype="float16")
    )
    parity(lambda t, x: t.repeat_interleave(x, 2, 0, output_size=6), rand(3))


def test_repeat_interleave_errors():
    raises_like(lambda t, x: t.repeat_interleave(x, -1), rand(3))
    raises_like(lambda t, x: t.repeat_interleave(x, t.tensor([1, 2]), 0), rand(3))
    raises_like(lambda t, x: t.repeat_interleave(x, t.tensor([1, -1, 2]), 0), rand(3))
    raises_like(lambda t, x: t.repeat_interleave(x, 2, 2), rand(3, 2))
    raises_like(lambda t, x: t.repeat_interleave(x, t.tensor([[1, 1, 1]]), 0), rand(3))
    raises_like(lambda t, x: t.repeat_interleave(x, t.tensor([1.0, 1.0, 1.0]), 0), rand(3))
    raises_like(lambda t, x: t.repeat_interleave(x, 2.5), rand(3))
    raises_like(lambda t, x: t.repeat_interleave(x, 2, 0, output_size=5), rand(3, 2), match="output_size")
    raises_like(lambda t, r: t.repeat_interleave(r), ints(1, 2))
    raises_like(lambda t, r: t.repeat_interleave(r), vals([1.0, 2.0]))


# ------------------------------------------------------------------------------------------------ diag family


@pytest.mark.parametrize(
    "shape,diagonal",
    [
        ((3,), 0),
        ((3,), 2),
        ((3,), -1),
        ((0,), 1),
        ((3, 4), 0),
        ((3, 4), 1),
        ((3, 4), -2),
        ((3, 4), 6),
        ((1,), 0),
    ],
)
def test_diag(shape, diagonal):
    parity(lambda t, x: t.diag(x, diagonal), rand(*shape))
    parity(lambda t, x: x.diag(diagonal=diagonal), ints(*shape))


def test_diag_noncontig_and_errors():
    parity(lambda t, x: t.diag(x, 1), rand(3, 4, noncontig=True))
    raises_like(lambda t, x: t.diag(x), rand(2, 2, 2))
    raises_like(lambda t, x: t.diag(x), rand())


@pytest.mark.parametrize(
    "shape,offset,d1,d2",
    [
        ((3,), 0, -2, -1),
        ((2, 3), 1, -2, -1),
        ((2, 3), -1, 0, 2),
        ((2, 3), 0, 2, 0),
        ((2, 3), 2, -1, 1),
        ((0,), 0, 0, 1),
        ((2, 0), 1, 0, 1),
    ],
)
def test_diag_embed(shape, offset, d1, d2):
    parity(lambda t, x: t.diag_embed(x, offset, d1, d2), rand(*shape))
    parity(lambda t, x: x.diag_embed(offset=offset, dim1=d1, dim2=d2), rand(*shape, dtype="float64"))


def test_diag_embed_errors_and_ints():
    parity(lambda t, x: t.diag_embed(x), ints(2, 3))
    raises_like(lambda t, x: t.diag_embed(x, 0, 1, 1), rand(2, 3))
    raises_like(lambda t, x: t.diag_embed(x, 0, 0, 3), rand(2, 3))


@pytest.mark.parametrize("shape,offset", [((3,), 0), ((2, 2), 1), ((2, 2), -2), ((), 0), ((0,), 1)])
def test_diagflat(shape, offset):
    parity(lambda t, x: t.diagflat(x, offset), rand(*shape))
    parity(lambda t, x: x.diagflat(offset), rand(*shape, noncontig=True, dtype="float64"))


# ------------------------------------------------------------------------------------------------ grids


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("shapes", [[(3,), (4,)], [(2,), (3,), (4,)], [(3,)], [(), (2,)], [(0,), (2,)]])
def test_meshgrid(indexing, shapes):
    parity(lambda t, *xs: t.meshgrid(*xs, indexing=indexing), *[rand(*s) for s in shapes])
    parity(lambda t, *xs: t.meshgrid(xs, indexing=indexing), *[ints(*s) for s in shapes])


def test_meshgrid_errors():
    raises_like(
        lambda t, x, y: t.meshgrid(x, y, indexing="ij"), rand(2), rand(3, dtype="float64"), match="dtype"
    )
    raises_like(lambda t, x, y: t.meshgrid(x, y, indexing="xx"), rand(2), rand(3))
    raises_like(lambda t, x, y: t.meshgrid(x, y, indexing="ij"), rand(2), rand(3, 2))
    raises_like(lambda t: t.meshgrid(indexing="ij"))


@pytest.mark.parametrize(
    "shapes",
    [[(2, 2), (3, 1)], [(2, 3), (), (2,)], [(1, 2)], [(0, 2), (2, 0), (1, 1)], [(2, 2), (2, 2), (1, 3)]],
)
def test_block_diag(shapes):
    parity(lambda t, *xs: t.block_diag(*xs), *[rand(*s) for s in shapes])


def test_block_diag_dtypes_and_errors():
    parity(lambda t, x, y: t.block_diag(x, y), ints(2, 2), rand(1, 2, dtype="float64"))
    parity(lambda t, x, y: t.block_diag(x, y), rand(2, 2, noncontig=True), ints(2, dtype="bool"))
    parity(lambda t: t.block_diag())
    raises_like(lambda t, x: t.block_diag(x), rand(2, 2, 2))
    raises_like(lambda t, x: t.cartesian_prod(x), rand(2, 2))
    raises_like(lambda t, x, y: t.cartesian_prod(x, y), rand(2), ints(2))
    raises_like(lambda t: t.cartesian_prod())


@pytest.mark.parametrize("shapes", [[(2,), (3,)], [(2,), (1,), (2,)], [(3,)], [(0,), (2,)]])
def test_cartesian_prod(shapes):
    parity(lambda t, *xs: t.cartesian_prod(*xs), *[rand(*s) for s in shapes])
    parity(lambda t, *xs: t.cartesian_prod(*xs), *[ints(*s) for s in shapes])


# ------------------------------------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(
    "fn,specs",
    [
        (lambda t, x, y: t.cat([x, y], 1), [rand(2, 2), rand(2, 1)]),
        (lambda t, x, y: t.stack([x, y], -1), [rand(2, 2), rand(2, 2)]),
        (lambda t, x, y: t.column_stack([x, y]), [rand(2), rand(2, 2)]),
        (lambda t, x: x.narrow(1, 1, 2), [rand(2, 3)]),
        (lambda t, x: x.select(0, -1), [rand(2, 3)]),
        (lambda t, x: x.split([1, 2], 1)[1], [rand(2, 3)]),
        (lambda t, x: x.chunk(2, 1)[1], [rand(2, 3)]),
        (lambda t, x: t.tensor_split(x, [1], 1)[0], [rand(2, 3)]),
        (lambda t, x: x.unbind(1)[2], [rand(2, 3)]),
        (lambda t, x: x.flip((0, 1)), [rand(2, 3)]),
        (lambda t, x: x.roll((1, -1), (0, 1)), [rand(2, 3)]),
        (lambda t, x: x.roll(2), [rand(2, 3)]),
        (lambda t, x: x.tril(1), [rand(3, 3)]),
        (lambda t, x: x.triu(-1), [rand(3, 3)]),
        (lambda t, x: x.repeat(2, 1, 2), [rand(2, 2)]),
        (lambda t, x: x.tile((2,)), [rand(3)]),
        (lambda t, x: x.repeat_interleave(2, 0), [rand(2, 2)]),
        (lambda t, x: x.repeat_interleave(t.tensor([2, 0, 1]), 1), [rand(2, 3)]),
        (lambda t, x: t.diag(x, 1), [rand(3)]),
        (lambda t, x: t.diag(x, -1), [rand(3, 3)]),
        (lambda t, x: t.diag_embed(x, 1, 0, 2), [rand(2, 2)]),
        (lambda t, x: t.diagflat(x), [rand(2, 2)]),
        (lambda t, x, y: t.meshgrid(x, y, indexing="xy")[0], [rand(2), rand(3)]),
        (lambda t, x, y: t.block_diag(x, y), [rand(2, 1), rand(2)]),
        (lambda t, x, y: t.cartesian_prod(x, y), [rand(2), rand(2)]),
    ],
)
def test_gradcheck(fn, specs):
    gradcheck_fn(fn, *specs)


@pytest.mark.parametrize(
    "fn,specs",
    [
        (lambda t, x, y: t.cat([x * y, y], 0), [rand(2), rand(2)]),
        (lambda t, x: (x * x).roll((1, -1), (0, 1)), [rand(2, 2)]),
        (lambda t, x: (x * x).repeat_interleave(t.tensor([2, 0, 1]), 0), [rand(3)]),
        (lambda t, x: t.diag_embed(x * x, -1), [rand(2)]),
        (lambda t, x: (x * x).tril(-1).repeat(2, 1), [rand(2, 2)]),
        (lambda t, x: (x * x).flip(0).narrow(0, 1, 2), [rand(3)]),
    ],
)
def test_gradgradcheck(fn, specs):
    xs = gradcheck_fn(fn, *specs)
    assert ember.autograd.gradgradcheck(lambda *a: fn(ember, *a), tuple(xs))
