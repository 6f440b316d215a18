"""Flash attention kernels in Triton (FlashAttention-2's algorithm): no (L, S) matrix in memory.

Forward, per block of BLOCK_M query rows: stream over key blocks keeping the running row maximum m, the
running sum l and the unnormalised output in float32; store O = acc / l and the log-sum-exp (base 2) per row.
Backward: Delta = rowsum(dO * O); one kernel per key block accumulates dK, dV over the query blocks, one
kernel per query block accumulates dQ over the key blocks (no atomics), both recomputing P from Q, K and the
saved log-sum-exp. Scores use exp2 with the scale folded into log2(e). Causal is torch's top-left tril: query
row i sees key columns j <= i. An optional mask (MASK=1: boolean, nonzero keeps; MASK=2: added to the scores)
is read through its own strides, 0 along broadcast dimensions. Grouped-query attention: query head h reads
key/value head h // G; the dK/dV kernel runs per key/value head and sums over its G query heads. A row that
every position masks gives zeros (torch's SDPA does the same).

Dropout (DROPOUT=1): the probabilities P (normalised by the undropped row sums) are multiplied by
_dropout_scale's 1 / (1 - p) or 0; the backward kernels regenerate the same multipliers Z and use
dV = (P Z)^T dO and dS = P (dP Z - Delta), Delta = rowsum(dO O) as without dropout. The keep mask comes from
ember's Philox stream: for query head zh, row i and column j, word j % 4 of block offset + (zh L + i)
ceil(S / 4) + j // 4, kept when (word >> 8) * 2**-24 >= p, so with S % 4 == 0 it is the mask
`rand(Z, H, L, S) >= p` draws from the same generator state. RNG points to (seed, offset) on the device.

Tensors are (Z, H, rows, D) with any strides except a unit stride along D (strides in elements).
Imported only where Triton is installed (ember.backend.cuda_flash imports it on first use).
"""

from __future__ import annotations

import triton
import triton.language as tl

_LOG2E = 1.4426950408889634


@triton.jit
def _masked_scores(qk, rows, cols, L, S, M, smm, smn, CAUSAL: tl.constexpr, MASK: tl.constexpr):
    """The (BLOCK_M, BLOCK_N) scores (base 2, scaled) with -inf where a position takes no part: outside
    (L, S), above the causal diagonal, or where the mask says so."""
    inside = (rows[:, None] < L) & (cols[None, :] < S)
    valid = inside
    if CAUSAL:
        valid = valid & (cols[None, :] <= rows[:, None])
    if MASK != 0:
        mv = tl.load(M + rows[:, None] * smm + cols[None, :] * smn, mask=inside, other=0)
        if MASK == 1:
            valid = valid & (mv != 0)
        else:
            qk = qk + mv.to(tl.float32) * 1.4426950408889634
    return tl.where(valid, qk, float("-inf"))


@triton.jit
def _dropout_scale(RNG, zh, rows, col0, L, S, p_drop, d_scale, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """The (BLOCK_M, BLOCK_N) dropout multipliers of query head zh at rows x [col0, col0 + BLOCK_N) (col0 a
    multiple of 4): d_scale where kept, 0 where dropped. One Philox block gives four neighbouring columns."""
    seed = tl.load(RNG)
    off = tl.load(RNG + 1)
    row_blk = (zh.to(tl.int64) * L + rows.to(tl.int64)) * ((S + 3) // 4)
    grp = (col0 // 4 + tl.arange(0, BLOCK_N // 4)).to(tl.int64)
    blk = (row_blk[:, None] + grp[None, :]).to(tl.uint64) + off
    w0, w1, w2, w3 = tl.randint4x(seed, blk)
    w = tl.reshape(tl.join(tl.join(w0, w2), tl.join(w1, w3)), (BLOCK_M, BLOCK_N))
    u = (w >> 8).to(tl.float32) * 5.9604644775390625e-08
    return tl.where(u >= p_drop, d_scale, 0.0)


@triton.jit
def _query_block(H, G, S, BLOCK_M: tl.constexpr, CAUSAL: tl.constexpr):
    """What a query-block program (grid: query blocks x Z*H) works on: (zh, batch z, head h, key/value head
    h // G, its query rows, the end of the key range it reads: causal stops at the diagonal block; key blocks
    past S are masked, which happens only when L > S)."""
    pid_m = tl.program_id(0)
    zh = tl.program_id(1)
    h = zh % H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    end_n = S
    if CAUSAL:
        end_n = (pid_m + 1) * BLOCK_M
    return zh, zh // H, h, h // G, rows, end_n


@triton.jit
def _flash_fwd(
    Q, K, V, O, LSE, M, RNG, qk_scale, p_drop, d_scale,
    sqz, sqh, sqm, skz, skh, skn, svz, svh, svn, soz, soh, som, smz, smh, smm, smn,
    H, G, L, S, D,
    CAUSAL: tl.constexpr, MASK: tl.constexpr, DROPOUT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    zh, z, h, hk, rows, end_n = _query_block(H, G, S, BLOCK_M, CAUSAL)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < D
    q = tl.load(
        Q + z * sqz + h * sqh + rows[:, None] * sqm + offs_d[None, :],
        mask=(rows[:, None] < L) & dmask[None, :],
        other=0.0,
    )
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    k_base = K + z * skz + hk * skh
    v_base = V + z * svz + hk * svh
    m_base = M + z * smz + h * smh
    for start_n in range(0, end_n, BLOCK_N):
        cols = start_n + offs_n
        kt = tl.load(
            k_base + cols[None, :] * skn + offs_d[:, None],
            mask=(cols[None, :] < S) & dmask[:, None],
            other=0.0,
        )
        qk = _masked_scores(tl.dot(q, kt) * qk_scale, rows, cols, L, S, m_base, smm, smn, CAUSAL, MASK)
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp2(qk - m_safe[:, None])
        alpha = tl.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None]
        v = tl.load(
            v_base + cols[:, None] * svn + offs_d[None, :],
            mask=(cols[:, None] < S) & dmask[None, :],
            other=0.0,
        )
        if DROPOUT:  # the row sums above stay undropped
            p = p * _dropout_scale(RNG, zh, rows, start_n, L, S, p_drop, d_scale, BLOCK_M, BLOCK_N)
        acc = tl.dot(p.to(v.dtype), v, acc)
        m_i = m_new
    l_safe = tl.where(l_i == 0.0, 1.0, l_i)
    acc = acc / l_safe[:, None]
    m_fin = tl.where(m_i == float("-inf"), 0.0, m_i)
    tl.store(LSE + zh * L + rows, m_fin + tl.log2(l_safe), mask=rows < L)
    tl.store(
        O + z * soz + h * soh + rows[:, None] * som + offs_d[None, :],
        acc.to(O.dtype.element_ty),
        mask=(rows[:, None] < L) & dmask[None, :],
    )


@triton.jit
def _flash_bwd_delta(
    O, DO, DELTA, soz, soh, som, sdz, sdh, sdm, H, L, D, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr
):
    pid_m = tl.program_id(0)
    zh = tl.program_id(1)
    z = zh // H
    h = zh % H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    mask = (rows[:, None] < L) & (offs_d[None, :] < D)
    o = tl.load(O + z * soz + h * soh + rows[:, None] * som + offs_d[None, :], mask=mask, other=0.0)
    do = tl.load(DO + z * sdz + h * sdh + rows[:, None] * sdm + offs_d[None, :], mask=mask, other=0.0)
    delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)
    tl.store(DELTA + zh * L + rows, delta, mask=rows < L)


@triton.jit
def _flash_bwd_dkdv(
    Q, K, V, DO, LSE, DELTA, DK, DV, M, RNG, qk_scale, sm_scale, p_drop, d_scale,
    sqz, sqh, sqm, skz, skh, skn, svz, svh, svn, sdz, sdh, sdm,
    sdkz, sdkh, sdkn, sdvz, sdvh, sdvn, smz, smh, smm, smn,
    H, G, L, S, D,
    CAUSAL: tl.constexpr, MASK: tl.constexpr, DROPOUT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    pid_n = tl.program_id(0)
    zhk = tl.program_id(1)  # one program per key block and key/value head
    HK = H // G
    z = zhk // HK
    h = zhk % HK
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < D
    kvmask = (cols[:, None] < S) & dmask[None, :]
    k = tl.load(K + z * skz + h * skh + cols[:, None] * skn + offs_d[None, :], mask=kvmask, other=0.0)
    v = tl.load(V + z * svz + h * svh + cols[:, None] * svn + offs_d[None, :], mask=kvmask, other=0.0)
    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    lo = 0
    if CAUSAL:
        lo = (pid_n * BLOCK_N // BLOCK_M) * BLOCK_M
    for g in range(0, G):  # the query heads that share this key/value head
        hq = h * G + g
        q_base = Q + z * sqz + hq * sqh
        do_base = DO + z * sdz + hq * sdh
        m_base = M + z * smz + hq * smh
        stat = (z * H + hq) * L
        for start_m in range(lo, L, BLOCK_M):
            rows = start_m + offs_m
            rmask = rows < L
            q = tl.load(
                q_base + rows[:, None] * sqm + offs_d[None, :],
                mask=rmask[:, None] & dmask[None, :],
                other=0.0,
            )
            do = tl.load(
                do_base + rows[:, None] * sdm + offs_d[None, :],
                mask=rmask[:, None] & dmask[None, :],
                other=0.0,
            )
            lse = tl.load(LSE + stat + rows, mask=rmask, other=0.0)
            delta = tl.load(DELTA + stat + rows, mask=rmask, other=0.0)
            qk = tl.dot(q, tl.trans(k)) * qk_scale
            qk = _masked_scores(qk, rows, cols, L, S, m_base, smm, smn, CAUSAL, MASK)
            p = tl.exp2(qk - lse[:, None])
            dp = tl.dot(do, tl.trans(v))
            if DROPOUT:
                dz = _dropout_scale(RNG, z * H + hq, rows, pid_n * BLOCK_N, L, S, p_drop, d_scale, BLOCK_M, BLOCK_N)
                dv = tl.dot(tl.trans((p * dz).to(do.dtype)), do, dv)
                dp = dp * dz
            else:
                dv = tl.dot(tl.trans(p.to(do.dtype)), do, dv)
            ds = p * (dp - delta[:, None])
            dk = tl.dot(tl.trans(ds.to(q.dtype)), q, dk)
    dk = dk * sm_scale
    tl.store(
        DK + z * sdkz + h * sdkh + cols[:, None] * sdkn + offs_d[None, :],
        dk.to(DK.dtype.element_ty),
        mask=kvmask,
    )
    tl.store(
        DV + z * sdvz + h * sdvh + cols[:, None] * sdvn + offs_d[None, :],
        dv.to(DV.dtype.element_ty),
        mask=kvmask,
    )


@triton.jit
def _flash_bwd_dq(
    Q, K, V, DO, LSE, DELTA, DQ, M, RNG, qk_scale, sm_scale, p_drop, d_scale,
    sqz, sqh, sqm, skz, skh, skn, svz, svh, svn, sdz, sdh, sdm, sdqz, sdqh, sdqm, smz, smh, smm, smn,
    H, G, L, S, D,
    CAUSAL: tl.constexpr, MASK: tl.constexpr, DROPOUT: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):  # fmt: skip
    zh, z, h, hk, rows, end_n = _query_block(H, G, S, BLOCK_M, CAUSAL)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    dmask = offs_d < D
    rmask = rows < L
    qmask = rmask[:, None] & dmask[None, :]
    q = tl.load(Q + z * sqz + h * sqh + rows[:, None] * sqm + offs_d[None, :], mask=qmask, other=0.0)
    do = tl.load(DO + z * sdz + h * sdh + rows[:, None] * sdm + offs_d[None, :], mask=qmask, other=0.0)
    lse = tl.load(LSE + zh * L + rows, mask=rmask, other=0.0)
    delta = tl.load(DELTA + zh * L + rows, mask=rmask, other=0.0)
    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    k_base = K + z * skz + hk * skh
    v_base = V + z * svz + hk * svh
    m_base = M + z * smz + h * smh
    for start_n in range(0, end_n, BLOCK_N):
        cols = start_n + offs_n
        kvmask = (cols[:, None] < S) & dmask[None, :]
        k = tl.load(k_base + cols[:, None] * skn + offs_d[None, :], mask=kvmask, other=0.0)
        v = tl.load(v_base + cols[:, None] * svn + offs_d[None, :], mask=kvmask, other=0.0)
        qk = tl.dot(q, tl.trans(k)) * qk_scale
        qk = _masked_scores(qk, rows, cols, L, S, m_base, smm, smn, CAUSAL, MASK)
        p = tl.exp2(qk - lse[:, None])
        dp = tl.dot(do, tl.trans(v))
        if DROPOUT:
            dp = dp * _dropout_scale(RNG, zh, rows, start_n, L, S, p_drop, d_scale, BLOCK_M, BLOCK_N)
        ds = p * (dp - delta[:, None])
        dq = tl.dot(ds.to(k.dtype), k, dq)
    dq = dq * sm_scale
    tl.store(
        DQ + z * sdqz + h * sdqh + rows[:, None] * sdqm + offs_d[None, :],
        dq.to(DQ.dtype.element_ty),
        mask=qmask,
    )


LOG2E = _LOG2E
