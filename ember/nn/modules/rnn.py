"""Recurrent layers: RNN (tanh / relu), LSTM (optional projection), GRU and their single-step cells.

Each (layer, direction) runs as one fused Op over the whole sequence: the input projection x W_ih^T + b
of every time step is one matmul (ember ops) before the Op; the Op loops over time only, in NumPy, and saves
the gate activations; its backward is backpropagation through time in NumPy with one matmul for dW_hh at
the end. Under create_graph the backward differentiates the plain composition of ember ops
(`_layer_math`, also the reference the tests use), so higher derivatives are exact.

Sequences are handled in the packed layout: rows of time step t are data[offset_t : offset_t + batch_sizes[t]]
(a padded (T, B, *) input is the case batch_sizes = (B,) * T), which also serves PackedSequence inputs.
Gate order and weight layout are torch's: LSTM (i, f, g, o), GRU (r, z, n) with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
"""

from __future__ import annotations

import math
import numbers
import warnings

from ... import ops as O
from ..._tensor import Tensor
from ...autograd.grad_mode import STATE
from ...ops._dispatch import dispatch
from ...ops.op import Op
from .. import init
from ..functional.linear import linear
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _offsets(batch_sizes) -> list:
    offs = [0]
    for b in batch_sizes:
        offs.append(offs[-1] + b)
    return offs


# ------------------------------------------------------------------------------------------ NumPy kernels


def _np_forward(xp, expit, mode, x, h0, c0, w_hh, b_hh, w_hr, batch_sizes, reverse, save):
    """Run one (layer, direction) over packed rows x (N, G): (out, h_n, c_n, saved activations)."""
    offs = _offsets(batch_sizes)
    n_rows = offs[-1]
    T = len(batch_sizes)
    dt = x.dtype
    h = h0.copy()
    hout = h.shape[1]
    out = xp.empty((n_rows, hout), dtype=dt)
    whh_t = w_hh.T
    order = range(T - 1, -1, -1) if reverse else range(T)
    acts: tuple = ()
    c = None
    if mode == "LSTM":
        c = c0.copy()
        H = c.shape[1]
        whr_t = w_hr.T if w_hr is not None else None
        if save:
            A = xp.empty((n_rows, 4 * H), dtype=dt)
            TC = xp.empty((n_rows, H), dtype=dt)
            HP = xp.empty((n_rows, hout), dtype=dt)
            CP = xp.empty((n_rows, H), dtype=dt)
            acts = (A, TC, HP, CP)
        for t in order:
            bs, r0 = batch_sizes[t], offs[t]
            r1 = r0 + bs
            hp, cp = h[:bs], c[:bs]
            gates = hp @ whh_t
            gates += x[r0:r1]
            g = xp.tanh(gates[:, 2 * H : 3 * H])
            expit(gates, out=gates)
            gates[:, 2 * H : 3 * H] = g
            cn = gates[:, H : 2 * H] * cp
            cn += gates[:, :H] * g
            tc = xp.tanh(cn)
            hn = gates[:, 3 * H :] * tc
            if whr_t is not None:
                hn = hn @ whr_t
            if save:
                A[r0:r1] = gates
                TC[r0:r1] = tc
                HP[r0:r1] = hp
                CP[r0:r1] = cp
            out[r0:r1] = hn
            h[:bs] = hn
            c[:bs] = cn
    elif mode == "GRU":
        H = hout
        if save:
            A = xp.empty((n_rows, 3 * H), dtype=dt)
            GHN = xp.empty((n_rows, H), dtype=dt)
            HP = xp.empty((n_rows, H), dtype=dt)
            acts = (A, GHN, HP)
        for t in order:
            bs, r0 = batch_sizes[t], offs[t]
            r1 = r0 + bs
            hp = h[:bs]
            xt = x[r0:r1]
            gh = hp @ whh_t
            if b_hh is not None:
                gh += b_hh
            rz = xt[:, : 2 * H] + gh[:, : 2 * H]
            expit(rz, out=rz)
            n = rz[:, :H] * gh[:, 2 * H :]
            n += xt[:, 2 * H :]
            xp.tanh(n, out=n)
            hn = hp - n
            hn *= rz[:, H:]
            hn += n
            if save:
                A[r0:r1, : 2 * H] = rz
                A[r0:r1, 2 * H :] = n
                GHN[r0:r1] = gh[:, 2 * H :]
                HP[r0:r1] = hp
            out[r0:r1] = hn
            h[:bs] = hn
    else:
        relu = mode == "RNN_RELU"
        if save:
            HP = xp.empty((n_rows, hout), dtype=dt)
            acts = (HP,)
        for t in order:
            bs, r0 = batch_sizes[t], offs[t]
            r1 = r0 + bs
            hp = h[:bs]
            pre = hp @ whh_t
            pre += x[r0:r1]
            if relu:
                xp.maximum(pre, 0, out=pre)
            else:
                xp.tanh(pre, out=pre)
            if save:
                HP[r0:r1] = hp
            out[r0:r1] = pre
            h[:bs] = pre
    return out, h, c, acts


def _np_backward(
    xp, mode, gout, gh_n, gc_n, w_hh, w_hr, out, acts, batch_sizes, reverse, h_shape, c_shape, need
):
    """Backpropagation through time on arrays: (dx, dh0, dc0, dW_hh, db_hh, dW_hr) (None where not needed)."""
    offs = _offsets(batch_sizes)
    n_rows = offs[-1]
    T = len(batch_sizes)
    dt = out.dtype
    dh = gh_n.astype(dt, copy=True) if gh_n is not None else xp.zeros(h_shape, dtype=dt)
    if gout is not None:
        gout = gout.astype(dt, copy=False)
    order = range(T) if reverse else range(T - 1, -1, -1)  # reverse of the processing order
    G = w_hh.shape[0]
    dX = xp.empty((n_rows, G), dtype=dt)
    dc = dW_hh = db_hh = dW_hr = None
    if mode == "LSTM":
        A, TC, HP, CP = acts
        H = TC.shape[1]
        dc = gc_n.astype(dt, copy=True) if gc_n is not None else xp.zeros(c_shape, dtype=dt)
        S = A * (1 - A)  # sigmoid derivatives; the g block holds tanh's
        g_all = A[:, 2 * H : 3 * H]
        S[:, 2 * H : 3 * H] = 1 - g_all * g_all
        DTC = 1 - TC * TC
        DHN = xp.empty((n_rows, w_hr.shape[0]), dtype=dt) if w_hr is not None else None
        for t in order:
            bs, r0 = batch_sizes[t], offs[t]
            r1 = r0 + bs
            dhn = dh[:bs] + gout[r0:r1] if gout is not None else dh[:bs].copy()
            if DHN is not None:
                DHN[r0:r1] = dhn
                dhn = dhn @ w_hr
            a = A[r0:r1]
            tc = TC[r0:r1]
            dcn = dhn * a[:, 3 * H :]
            dcn *= DTC[r0:r1]
            dcn += dc[:bs]
            d = dX[r0:r1]
            xp.multiply(dcn, a[:, 2 * H : 3 * H], out=d[:, :H])
            xp.multiply(dcn, CP[r0:r1], out=d[:, H : 2 * H])
            xp.multiply(dcn, a[:, :H], out=d[:, 2 * H : 3 * H])
            xp.multiply(dhn, tc, out=d[:, 3 * H :])
            d *= S[r0:r1]
            dc[:bs] = dcn * a[:, H : 2 * H]
            dh[:bs] = d @ w_hh
        if need[3]:
            dW_hh = dX.T @ HP
        if need[5] and DHN is not None:
            dW_hr = DHN.T @ (A[:, 3 * H :] * TC)
    elif mode == "GRU":
        A, GHN, HP = acts
        H = GHN.shape[1]
        r_all, z_all, n_all = A[:, :H], A[:, H : 2 * H], A[:, 2 * H :]
        KN = (1 - z_all) * (1 - n_all * n_all)  # dn_pre = dh * KN
        KZ = (HP - n_all) * z_all * (1 - z_all)  # dz_pre = dh * KZ
        KR = GHN * r_all * (1 - r_all)  # dr_pre = dn_pre * KR
        dGH = xp.empty((n_rows, G), dtype=dt)
        for t in order:
            bs, r0 = batch_sizes[t], offs[t]
            r1 = r0 + bs
            dhn = dh[:bs] + gout[r0:r1] if gout is not None else dh[:bs].copy()
            d = dX[r0:r1]
            e = dGH[r0:r1]
            dn = xp.multiply(dhn, KN[r0:r1], out=d[:, 2 * H :])
            xp.multiply(dn, KR[r0:r1], out=d[:, :H])
            xp.multiply(dhn, KZ[r0:r1], out=d[:, H : 2 * H])
            e[:, : 2 * H] = d[:, : 2 * H]
            xp.multiply(dn, A[r0:r1, :H], out=e[:, 2 * H :])
            dhp = e @ w_hh
            dhp += dhn * A[r0:r1, H : 2 * H]
            dh[:bs] = dhp
        if need[3]:
            dW_hh = dGH.T @ HP
        if need[4]:
            db_hh = dGH.sum(0)
    else:
        (HP,) = acts
        D_ = out > 0 if mode == "RNN_RELU" else 1 - out * out
        for t in order:
            bs, r0 = batch_sizes[t], offs[t]
            r1 = r0 + bs
            d = dX[r0:r1]
            if gout is not None:
                xp.add(dh[:bs], gout[r0:r1], out=d)
            else:
                d[...] = dh[:bs]
            d *= D_[r0:r1]
            dh[:bs] = d @ w_hh
        if need[3]:
            dW_hh = dX.T @ HP
    return dX, dh, dc, dW_hh, db_hh, dW_hr


class _RecurrentLayer(Op):
    """One (layer, direction) over a packed sequence: inputs (x_proj, h0, c0, w_hh, b_hh, w_hr) ->
    (output rows, h_n, c_n). x_proj (N, G) already holds x W_ih^T + b_ih (+ b_hh except for GRU)."""

    num_outputs = 3

    @staticmethod
    def forward(ctx, x, h0, c0, w_hh, b_hh, w_hr, mode="LSTM", batch_sizes=(), reverse=False):
        xp = ctx.xp
        dt = x.dtype
        orig = (x, h0, c0, w_hh, b_hh, w_hr)
        if dt.itemsize == 2:  # float16 / bfloat16 compute in float32
            x, h0, c0, w_hh, b_hh, w_hr = (a.astype(xp.float32) if a is not None else None for a in orig)
        save = any(ctx.needs_input_grad)
        expit = ctx.be.special.expit
        out, hn, cn, acts = _np_forward(
            xp, expit, mode, x, h0, c0, w_hh, b_hh, w_hr, batch_sizes, reverse, save
        )
        ctx.mode, ctx.batch_sizes, ctx.reverse = mode, batch_sizes, reverse
        if save:
            ctx.save_for_backward(*orig, out, *acts)
        if cn is None:
            cn = xp.zeros((0,), dtype=dt)
        return out.astype(dt, copy=False), hn.astype(dt, copy=False), cn.astype(dt, copy=False)

    @staticmethod
    def backward(ctx, gout, gh_n, gc_n):
        saved = ctx.saved_tensors
        inputs = saved[:6]
        need = tuple(ctx.needs_input_grad[:6])
        if STATE.enabled:
            return _backward_math(ctx.mode, inputs, need, (gout, gh_n, gc_n), ctx.batch_sizes, ctx.reverse)
        h0, c0, w_hh, w_hr = inputs[1], inputs[2], inputs[3], inputs[5]
        attrs = {
            "mode": ctx.mode,
            "batch_sizes": ctx.batch_sizes,
            "reverse": ctx.reverse,
            "h_shape": tuple(h0.shape),
            "c_shape": tuple(c0.shape) if c0 is not None else None,
            "need": need,
        }
        grads = dispatch(_RecurrentLayerGrad, (gout, gh_n, gc_n, w_hh, w_hr, *saved[6:]), attrs)
        return tuple(g if n else None for g, n in zip(grads, need))


class _RecurrentLayerGrad(Op):
    """The BPTT of _RecurrentLayer on arrays (first order; create_graph goes through `_layer_math`)."""

    differentiable = False
    num_outputs = 6

    @staticmethod
    def forward(
        ctx, gout, gh_n, gc_n, w_hh, w_hr, out, *acts, mode, batch_sizes, reverse, h_shape, c_shape, need
    ):
        xp = ctx.xp
        dt = out.dtype
        w_hh = w_hh.astype(dt, copy=False)
        w_hr = w_hr.astype(dt, copy=False) if w_hr is not None else None
        res = _np_backward(
            xp, mode, gout, gh_n, gc_n, w_hh, w_hr, out, acts, batch_sizes, reverse, h_shape, c_shape, need
        )
        empty = xp.zeros((0,), dtype=dt)
        return tuple(r if r is not None else empty for r in res)


# ------------------------------------------------------------------------------------------ composition


def _layer_math(mode, x, h0, c0, w_hh, b_hh, w_hr, batch_sizes, reverse):
    """The same (layer, direction) as a plain composition of ember ops: (output rows, h_n, c_n)."""
    offs = _offsets(batch_sizes)
    T = len(batch_sizes)
    B = h0.shape[0]
    h, c = h0, c0
    outs = [None] * T
    whh_t = w_hh.t()
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        bs, r0 = batch_sizes[t], offs[t]
        xt = x[r0 : r0 + bs]
        hp = h if bs == B else h[:bs]
        if mode == "LSTM":
            cp = c if bs == B else c[:bs]
            i, f, g, o = (xt + hp.matmul(whh_t)).chunk(4, 1)
            cn = f.sigmoid() * cp + i.sigmoid() * g.tanh()
            hn = o.sigmoid() * cn.tanh()
            if w_hr is not None:
                hn = hn.matmul(w_hr.t())
            c = cn if bs == B else O.cat([cn, c[bs:]])
        elif mode == "GRU":
            gh = hp.matmul(whh_t)
            if b_hh is not None:
                gh = gh + b_hh
            xr, xz, xn = xt.chunk(3, 1)
            hr, hz, hn_ = gh.chunk(3, 1)
            r = (xr + hr).sigmoid()
            z = (xz + hz).sigmoid()
            n = (xn + r * hn_).tanh()
            hn = (1 - z) * n + z * hp
        else:
            pre = xt + hp.matmul(whh_t)
            hn = pre.relu() if mode == "RNN_RELU" else pre.tanh()
        outs[t] = hn
        h = hn if bs == B else O.cat([hn, h[bs:]])
    return O.cat(outs, 0), h, c


def _backward_math(mode, inputs, need, grads, batch_sizes, reverse):
    """Gradients of `_layer_math` (recorded, for create_graph) with respect to the inputs that need them."""
    from ...autograd import grad as _grad

    outs = _layer_math(mode, *inputs, batch_sizes, reverse)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o is not None]
    idx = [i for i in range(6) if need[i]]
    res = [None] * 6
    if not pairs or not idx:
        return tuple(res)
    got = _grad(
        [o for o, _ in pairs],
        [inputs[i] for i in idx],
        [g for _, g in pairs],
        create_graph=True,
        allow_unused=True,
    )
    for i, g in zip(idx, got):
        res[i] = g
    return tuple(res)


def _layer(mode, x, h0, c0, w_hh, b_hh, w_hr, batch_sizes, reverse):
    """Dispatch one fused (layer, direction): returns (output rows, h_n, c_n or None)."""
    attrs = {"mode": mode, "batch_sizes": tuple(batch_sizes), "reverse": reverse}
    out, hn, cn = dispatch(_RecurrentLayer, (x, h0, c0, w_hh, b_hh, w_hr), attrs)
    return out, hn, (cn if mode == "LSTM" else None)


def _in_proj(mode, x, w_ih, b_ih, b_hh):
    """x W_ih^T + b_ih (+ b_hh folded in for RNN/LSTM; GRU keeps b_hh inside r * (W_hn h + b_hn))."""
    if b_ih is None:
        return linear(x, w_ih)
    b = b_ih if mode == "GRU" else b_ih + b_hh
    return linear(x, w_ih, b)


# ------------------------------------------------------------------------------------------ modules


class RNNBase(Module):
    """Shared parameters and driver of RNN / LSTM / GRU: weight_ih_l{k}[_reverse], weight_hh_l{k}, biases,
    weight_hr_l{k} (LSTM with proj_size), all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    __constants__ = [
        "mode",
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "proj_size",
    ]

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        fk = {"device": device, "dtype": dtype}
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being "
                "zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        real_hidden = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                params = [
                    (f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                    (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden)),
                ]
                if bias:
                    params += [
                        (f"bias_ih_l{layer}{suffix}", (gate_size,)),
                        (f"bias_hh_l{layer}{suffix}", (gate_size,)),
                    ]
                if proj_size > 0:
                    params += [(f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size))]
                for name, shape in params:
                    setattr(self, name, Parameter(O.empty(shape, **fk)))
                names = [n for n, _ in params]
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, w) for w in ws] for ws in self._all_weights]

    def flatten_parameters(self) -> None:
        """No-op (torch packs weights for cuDNN here)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def check_input(self, input: Tensor, batch_sizes) -> None:
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). Convert input: "
                f"input.to({w.dtype}), or convert model: model.to({input.dtype})"
            )
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(
                "input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.size(-1)}"
            )

    def get_expected_hidden_size(self, input: Tensor, batch_sizes) -> tuple:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def check_hidden_size(self, hx: Tensor, expected, msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.size()) != tuple(expected):
            raise RuntimeError(msg.format(tuple(expected), list(hx.size())))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # -- the driver shared by RNN / LSTM / GRU
    def _run(self, rows: Tensor, batch_sizes, h0: Tensor, c0: Tensor | None):
        """All layers and directions on packed rows (N, input_size): (output rows, h_n, c_n or None)."""
        mode = self.mode
        D = 2 if self.bidirectional else 1
        hs = h0.unbind(0)
        cs = c0.unbind(0) if c0 is not None else None
        hn_all, cn_all = [], []
        x = rows
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                names = self._all_weights[k]
                w_ih = getattr(self, names[0])
                w_hh = getattr(self, names[1])
                b_ih = getattr(self, names[2]) if self.bias else None
                b_hh = getattr(self, names[3]) if self.bias else None
                w_hr = getattr(self, names[-1]) if self.proj_size > 0 else None
                xproj = _in_proj(mode, x, w_ih, b_ih, b_hh)
                out, hn, cn = _layer(
                    mode,
                    xproj,
                    hs[k],
                    cs[k] if cs is not None else None,
                    w_hh,
                    b_hh if mode == "GRU" else None,
                    w_hr,
                    batch_sizes,
                    d == 1,
                )
                outs.append(out)
                hn_all.append(hn)
                cn_all.append(cn)
            x = outs[0] if D == 1 else O.cat(outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                from ..functional.dropout import dropout as _dropout

                x = _dropout(x, self.dropout, True)
        return x, O.stack(hn_all), (O.stack(cn_all) if c0 is not None else None)

    def _rows(self, input: Tensor):
        """(T, B, I) [or batch_first (B, T, I)] -> packed rows (T*B, I) and batch_sizes (B,) * T."""
        x = input.transpose(0, 1) if self.batch_first else input
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        return x.reshape(T * B, x.shape[2]), (B,) * T, T, B

    def _unrows(self, out: Tensor, T: int, B: int) -> Tensor:
        out = out.reshape(T, B, out.shape[-1])
        return out.transpose(0, 1) if self.batch_first else out

    def _forward_common(self, input, hx, name: str):
        """Shared forward of RNN and GRU (single hidden state)."""
        D = 2 if self.bidirectional else 1
        if isinstance(input, PackedSequence):
            data, batch_sizes_t, sorted_indices, unsorted_indices = input
            batch_sizes = [int(b) for b in batch_sizes_t.tolist()]
            if hx is None:
                hx = O.zeros(
                    (self.num_layers * D, batch_sizes[0], self.hidden_size),
                    dtype=data.dtype,
                    device=data.device,
                )
            else:
                hx = self.permute_hidden(hx, sorted_indices)
            self.check_forward_args(data, hx, batch_sizes)
            out, hn, _ = self._run(data, batch_sizes, hx, None)
            return PackedSequence(out, batch_sizes_t, sorted_indices, unsorted_indices), self.permute_hidden(
                hn, unsorted_indices
            )
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
            if hx is not None:
                if hx.dim() != 2:
                    raise RuntimeError(
                        f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor"
                    )
                hx = hx.unsqueeze(1)
        elif hx is not None and hx.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
        max_batch = input.size(0) if self.batch_first else input.size(1)
        if hx is None:
            hx = O.zeros(
                (self.num_layers * D, max_batch, self.hidden_size), dtype=input.dtype, device=input.device
            )
        self.check_forward_args(input, hx, None)
        rows, batch_sizes, T, B = self._rows(input)
        out, hn, _ = self._run(rows, batch_sizes, hx, None)
        out = self._unrows(out, T, B)
        if not is_batched:
            out = out.squeeze(batch_dim)
            hn = hn.squeeze(1)
        return out, hn


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked num_layers deep.

    input (L, N, H_in) [batch_first: (N, L, H_in)], (L, H_in) or a PackedSequence; h_0 (D*num_layers, N, H).
    Returns (output (L, N, D*H), h_n (D*num_layers, N, H))."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward_common(input, hx, "RNN")


class LSTM(RNNBase):
    """LSTM: i, f, g, o = sigma, sigma, tanh, sigma(x W_ih^T + b_ih + h W_hh^T + b_hh); c' = f c + i g;
    h' = o tanh(c') (then h' W_hr^T when proj_size > 0).

    input (L, N, H_in) [batch_first: (N, L, H_in)], (L, H_in) or a PackedSequence; (h_0, c_0).
    Returns (output (L, N, D*H_out), (h_n, c_n))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes) -> tuple:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(
            hidden[0], self.get_expected_hidden_size(input, batch_sizes), "Expected hidden[0] size {}, got {}"
        )
        self.check_hidden_size(
            hidden[1], self.get_expected_cell_size(input, batch_sizes), "Expected hidden[1] size {}, got {}"
        )

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def _zeros(self, batch: int, like: Tensor):
        D = 2 if self.bidirectional else 1
        real = self.proj_size if self.proj_size > 0 else self.hidden_size
        h = O.zeros((self.num_layers * D, batch, real), dtype=like.dtype, device=like.device)
        c = O.zeros((self.num_layers * D, batch, self.hidden_size), dtype=like.dtype, device=like.device)
        return h, c

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            data, batch_sizes_t, sorted_indices, unsorted_indices = input
            batch_sizes = [int(b) for b in batch_sizes_t.tolist()]
            hx = self._zeros(batch_sizes[0], data) if hx is None else self.permute_hidden(hx, sorted_indices)
            self.check_forward_args(data, hx, batch_sizes)
            out, hn, cn = self._run(data, batch_sizes, hx[0], hx[1])
            packed = PackedSequence(out, batch_sizes_t, sorted_indices, unsorted_indices)
            return packed, self.permute_hidden((hn, cn), unsorted_indices)
        if input.dim() not in (2, 3):
            raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        max_batch = input.size(0) if self.batch_first else input.size(1)
        if hx is None:
            hx = self._zeros(max_batch, input)
        else:
            if is_batched:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise RuntimeError(
                        "For batched 3-D input, hx and cx should also be 3-D but got "
                        f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                    )
            else:
                if hx[0].dim() != 2 or hx[1].dim() != 2:
                    raise RuntimeError(
                        "For unbatched 2-D input, hx and cx should also be 2-D but got "
                        f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors"
                    )
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx, None)
        rows, batch_sizes, T, B = self._rows(input)
        out, hn, cn = self._run(rows, batch_sizes, hx[0], hx[1])
        out = self._unrows(out, T, B)
        if not is_batched:
            return out.squeeze(batch_dim), (hn.squeeze(1), cn.squeeze(1))
        return out, (hn, cn)


class GRU(RNNBase):
    """GRU: r, z = sigma(x W_i{r,z}^T + b_i + h W_h{r,z}^T + b_h);
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn));
    h' = (1 - z) n + z h.

    input (L, N, H_in) [batch_first: (N, L, H_in)], (L, H_in) or a PackedSequence; h_0 (D*num_layers, N, H).
    Returns (output (L, N, D*H), h_n)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward_common(input, hx, "GRU")


# ------------------------------------------------------------------------------------------ cells


class RNNCellBase(Module):
    """Shared parameters of the cells: weight_ih (G, input), weight_hh (G, hidden), bias_ih, bias_hh."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None
    ):
        fk = {"device": device, "dtype": dtype}
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(O.empty((num_chunks * hidden_size, input_size), **fk))
        self.weight_hh = Parameter(O.empty((num_chunks * hidden_size, hidden_size), **fk))
        if bias:
            self.bias_ih = Parameter(O.empty(num_chunks * hidden_size, **fk))
            self.bias_hh = Parameter(O.empty(num_chunks * hidden_size, **fk))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check(self, input: Tensor, hxs, name: str) -> None:
        if input.size(1) != self.input_size:
            raise RuntimeError(
                f"{name}: input has inconsistent input_size: got {input.size(1)} expected {self.input_size}"
            )
        for i, h in enumerate(hxs):
            if h.size(0) != input.size(0):
                raise RuntimeError(
                    f"{name}: Input batch size {input.size(0)} doesn't match hidden{i} batch size {h.size(0)}"
                )
            if h.size(1) != self.hidden_size:
                raise RuntimeError(
                    f"{name}: hidden{i} has inconsistent hidden_size: got {h.size(1)}, "
                    f"expected {self.hidden_size}"
                )

    def _step(self, mode: str, input: Tensor, h: Tensor, c: Tensor | None):
        xproj = _in_proj(mode, input, self.weight_ih, self.bias_ih, self.bias_hh)
        b_hh = self.bias_hh if mode == "GRU" else None
        _, hn, cn = _layer(mode, xproj, h, c, self.weight_hh, b_hh, None, (input.size(0),), False)
        return hn, cn


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). input (N, H_in) / (H_in); hidden (N, H)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = O.zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
        elif not is_batched:
            hx = hx.unsqueeze(0)
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        self._check(input, (hx,), "RNNCell")
        ret, _ = self._step(mode, input, hx, None)
        return ret if is_batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """(h', c') of one LSTM step (gates i, f, g, o). input (N, H_in) or (H_in); (h, c) each (N, H) or (H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(
                        f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead"
                    )
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = O.zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
            hx = (zeros, zeros)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        self._check(input, hx, "LSTMCell")
        h, c = self._step("LSTM", input, hx[0], hx[1])
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """h' of one GRU step (gates r, z, n). input (N, H_in) or (H_in); hidden (N, H) or (H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = O.zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)
        elif not is_batched:
            hx = hx.unsqueeze(0)
        self._check(input, (hx,), "GRUCell")
        ret, _ = self._step("GRU", input, hx, None)
        return ret if is_batched else ret.squeeze(0)


__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]
