"""The TRTRL neuron array in MyHDL: one processing element (PE) per neuron.

See ``rtl/README.md`` for the schedule. In short, PE ``i`` owns row ``i`` of ``W``
(``W[i, j]`` for every column), a *shadow* copy of column ``M+1+i`` (``W[m, M+1+i]``
for every neuron ``m``) and the full kept sensitivity set (``K`` outputs, ingress,
egress) of every one of those weights. In the update phase all PEs walk column
``j`` in lockstep; PE ``i`` updates its row weight ``(i, j)`` and, for a recurrent
column ``j = M+1+m``, its shadow weight ``(m, M+1+i)`` with identical arithmetic, so
both copies of every recurrent weight stay equal without any transpose.
"""

from __future__ import annotations

from myhdl import ConcatSignal, ResetSignal, Signal, always, always_comb, block, concat, intbv

from trtrl.pymodel.fixed.lut import build_lut
from trtrl.rtl.blocks import chain_mux, chain_sum, copy, ram, rom, sext, sig_s, sig_u, zext
from trtrl.rtl.config import (
    COUNTER_BITS,
    LR_SHIFT_BITS,
    ST_ACT,
    ST_CLEAR,
    ST_DONE,
    ST_FWD,
    ST_IDLE,
    ST_UPD,
    ArrayConfig,
    clog2,
)

__all__ = ["trtrl_array", "make_ports"]


@block
def round_sat(src, dst, ev, shift, fmt_min, fmt_max, tmp):
    """``dst = sat(rshift_round(src, shift))``; ``ev`` (unless None) is 1 when the clamp acted.

    ``rshift_round(v, s) = (v + 2**(s-1)) >> s = (v >> s) + bit(v, s-1)`` for ``s >= 1``
    (two's complement, flooring shift): no constant adder, no widening.
    ``src`` and ``tmp`` have the datapath width, ``dst`` the narrow format width.
    """
    if ev is None:
        return _round_only(src, tmp, shift), sat_noev(tmp, dst, fmt_min, fmt_max)
    return _round_only(src, tmp, shift), sat_only(tmp, dst, ev, fmt_min, fmt_max)


@block
def sat_noev(src, dst, fmt_min, fmt_max):
    nb = len(dst)

    @always_comb
    def sat_f():
        if src > fmt_max:
            dst.next = fmt_max
        elif src < fmt_min:
            dst.next = fmt_min
        else:
            dst.next = src[nb:].signed()

    return sat_f


@block
def sat_only(src, dst, ev, fmt_min, fmt_max):
    nb = len(dst)

    @always_comb
    def sat_f():
        if src > fmt_max:
            dst.next = fmt_max
            ev.next = 1
        elif src < fmt_min:
            dst.next = fmt_min
            ev.next = 1
        else:
            dst.next = src[nb:].signed()
            ev.next = 0

    return sat_f


@block
def mult(a, b, dst_d, prod, form):
    """``dst_d`` = ``a * b`` formed at its exact width ``len(a) + len(b)``, sign-extended.

    ``form`` is the Verilog form of the sign extension (``ArrayConfig.sign_extension``).
    """

    @always_comb
    def mult_f():
        prod.next = a * b

    return mult_f, sext(prod, dst_d, form)


@block
def sens_unit(
    cfg,
    opa,
    opb,
    opc,
    opd,
    zval,
    zon,
    fpsel,
    pnew,
    ev_inner,
    ev_p,
):
    """One kept sensitivity a cycle:

    ``acc = opa*opb + opc*opd + (zon ? z << zsh : 0)``,
    ``inner = sat_P(round(acc >> W.frac))``, ``pnew = sat_P(round(fp*inner >> A.frac))``.
    """
    f = cfg.fixed
    wt, pt, at = f.weight.total, f.sens.total, f.act.total
    dp = cfg.dp_bits
    zsh = f.weight.frac + f.sens.frac - f.act.frac
    sx = cfg.sign_extension
    t1, t2, zd, acc, tmp1, tmp2, t3 = (sig_s(dp) for _ in range(7))
    pr1, pr2 = sig_s(wt + pt), sig_s(wt + pt)
    pr3 = sig_s(at + pt)
    inner = sig_s(pt)
    insts = [
        mult(opa, opb, t1, pr1, sx),
        mult(opc, opd, t2, pr2, sx),
        sext(zval, zd, sx),
        mult(fpsel, inner, t3, pr3, sx),
    ]

    @always_comb
    def acc_f():
        if zon:
            acc.next = t1 + t2 + (zd << zsh)
        else:
            acc.next = t1 + t2

    insts.append(acc_f)
    insts.append(round_sat(acc, inner, ev_inner, f.weight.frac, f.sens.min, f.sens.max, tmp1))
    insts.append(round_sat(t3, pnew, ev_p, f.act.frac, f.sens.min, f.sens.max, tmp2))
    return insts


@block
def pe(
    i,
    cfg,
    clk,
    rst,
    st,
    j,
    m,
    n,
    u,
    ulat,
    rec,
    learn_r,
    gsh,
    ra_row,
    ra_sh,
    u_k,
    k_we,
    k_wa,
    zbus,
    act_y,
    act_fp,
    fpm_bus,
    wk_bus,
    fpk_bus,
    ek_bus,
    hw,
    hr,
    hi,
    hj,
    region,
    wdata_w,
    y_old,
    fp,
    wr_r,
    acc_s,
    ev,
    rdw,
    rdp,
):
    """Processing element ``i``: row ``i``, shadow column ``M+1+i`` and their sensitivities."""
    f = cfg.fixed
    N, M, K, L = cfg.n, cfg.m, cfg.k, cfg.L
    wt, pt, at = f.weight.total, f.sens.total, f.act.total
    dp = cfg.dp_bits
    ns = max(N, 2)
    ks = max(K, 2)
    IS_OUT = i < K
    SELF_COL = M + 1 + i
    sx = cfg.sign_extension
    insts = []

    # ---------------- memories (no reset; cleared by the sweep) -----------------------
    rw, rsw = sig_s(wt), sig_s(wt)  # row weight W[i, j], shadow weight W[m, M+1+i]
    we_w, we_sw = Signal(bool(0)), Signal(bool(0))
    wd_w, wd_sw = sig_s(wt), sig_s(wt)
    insts.append(ram(clk, we_w, ra_row, wd_w, ra_row, rw, L))
    insts.append(ram(clk, we_sw, ra_sh, wd_sw, ra_sh, rsw, ns))

    # sensitivity memories: index q = 0..K-1 outputs, K ingress, K+1 egress
    pw_row, pw_sh = sig_s(pt), sig_s(pt)  # write data (0 while clearing)
    rp_row = [sig_s(pt) for _ in range(K + 2)]
    we_prow = [Signal(bool(0)) for _ in range(K + 2)]
    for q in range(K + 2):
        insts.append(ram(clk, we_prow[q], ra_row, pw_row, ra_row, rp_row[q], L))
        insts.append(_we_key(q, st, ulat, u, rec, we_prow[q], False))
    # The shadow weight needs only its ingress and egress sensitivities stored: the
    # update reads no old p_out, and read-back shows the row (canonical) copies.
    rp_sh = [sig_s(pt) for _ in range(2)]
    we_psh = [Signal(bool(0)) for _ in range(2)]
    for q in range(2):
        insts.append(ram(clk, we_psh[q], ra_sh, pw_sh, ra_sh, rp_sh[q], ns))
        insts.append(_we_key(K + q, st, ulat, u, rec, we_psh[q], True))

    # latched W[k, M+1+i] for k < K (read from the shadow memory in the activation phase;
    # write enable and address shared with the e_k / f'_k files, zeros in the clear sweep)
    lat_rd = sig_s(wt)
    lat_wd = sig_s(wt)
    insts.append(ram(clk, k_we, k_wa, lat_wd, u_k, lat_rd, ks))

    # ---------------- registers -------------------------------------------------------
    y_new = sig_s(at)
    ws_r = sig_s(wt)
    pi_r, pe_r, qi_r, qe_r = (sig_s(pt) for _ in range(4))
    dupi_r, dupe_r, dupi_s, dupe_s = (sig_s(pt) for _ in range(4))
    g_r, g_s = sig_s(dp), sig_s(dp)
    mac_d = sig_s(dp)
    mac_p = sig_s(wt + at)
    insts.append(mult(rw, zbus, mac_d, mac_p, sx))

    # ---------------- the two sensitivity units ---------------------------------------
    r_opa, r_opc, s_opa, s_opc = (sig_s(wt) for _ in range(4))
    r_opb, r_opd, s_opb, s_opd = (sig_s(pt) for _ in range(4))
    r_zon, s_zon = Signal(bool(0)), Signal(bool(0))
    r_fp, s_fp = sig_s(at), sig_s(at)
    r_pnew, s_pnew = sig_s(pt), sig_s(pt)
    r_evi, r_evp = Signal(bool(0)), Signal(bool(0))
    r_pval, s_pval = sig_s(pt), sig_s(pt)
    r_cnt = Signal(bool(0))  # the row unit computes a canonical quantity this cycle
    insts.append(
        sens_unit(cfg, r_opa, r_opb, r_opc, r_opd, zbus, r_zon, r_fp,
                  r_pnew, r_evi, r_evp)
    )  # fmt: skip
    insts.append(
        sens_unit(cfg, s_opa, s_opb, s_opc, s_opd, y_old, s_zon, s_fp,
                  s_pnew, None, None)
    )  # fmt: skip

    @always_comb
    def row_ops():
        # row weight (i, j): ingress neuron a = i, egress neuron c = m (recurrent j)
        r_opd.next = pe_r
        r_cnt.next = 0
        if u < K:  # output k = u: T = {i} U {m}
            r_opa.next = lat_rd
            r_opb.next = pi_r
            if rec and m != i:
                r_opc.next = wk_bus
            else:
                r_opc.next = 0
            r_zon.next = u == i
            r_fp.next = fpk_bus
            r_pval.next = r_pnew
            r_cnt.next = 1
        elif u == K:  # ingress p^i
            r_opa.next = wr_r
            if rec:
                r_opb.next = pe_r
            else:
                r_opb.next = 0
            r_opc.next = 0
            r_zon.next = 1
            r_fp.next = fp
            if IS_OUT:
                r_pval.next = dupi_r
            else:
                r_pval.next = r_pnew
                r_cnt.next = 1
        else:  # egress p^m
            r_opa.next = ws_r
            r_opb.next = pi_r
            r_opc.next = 0
            r_zon.next = 0
            r_fp.next = fpm_bus
            if not rec:
                r_pval.next = 0
            elif m < K or m == i:
                r_pval.next = dupe_r
            else:
                r_pval.next = r_pnew
                r_cnt.next = 1

    @always_comb
    def sh_ops():
        # shadow weight (m, M+1+i): ingress neuron a = m, egress neuron c = i
        s_opd.next = qe_r
        if u < K:
            s_opa.next = wk_bus
            s_opb.next = qi_r
            if m != i:
                s_opc.next = lat_rd
            else:
                s_opc.next = 0
            s_zon.next = u == m
            s_fp.next = fpk_bus
            s_pval.next = s_pnew
        elif u == K:
            s_opa.next = ws_r
            s_opb.next = qe_r
            s_opc.next = 0
            s_zon.next = 1
            s_fp.next = fpm_bus
            if m < K:
                s_pval.next = dupi_s
            else:
                s_pval.next = s_pnew
        else:
            s_opa.next = wr_r
            s_opb.next = qi_r
            s_opc.next = 0
            s_zon.next = 0
            s_fp.next = fp
            if IS_OUT or m == i:
                s_pval.next = dupe_s
            else:
                s_pval.next = s_pnew

    insts += [row_ops, sh_ops]

    # gradient terms e_k * p^k(t+1)
    gt_r, gt_s = sig_s(dp), sig_s(dp)
    gp_r, gp_s = sig_s(at + pt), sig_s(at + pt)
    insts.append(mult(ek_bus, r_pval, gt_r, gp_r, sx))
    insts.append(mult(ek_bus, s_pval, gt_s, gp_s, sx))

    # weight update: W + rshift_round(g, gsh), saturated
    wr_d, ws_d, gr_r, gr_s, wsum_r, wsum_s = (sig_s(dp) for _ in range(6))
    wnew_r, wnew_s = sig_s(wt), sig_s(wt)
    wev_r = Signal(bool(0))
    insts.append(sext(wr_r, wr_d, sx))
    insts.append(sext(ws_r, ws_d, sx))

    @always_comb
    def grad_round():
        if gsh == 0:
            gr_r.next = g_r
            gr_s.next = g_s
        else:
            gr_r.next = (g_r >> gsh) + g_r[gsh - 1]
            gr_s.next = (g_s >> gsh) + g_s[gsh - 1]

    @always_comb
    def wsum_f():
        wsum_r.next = wr_d + gr_r
        wsum_s.next = ws_d + gr_s

    insts += [grad_round, wsum_f]
    insts.append(sat_only(wsum_r, wnew_r, wev_r, f.weight.min, f.weight.max))
    insts.append(sat_noev(wsum_s, wnew_s, f.weight.min, f.weight.max))

    # ---------------- write ports -----------------------------------------------------
    @always_comb
    def wports():
        # (no local variable: a block without one converts to an unnamed, cheaper block)
        # p write data: zero while clearing
        if st == ST_CLEAR:
            pw_row.next = 0
            pw_sh.next = 0
            lat_wd.next = 0
        else:
            pw_row.next = r_pval
            pw_sh.next = s_pval
            lat_wd.next = rsw
        # weights: host write (both copies) or the learning update at u == K
        if st == ST_IDLE:
            we_w.next = hw and hi == i
            we_sw.next = hw and hj == SELF_COL
            wd_w.next = wdata_w
            wd_sw.next = wdata_w
        else:
            we_w.next = st == ST_UPD and not ulat and u == K and learn_r
            we_sw.next = st == ST_UPD and not ulat and u == K and learn_r and rec
            wd_w.next = wnew_r
            wd_sw.next = wnew_s

    insts.append(wports)

    # saturation events of this PE this cycle (canonical copies only)
    @always_comb
    def ev_f():
        # count of: r_cnt & r_evi, r_cnt & r_evp, the weight update's (no local variable)
        if st == ST_UPD and not ulat:
            if u == K and learn_r and wev_r:
                if r_cnt and r_evi and r_evp:
                    ev.next = 3
                elif r_cnt and (r_evi or r_evp):
                    ev.next = 2
                else:
                    ev.next = 1
            elif r_cnt and r_evi and r_evp:
                ev.next = 2
            elif r_cnt and (r_evi or r_evp):
                ev.next = 1
            else:
                ev.next = 0
        else:
            ev.next = 0

    insts.append(ev_f)

    # host read: weight or one of the K + 2 sensitivity regions of row i
    rdp_sel = sig_s(pt)
    insts.append(chain_mux(region, rp_row, rdp_sel, keys=list(range(1, K + 3))))

    pi_src, pe_src = rp_row[K], rp_row[K + 1]
    qi_src, qe_src = rp_sh[0], rp_sh[1]

    @always(clk.posedge)
    def regs():
        if rst:
            # Every register is reset, even those always written before they are used
            # (the slot temporaries, a dupi_r that only an output PE reads): a register
            # left X from power-up shows X on the operand multiplexers it feeds.
            y_old.next = 0
            y_new.next = 0
            fp.next = 0
            acc_s.next = 0
            rdw.next = 0
            rdp.next = 0
            wr_r.next = 0
            ws_r.next = 0
            pi_r.next = 0
            pe_r.next = 0
            qi_r.next = 0
            qe_r.next = 0
            g_r.next = 0
            g_s.next = 0
            dupi_r.next = 0
            dupe_r.next = 0
            dupi_s.next = 0
            dupe_s.next = 0
        else:
            if st == ST_CLEAR:
                y_old.next = 0
                y_new.next = 0
                fp.next = 0
            elif st == ST_DONE:
                y_old.next = y_new
            elif st == ST_ACT:
                if n == i:
                    y_new.next = act_y
                    fp.next = act_fp
            if st == ST_IDLE:
                acc_s.next = 0
                if hr and hi == i:
                    rdw.next = rw
                    rdp.next = rdp_sel
            elif st == ST_FWD:
                acc_s.next = acc_s + mac_d
            if st == ST_UPD:
                if ulat:
                    wr_r.next = rw
                    ws_r.next = rsw
                    pi_r.next = pi_src
                    pe_r.next = pe_src
                    qi_r.next = qi_src
                    qe_r.next = qe_src
                    g_r.next = 0
                    g_s.next = 0
                else:
                    if u < K:
                        g_r.next = g_r + gt_r
                        g_s.next = g_s + gt_s
                    # copies of quantities that sit in two places of the layout
                    if u == i:
                        dupi_r.next = r_pnew
                    if u == m:
                        dupe_r.next = r_pnew
                        dupi_s.next = s_pnew
                    if u == i:
                        dupe_s.next = s_pnew
                    if u == K and rec and m == i:
                        dupe_r.next = r_pval
                        dupe_s.next = s_pval

    insts.append(regs)
    return insts


@block
def _we_key(q, st, ulat, u, rec, we, shadow):
    """Write enable of sensitivity memory ``q``: the clear sweep, or the update at u == q."""
    if shadow:

        @always_comb
        def we_f():
            we.next = st == ST_CLEAR or (st == ST_UPD and not ulat and u == q and rec)

    else:

        @always_comb
        def we_f():
            we.next = st == ST_CLEAR or (st == ST_UPD and not ulat and u == q)

    return we_f


def make_ports(cfg: ArrayConfig) -> dict[str, Signal]:
    """The top level's signals, named as in ``rtl/README.md``."""
    p = cfg.ports()
    sig = {}
    for name, width in p.items():
        if width == 1 and name not in ("s_x",):
            sig[name] = Signal(bool(0))
        else:
            sig[name] = sig_u(width)
    sig["rst"] = ResetSignal(0, active=1, isasync=False)
    sig["m_rdata"] = sig_s(p["m_rdata"])
    sig["m_wdata"] = sig_s(p["m_wdata"])
    return sig


@block
def trtrl_array(
    clk,
    rst,
    s_valid,
    s_ready,
    s_x,
    s_d,
    r_valid,
    r_y,
    r_e,
    learn,
    lr_shift,
    clear,
    busy,
    m_addr,
    m_wdata,
    m_we,
    m_re,
    m_rdata,
    m_rvalid,
    step_count,
    sat_count,
    cfg,
):
    """The top level (ports as in ``rtl/README.md``); ``cfg`` is an :class:`ArrayConfig`."""
    f = cfg.fixed
    N, M, K, L = cfg.n, cfg.m, cfg.k, cfg.L
    at, wt, pt = f.act.total, f.weight.total, f.sens.total
    af = f.act.frac
    dp = cfg.dp_bits
    ns = max(N, 2)
    ks = max(K, 2)
    cb = max(clog2(max(L, K + 3, N) + 1), cfg.idx_bits)  # counter width
    ONE = f.act.one
    allones = Signal(intbv((1 << COUNTER_BITS) - 1)[COUNTER_BITS:])  # constant
    sx = cfg.sign_extension  # Verilog form of every sign extension (rtl.blocks.sext)
    insts = []

    # ---------------- controller registers --------------------------------------------
    st = sig_u(3)
    j, m, n, u = (sig_u(cb) for _ in range(4))
    ulat = Signal(bool(0))
    learn_r = Signal(bool(0))
    lr_r = sig_u(LR_SHIFT_BITS)
    xw = max(1, M * at)
    xs, xsh = sig_u(xw), sig_u(xw)
    ds, dsh = sig_u(K * at), sig_u(K * at)
    esh = sig_u(K * at)
    rec = Signal(bool(0))
    gsh = sig_u(LR_SHIFT_BITS + 1 + max(1, cfg.grad_base_shift).bit_length())
    ra_row = sig_u(clog2(L))
    ra_sh = sig_u(clog2(ns))
    u_k = sig_u(clog2(ks))
    evtot = sig_u(COUNTER_BITS)
    GB = cfg.grad_base_shift
    lr_z = sig_u(len(gsh))
    insts.append(zext(lr_r, lr_z))

    # ---------------- host address decode ---------------------------------------------
    ib = cfg.idx_bits
    rb = cfg.region_bits
    idx_s = sig_u(ib)
    region = sig_u(rb)
    idx_c = sig_u(cb)
    hi, hj = sig_u(cb), sig_u(cb)
    hv = Signal(bool(0))
    hw, hr = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def addr_split():
        idx_s.next = m_addr[ib:]
        region.next = m_addr[ib + rb : ib]

    insts += [addr_split, zext(idx_s, idx_c)]
    dec_hi = [sig_u(cb) for _ in range(N)]
    dec_hj = [sig_u(cb) for _ in range(N)]
    dec_v = [Signal(bool(0)) for _ in range(N)]
    for p in range(N):
        if p == 0:
            insts.append(_dec_first(idx_c, L, dec_hi[0], dec_hj[0], dec_v[0]))
        else:
            insts.append(
                _dec_stage(idx_c, p, L, dec_hi[p - 1], dec_hj[p - 1], dec_v[p - 1],
                           dec_hi[p], dec_hj[p], dec_v[p])
            )  # fmt: skip
    insts += [copy(dec_hi[-1], hi), copy(dec_hj[-1], hj), copy(dec_v[-1], hv)]
    wdata_w = sig_s(wt)

    @always_comb
    def host_ctl():
        hw.next = st == ST_IDLE and m_we and region == 0 and hv
        hr.next = st == ST_IDLE and m_re and hv
        wdata_w.next = m_wdata[wt:].signed()

    insts.append(host_ctl)

    # ---------------- indices and broadcasts ------------------------------------------
    lb, sb, kb = len(ra_row), len(ra_sh), len(u_k)

    @always_comb
    def indices():
        if st == ST_IDLE:
            ra_row.next = hj[lb:]
            ra_sh.next = hi[sb:]
        elif st == ST_ACT:
            ra_row.next = j[lb:]
            ra_sh.next = n[sb:]
        else:
            ra_row.next = j[lb:]
            ra_sh.next = m[sb:]
        # The K-word files (latched weights, e_k, f'_k) hold words 0..K-1 only; for
        # u >= K their read is unused, and u[kb:] would address a word never written
        # (K = 1: a two-deep file read at 1), an X in simulation. Word 0 instead.
        if u < K:
            u_k.next = u[kb:]
        else:
            u_k.next = 0
        rec.next = j > M
        gsh.next = lr_z + GB

    insts.append(indices)

    pe_y = [sig_s(at) for _ in range(N)]
    pe_fp = [sig_s(at) for _ in range(N)]
    pe_wr = [sig_s(wt) for _ in range(N)]
    pe_acc = [sig_s(dp) for _ in range(N)]
    pe_ev = [sig_u(COUNTER_BITS) for _ in range(N)]
    pe_rdw = [sig_s(wt) for _ in range(N)]
    pe_rdp = [sig_s(pt) for _ in range(N)]

    ybus, fpm_bus, wk_bus, fpk_bus, ek_bus = sig_s(at), sig_s(at), sig_s(wt), sig_s(at), sig_s(at)
    sbus = sig_s(dp)
    zbus = sig_s(at)
    insts.append(chain_mux(m, pe_y, ybus))
    insts.append(chain_mux(m, pe_fp, fpm_bus))
    insts.append(chain_mux(u, pe_wr[:K], wk_bus))
    insts.append(chain_mux(n, pe_acc, sbus))

    if M > 0:

        @always_comb
        def zsel():
            if j < M:
                zbus.next = xsh[at:].signed()
            elif j == M:
                zbus.next = ONE
            else:
                zbus.next = ybus

    else:

        @always_comb
        def zsel():
            if j == M:
                zbus.next = ONE
            else:
                zbus.next = ybus

    insts.append(zsel)

    # ---------------- activation: one shared table, one neuron a cycle ----------------
    lbits = f.lut_bits
    lsh = f.lut_shift
    half = 1 << (lbits - 1)
    ts = sig_s(dp)
    lidx = sig_u(lbits)
    act_y, act_fp, act_e = sig_s(at), sig_s(at), sig_s(at)
    yv = act_y
    insts.append(rom(lidx, yv, [int(v) for v in build_lut(f)]))

    @always_comb
    def lut_index():
        ts.next = sbus >> lsh

    NHALF = -half
    LMAX = (1 << lbits) - 1
    LB1 = lbits - 1

    @always_comb
    def lut_clamp():
        if ts < NHALF:
            lidx.next = 0
        elif ts >= half:
            lidx.next = LMAX
        else:
            lidx.next = concat(not ts[LB1], ts[LB1:])

    insts += [lut_index, lut_clamp]
    fpraw = sig_s(dp)
    fp_ev, e_ev = Signal(bool(0)), Signal(bool(0))
    if f.activation == "tanh":
        yy_p, yy_d = sig_s(2 * at), sig_s(dp)
        insts.append(mult(yv, yv, yy_d, yy_p, sx))
        rr = sig_s(dp)
        insts.append(_round_only(yy_d, rr, af))

        @always_comb
        def fp_f():
            fpraw.next = ONE - rr

    else:
        y1, omy = sig_s(at + 1), sig_s(at + 1)
        insts.append(sext(yv, y1, sx))

        @always_comb
        def omy_f():
            omy.next = ONE - y1  # y in [-2, 2) so ONE - y fits A.total + 1 bits

        prod_p, prod_d = sig_s(2 * at + 1), sig_s(dp)
        insts += [omy_f, mult(yv, omy, prod_d, prod_p, sx)]
        rr = sig_s(dp)
        insts.append(_round_only(prod_d, rr, af))

        @always_comb
        def fp_f():
            fpraw.next = rr

    insts.append(fp_f)
    insts.append(sat_only(fpraw, act_fp, fp_ev, f.act.min, f.act.max))
    dn = sig_s(at)
    dn_d, yv_d, ediff = sig_s(dp), sig_s(dp), sig_s(dp)
    insts += [sext(dn, dn_d, sx), sext(yv, yv_d, sx)]

    @always_comb
    def err_f():
        dn.next = dsh[at:].signed()
        ediff.next = dn_d - yv_d

    insts.append(err_f)
    insts.append(sat_only(ediff, act_e, e_ev, f.act.min, f.act.max))

    # e_k and fp_k for k < K: written in the activation phase, read by u in the update.
    # The clear sweep writes zeros into these files and the PEs' latched weights (j walks
    # their words): no word is X when the update first reads it, or before.
    k_we = Signal(bool(0))
    k_wa = sig_u(kb)
    e_wd, fp_wd = sig_s(at), sig_s(at)

    @always_comb
    def ek_ctl():
        if st == ST_CLEAR:
            k_we.next = 1
            k_wa.next = j[kb:]
            e_wd.next = 0
            fp_wd.next = 0
        else:
            k_we.next = st == ST_ACT and n < K
            k_wa.next = n[kb:]
            e_wd.next = act_e
            fp_wd.next = act_fp

    insts.append(ek_ctl)
    insts.append(ram(clk, k_we, k_wa, e_wd, u_k, ek_bus, ks))
    insts.append(ram(clk, k_we, k_wa, fp_wd, u_k, fpk_bus, ks))

    act_ev = sig_u(COUNTER_BITS)

    @always_comb
    def act_ev_f():
        # count of: fp_ev, e_ev for an output neuron (no local variable)
        if st == ST_ACT:
            if fp_ev and e_ev and n < K:
                act_ev.next = 2
            elif fp_ev or (e_ev and n < K):
                act_ev.next = 1
            else:
                act_ev.next = 0
        else:
            act_ev.next = 0

    insts.append(act_ev_f)
    insts.append(chain_sum([act_ev] + pe_ev, evtot))

    # ---------------- the processing elements -----------------------------------------
    for p in range(N):
        insts.append(
            pe(p, cfg, clk, rst, st, j, m, n, u, ulat, rec, learn_r, gsh, ra_row, ra_sh, u_k,
               k_we, k_wa, zbus, act_y, act_fp, fpm_bus, wk_bus, fpk_bus, ek_bus, hw, hr, hi,
               hj, region, wdata_w, pe_y[p], pe_fp[p], pe_wr[p], pe_acc[p], pe_ev[p], pe_rdw[p],
               pe_rdp[p])
        )  # fmt: skip

    # ---------------- read-back mux ---------------------------------------------------
    hi_r = sig_u(cb)
    reg_r = sig_u(rb)
    rv1 = Signal(bool(0))
    rdw_sel, rdp_sel = sig_s(wt), sig_s(pt)
    db = cfg.data_bits
    rdw_x, rdp_x = sig_s(db), sig_s(db)
    if N > 1:
        insts.append(_reg(clk, hi, hi_r))
    insts.append(chain_mux(hi_r, pe_rdw, rdw_sel))
    insts.append(chain_mux(hi_r, pe_rdp, rdp_sel))
    insts += [sext(rdw_sel, rdw_x, sx), sext(rdp_sel, rdp_x, sx)]

    # ---------------- outputs ---------------------------------------------------------
    if N > 1:
        y_cat = ConcatSignal(*reversed(pe_y))
    else:
        y_cat = sig_u(at)
        insts.append(_to_unsigned(pe_y[0], y_cat))
    esh_nxt = sig_u(K * at)
    insts.append(_esh_next(esh, act_e, esh_nxt, K, at))

    @always_comb
    def outs():
        s_ready.next = st == ST_IDLE
        busy.next = st != ST_IDLE
        r_y.next = y_cat

    insts.append(outs)

    @always(clk.posedge)
    def ctrl():
        if rst:
            st.next = ST_CLEAR
            j.next = 0
            m.next = 0
            n.next = 0
            u.next = 0
            ulat.next = 0
            learn_r.next = 0
            lr_r.next = 0
            r_valid.next = 0
            r_e.next = 0
            step_count.next = 0
            sat_count.next = 0
            m_rvalid.next = 0
            m_rdata.next = 0
            rv1.next = 0
            # (loaded at the handshake; reset so that the input bus is never X before it)
            xs.next = 0
            xsh.next = 0
            ds.next = 0
            dsh.next = 0
            esh.next = 0
        else:
            r_valid.next = 0
            # read-back pipeline: PE registers, then the mux into m_rdata
            rv1.next = hr
            reg_r.next = region
            m_rvalid.next = rv1
            if rv1:
                if reg_r == 0:
                    m_rdata.next = rdw_x
                else:
                    m_rdata.next = rdp_x
            if evtot > ~sat_count:
                sat_count.next = allones
            else:
                sat_count.next = sat_count + evtot
            if st == ST_IDLE:
                if clear:
                    st.next = ST_CLEAR
                    j.next = 0
                    m.next = 0
                elif s_valid:
                    st.next = ST_FWD
                    j.next = 0
                    m.next = 0
                    xs.next = s_x
                    xsh.next = s_x
                    ds.next = s_d
                    learn_r.next = learn
                    lr_r.next = lr_shift
            elif st == ST_CLEAR:
                step_count.next = 0
                sat_count.next = 0
                # m sweeps the shadow column's N words (for N = 1 its second word
                # is padding, never written or read)
                if m < N - 1:
                    m.next = m + 1
                if j == L - 1:
                    st.next = ST_IDLE
                    j.next = 0
                    m.next = 0
                else:
                    j.next = j + 1
            elif st == ST_FWD:
                xsh.next = xsh >> at
                if j == L - 1:
                    st.next = ST_ACT
                    n.next = 0
                    dsh.next = ds
                    j.next = 0
                    m.next = 0
                else:
                    j.next = j + 1
                    if j >= M + 1:
                        m.next = m + 1
            elif st == ST_ACT:
                dsh.next = dsh >> at
                if n < K:
                    esh.next = esh_nxt
                if n == N - 1:
                    st.next = ST_UPD
                    j.next = 0
                    m.next = 0
                    u.next = 0
                    ulat.next = 1
                    xsh.next = xs
                else:
                    n.next = n + 1
            elif st == ST_UPD:
                if ulat:
                    ulat.next = 0
                    u.next = 0
                elif u == K + 1:
                    if j == L - 1:
                        st.next = ST_DONE
                    else:
                        j.next = j + 1
                        if j >= M + 1:
                            m.next = m + 1
                        ulat.next = 1
                        xsh.next = xsh >> at
                else:
                    u.next = u + 1
            elif st == ST_DONE:
                st.next = ST_IDLE
                r_valid.next = 1
                r_e.next = esh
                step_count.next = step_count + 1

    insts.append(ctrl)
    return insts


@block
def _round_only(src, dst, shift):
    sm1 = max(shift - 1, 0)

    @always_comb
    def round_f():
        if shift > 0:
            dst.next = (src >> shift) + src[sm1]
        else:
            dst.next = src

    return round_f


@block
def _dec_first(idx, width, hi, hj, hv):
    @always_comb
    def dec_f():
        hi.next = 0
        if idx < width:
            hj.next = idx
            hv.next = 1
        else:
            hj.next = 0
            hv.next = 0

    return dec_f


@block
def _dec_stage(idx, p, width, phi, phj, pv, hi, hj, hv):
    lo = p * width
    hi_ = (p + 1) * width
    if hi_ >= 1 << len(idx):
        # The last row ends at the top of the index's range (N*L a power of two): the
        # upper bound holds by width, and comparing with 2**bits is a Verilator warning.

        @always_comb
        def dec_top_f():
            if idx >= lo:
                hi.next = p
                hj.next = idx - lo
                hv.next = 1
            else:
                hi.next = phi
                hj.next = phj
                hv.next = pv

        return dec_top_f

    @always_comb
    def dec_f():
        if idx >= lo and idx < hi_:
            hi.next = p
            hj.next = idx - lo
            hv.next = 1
        else:
            hi.next = phi
            hj.next = phj
            hv.next = pv

    return dec_f


@block
def _esh_next(esh, e, dst, k, at):
    """Shift register of the errors: ``e_n`` enters at the top, so ``e_0`` ends at the bottom."""
    top = k * at
    if k == 1:

        @always_comb
        def esh_f():
            dst.next = e[at:]

    else:

        @always_comb
        def esh_f():
            dst.next = concat(e[at:], esh[top:at])

    return esh_f


@block
def _to_unsigned(src, dst):
    nb = len(dst)

    @always_comb
    def to_u_f():
        dst.next = src[nb:]

    return to_u_f


@block
def _reg(clk, src, dst):
    @always(clk.posedge)
    def reg_f():
        dst.next = src

    return reg_f
