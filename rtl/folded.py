"""The folded TRTRL core: P lanes serve N neurons, pipelined, all state in block RAM.

Lane ``p`` owns rows ``i = P r + p`` (row group ``r = 0 .. R-1``): their weights and
every kept sensitivity, in synchronous-read memories. All lanes walk the same column
``j`` of their rows in lockstep, so the values that depend on the column (``z_j``,
``f'_m``, the output rows' weights ``W[k, M+1+m]``) are broadcast. The one value that
depends on both row and column, the transposed weight ``W[m, M+1+i]`` of the egress
rule, comes from a *shadow* copy of the recurrent weights, rewritten by every forward
pass and stored diagonally (entry ``(a, c)`` in bank ``(a + c) mod P``), so a column of
P rows is written and a row of P columns is read in one cycle, through a rotator.

A weight's slot has ``S = K + 2`` cycles, one kept quantity a cycle (outputs, ingress,
egress), through a pipeline with one multiplier per register-to-register path: two
sensitivity products, their sum and the ``z`` term, round and saturate, the ``f'``
product, round and saturate, the gradient product and sum, then the weight update.
``rtl/README.md`` has the schedule and the cycle formula; ``ArrayConfig`` computes it.
"""

from __future__ import annotations

from myhdl import ResetSignal, Signal, always, always_comb, always_seq, block, concat, intbv

from trtrl.pymodel.fixed.lut import build_lut
from trtrl.rtl.blocks import chain_mux, rotate, sext, sig_s, sig_u, zext
from trtrl.rtl.config import COUNTER_BITS, LR_SHIFT_BITS, ArrayConfig, clog2
from trtrl.rtl.toolchain import ECP5_DSP_DEFINE

__all__ = ["trtrl_array", "make_ports", "const_divider"]

# controller states
F_IDLE, F_CLEAR, F_FWD, F_PRE, F_UPD, F_DRAIN, F_DONE = range(7)
# how the value written for a quantity is chosen (stage E7)
SEL_COMP, SEL_DUPI, SEL_DUPE, SEL_PREV, SEL_ZERO = range(5)
# shadow read requests
TAG_NONE, TAG_TR, TAG_PF = range(3)
HOST_STAGES = 9  # H1 .. H9 registers of the host memory port


def const_divider(divisor: int, limit: int) -> tuple[int, int]:
    """``(mult, shift)`` with ``x // divisor == (x * mult) >> shift`` for every ``0 <= x < limit``.

    Checked exhaustively: the host port's address decode divides by ``L`` and ``P``
    with one constant product each, so its logic does not grow with ``N``.
    """
    bits = clog2(max(limit, 2))
    shift = bits + clog2(divisor) + 1
    mult = -(-(1 << shift) // divisor)
    x = 0
    step = max(1, limit // 4096)
    # exhaustive where cheap, else every value near a multiple of the divisor
    values = range(limit) if limit <= 1 << 16 else sorted(
        {v for q in range(0, limit, divisor) for v in (q - 1, q) if 0 <= v < limit}
        | set(range(0, limit, step)) | {limit - 1})
    for x in values:
        if (x * mult) >> shift != x // divisor:
            raise AssertionError(f"const_divider({divisor}, {limit}) fails at {x}")
    return mult, shift


def make_ports(cfg: ArrayConfig) -> dict[str, Signal]:
    """The top level's signals, named as in ``rtl/README.md`` (the core interface)."""
    p = cfg.ports()
    sig = {}
    for name, width in p.items():
        sig[name] = Signal(bool(0)) if width == 1 and name != "s_x" else sig_u(width)
    sig["rst"] = ResetSignal(0, active=1, isasync=False)
    sig["m_rdata"] = sig_s(p["m_rdata"])
    sig["m_wdata"] = sig_s(p["m_wdata"])
    return sig


class _Bus:
    """Signals the controller broadcasts to every lane (a namespace, not a port)."""


@block
def sram(clk, rst, we, wa, wd, re, ra, rd, depth):
    """``depth`` words, one write port, one synchronous read port with enable: ``rd``
    holds the last word read until the next read (block RAM); ``rst`` clears ``rd``."""
    mem = [Signal(intbv(0, min=wd.min, max=wd.max)) for _ in range(depth)]

    @always(clk.posedge)
    def sram_f():
        if we:
            mem[wa].next = wd
        if rst:
            rd.next = 0
        elif re:
            rd.next = mem[ra]

    return sram_f


@block
def regfile(clk, we, wa, wd, ra, rd, depth):
    """A small register file (distributed RAM): one write port, an asynchronous read."""
    mem = [Signal(intbv(0, min=wd.min, max=wd.max)) for _ in range(depth)]

    @always(clk.posedge)
    def regfile_w():
        if we:
            mem[wa].next = wd

    @always_comb
    def regfile_r():
        rd.next = mem[ra]

    return regfile_w, regfile_r


@block
def dreg(clk, rst, src, dst):
    @always_seq(clk.posedge, reset=rst)
    def dreg_f():
        dst.next = src

    return dreg_f


# The ECP5 DSP (MULT18X18D) with its input and output registers: `define TRTRL_ECP5_DSP
# (rtl/synth.py sets it for --target ecp5; simulated with rtl/cells/ecp5_mult18x18d.v)
# selects the primitive, else the same two register stages are written out (simulators,
# other targets).
_DSP_PORTS = "".join(f".A{i}(${{p}}_xa[{i}]), .B{i}(${{p}}_xb[{i}]), " for i in range(18))
_DSP_OUT = ", ".join(f".P{i}(${{p}}_xp[{i}])" for i in range(36))
_DSP_REGS = ", ".join(f'.REG_{r}_{f}("{v}0")' for r in ("INPUTA", "INPUTB", "OUTPUT")
                      for f, v in (("CLK", "CLK"), ("CE", "CE"), ("RST", "RST")))


@block
def dsp_mul(clk, rst, a, b, p):
    """``p = a * b`` two clock edges after ``a``, ``b`` (the operands are registered, then
    the product: no logic between them, so the DSP block's own registers can take both);
    every register is reset. With ``TRTRL_ECP5_DSP`` defined, operands up to 18 bits
    (signed) are one MULT18X18D instantiated with its input and output registers."""
    a_r, b_r, p_r = _like(a), _like(b), _like(p)

    @always_seq(clk.posedge, reset=rst)
    def dsp_mul_f():
        a_r.next = a
        b_r.next = b
        p_r.next = a_r * b_r

    @always_comb
    def dsp_mul_out():
        p.next = p_r

    a_r.driven = "reg"
    b_r.driven = "reg"
    p_r.driven = "reg"
    p.driven = "wire"
    a.read = True
    b.read = True
    pw = len(p)
    if len(a) <= 18 and len(b) <= 18:
        dsp_mul.verilog_code = (
            f"`ifdef {ECP5_DSP_DEFINE}\n"
            "wire [17:0] ${p}_xa = $$signed($a);\n"
            "wire [17:0] ${p}_xb = $$signed($b);\n"
            "wire [35:0] ${p}_xp;\n"
            f"MULT18X18D #({_DSP_REGS}, .RESETMODE(\"SYNC\")) ${{p}}_dsp (\n"
            f"    {_DSP_PORTS}\n"
            "    .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),\n"
            "    .CLK0($clk), .CE0(1'b1), .RST0($rst),\n"
            f"    {_DSP_OUT});\n"
            f"assign $p = ${{p}}_xp[{pw - 1}:0];\n"
            "`else\n" + _DSP_FALLBACK + "`endif")
    else:
        dsp_mul.verilog_code = _DSP_FALLBACK
    return dsp_mul_f, dsp_mul_out


_DSP_FALLBACK = (
    "always @(posedge $clk) begin: ${p}_regs\n"
    "    if ($rst) begin\n"
    "        $a_r <= 0;\n"
    "        $b_r <= 0;\n"
    "        $p_r <= 0;\n"
    "    end\n"
    "    else begin\n"
    "        $a_r <= $a;\n"
    "        $b_r <= $b;\n"
    "        $p_r <= ($a_r * $b_r);\n"
    "    end\n"
    "end\n"
    "assign $p = $p_r;\n")


def named(inst, name: str):
    """``inst`` with the instance name ``name`` (the prefix of its signals in the Verilog)."""
    inst.name = name
    return inst


def _like(s: Signal) -> Signal:
    if isinstance(s.val, bool):
        return Signal(bool(0))
    if s.min is not None and s.min < 0:
        return sig_s(len(s))
    return sig_u(len(s))


def chain(clk, src, depth, chains, name=None, start=0):
    """``[src, src delayed 1, ..., delayed depth-1]``: individual signals (registers),
    named ``<name>_d<start + d>_dst`` in the Verilog when ``name`` is given."""
    out = [src] + [_like(src) for _ in range(1, depth)]
    chains.append((out, name, start))  # the calling block instantiates the _delay_lines
    return out


@block
def _delay_line(clk, rst, sigs, start):
    insts = []
    for d in range(1, len(sigs)):
        insts.append(named(dreg(clk, rst, sigs[d - 1], sigs[d]), f"d{start + d}"))
    return insts


@block
def lane(p, cfg, clk, g, rot_in, s_acc, wd_out, rd_out, ev_out):
    """Lane ``p``: its rows' memories, the sensitivity pipeline and the weight update."""
    f = cfg.fixed
    N, K = cfg.n, cfg.k
    S = cfg.slot_cycles
    wt_, pt, at = f.weight.total, f.sens.total, f.act.total
    dp = cfg.dp_bits
    RL = cfg.row_words
    AB = cfg.pout_bits
    WF, AF = f.weight.frac, f.act.frac
    FPB = clog2(cfg.groups)
    WF1, AF1 = max(WF - 1, 0), max(AF - 1, 0)
    ZSH = f.weight.frac + f.sens.frac - f.act.frac
    PMIN, PMAX, WMIN, WMAX = f.sens.min, f.sens.max, f.weight.min, f.weight.max
    KS = max(K, 1)
    SX = cfg.sign_extension
    GB = cfg.grad_base_shift
    rst = g.rst
    insts = []
    chains: list = []

    # ---- memories ---------------------------------------------------------------------
    w_we, p_we_i, p_we_e, o_we = (Signal(bool(0)) for _ in range(4))
    w_wa, pi_wa = sig_u(clog2(RL)), sig_u(clog2(RL))
    KB = clog2(KS)
    o_wa = sig_u(cfg.pout_addr_bits)
    w_wd = sig_s(wt_)
    p_wd = sig_s(pt)
    w_rd, pi_rd, pe_rd, po_rd = sig_s(wt_), sig_s(pt), sig_s(pt), sig_s(pt)
    # the read enables and addresses of the memories: this lane's copies (lane_copies)
    lcp_re = Signal(bool(0))
    lcp_ra = sig_u(clog2(RL))
    lcp_ore = Signal(bool(0))
    lcp_ora = sig_u(cfg.pout_addr_bits)
    # the quantity pipeline's stages 8 and 13: this lane's registers of stages 7 and 12
    lcp_qv8, lcp_qu8, lcp_qa8 = Signal(bool(0)), _like(g.q7u), _like(g.q7a)
    lcp_qv13, lcp_qu13, lcp_qa13 = Signal(bool(0)), _like(g.q12u), _like(g.q12a)
    s7_out, s7_ing, s7_egr, w_upd = (Signal(bool(0)) for _ in range(4))
    # p_out's write address (K = 1: the word itself, no second name for the copy)
    s7_pa = sig_u(cfg.pout_addr_bits) if K > 1 else lcp_qa8
    insts += [
        named(sram(clk, rst, w_we, w_wa, w_wd, lcp_re, lcp_ra, w_rd, RL), "weights"),
        named(sram(clk, rst, p_we_i, pi_wa, p_wd, lcp_re, lcp_ra, pi_rd, RL), "p_ing"),
        named(sram(clk, rst, p_we_e, pi_wa, p_wd, lcp_re, lcp_ra, pe_rd, RL), "p_egr"),
        named(sram(clk, rst, o_we, o_wa, p_wd, lcp_ore, lcp_ora, po_rd, K << AB), "p_out"),
    ]
    wd, pid, ped, pod = sig_s(wt_), sig_s(pt), sig_s(pt), sig_s(pt)  # data registers
    insts += [dreg(clk, rst, w_rd, wd), dreg(clk, rst, pi_rd, pid), dreg(clk, rst, pe_rd, ped),
              dreg(clk, rst, po_rd, pod)]

    # f' of this lane's rows (written by the activation unit) and the output rows'
    # weights W[k, M+1+i] of the current (and next) group, fetched from the shadow
    fpi = sig_s(at)
    fpf_we = Signal(bool(0))
    fpf_wa = sig_u(clog2(cfg.groups))
    fpf_wd = sig_s(at)
    insts.append(named(regfile(clk, fpf_we, fpf_wa, fpf_wd, g.er, fpi, 1 << FPB), "fp_rows"))
    wki = sig_s(wt_)
    wki_we = Signal(bool(0))
    wki_wa, wki_ra = sig_u(KB + 1), sig_u(KB + 1)
    wki_wd = sig_s(wt_)
    insts.append(named(regfile(clk, wki_we, wki_wa, wki_wd, wki_ra, wki, 2 << KB), "w_out_rows"))
    wtr = sig_s(wt_)  # the transposed weight W[m, M+1+i] of the current slot

    # ---- stage registers --------------------------------------------------------------
    BW = max(pt, at)  # b: a sensitivity, or z in the forward pass
    e0_zon = Signal(bool(0))
    e0_fp = sig_s(at)
    e0_sel = sig_u(3)
    e0_cnt, e0_ci, e0_cm, e0_lv = (Signal(bool(0)) for _ in range(4))
    e1_p1, e1_p2 = sig_s(wt_ + BW), sig_s(wt_ + pt)
    e1_zon = Signal(bool(0))
    e2_acc, e3_r = sig_s(dp), sig_s(dp)
    e4_ev = Signal(bool(0))
    e5_p = sig_s(at + pt)
    e6_r = sig_s(at + pt)  # as wide as E5: Verilog's '+ bit' is unsigned, so no widening
    e7_p = sig_s(pt)
    e7_ev = Signal(bool(0))
    e8_g = sig_s(at + pt)
    g_acc = sig_s(dp)
    w1_gr = sig_s(dp)
    wold_n, w3_n = sig_s(wt_ + 2), sig_s(wt_)  # W2's weight operand; W3's value
    w3_evn = Signal(bool(0))
    w3_w = sig_s(wt_)
    w3_ev = Signal(bool(0))
    dupi, dupe, prev = sig_s(pt), sig_s(pt), sig_s(pt)
    # flags carried along the pipeline; x_d[n] is aligned with stage En
    fp_d = chain(clk, e0_fp, 4, chains, "fp")
    sel_d = chain(clk, e0_sel, 7, chains, "sel")
    ci_d = chain(clk, e0_ci, 7, chains, "ci")
    cm_d = chain(clk, e0_cm, 7, chains, "cm")
    cnt_d = chain(clk, e0_cnt, 7, chains, "cnt")
    lv_d = chain(clk, e0_lv, 13, chains, "lv")
    fp3, sel6, ci6, cm6, cnt4, cnt6 = fp_d[3], sel_d[6], ci_d[6], cm_d[6], cnt_d[4], cnt_d[6]
    lv4, lv7, lv12 = lv_d[4], lv_d[7], lv_d[12]
    zt0 = sig_s(dp)
    zt1 = sig_s(dp)
    insts.append(dreg(clk, rst, zt0, zt1))
    # the slot's weight, held until the weight update (a chain of slot registers)
    nchain = (K + 10) // S
    wchain = [sig_s(wt_) for _ in range(nchain)]
    wold = wchain[nchain - 1]
    for q in range(nchain):
        insts.append(_slot_reg(clk, rst, g.slot_end, wd if q == 0 else wchain[q - 1], wchain[q]))

    # This lane's row is li = Erow + p. Its flags are registers: those of E alone are
    # loaded with E (from F, at an advance); u == li is the broadcast u - Erow (g.ud, a
    # register) against the constant p, so no lane adds or compares the broadcast counters.
    l_valid, l_out = Signal(bool(p < N)), Signal(bool(p < K))
    l_mi = Signal(bool(0))
    zsig = g.zslot
    one_z = Signal(bool(0))
    lf = sig_u(len(g.frow))

    @always_comb
    def lane_row_next():
        lf.next = g.frow + p

    @always_seq(clk.posedge, reset=rst)
    def lane_flags():
        if g.advance:
            l_valid.next = lf < N
            l_out.next = lf < K
            l_mi.next = g.frec and g.fb == lf

    @always_comb
    def lane_z():
        one_z.next = g.ud == p

    zsx = sig_s(dp)

    @always_comb
    def zterm():
        zt0.next = zsx << ZSH

    @always_comb
    def wki_addr():
        wki_ra.next = concat(g.egb, g.uk)

    insts += [lane_row_next, lane_flags, lane_z, zterm, wki_addr, sext(zsig, zsx, SX)]

    # The flags that steer E0's operand multiplexers, copied into every lane (registers
    # set from the broadcast next values): one broadcast register would fan out to every
    # bit of every lane's multiplexers, and its routing was the clock's critical path. The
    # synthesis script keeps the copies (keep on the *_lcp_* flip-flops), as Yosys would
    # otherwise merge equal registers back into one.
    lcp_fwd, lcp_rec = Signal(bool(0)), Signal(bool(0))
    lcp_out, lcp_ing = Signal(bool(K > 0)), Signal(bool(K == 0))
    lcp_gon, lcp_gfirst = Signal(bool(0)), Signal(bool(0))
    lcp_lr = sig_u(LR_SHIFT_BITS)

    @always_seq(clk.posedge, reset=rst)
    def lane_copies():
        lcp_fwd.next = g.fwd_nx
        lcp_out.next = g.u_out_nx
        lcp_ing.next = g.u_ing_nx
        lcp_rec.next = g.erec_nx
        lcp_re.next = g.lm_re_nx
        lcp_ra.next = g.lm_ra_nx
        lcp_ore.next = g.po_re_nx
        lcp_ora.next = g.h_pa_nx
        lcp_qv8.next = g.q7v
        lcp_qu8.next = g.q7u
        lcp_qa8.next = g.q7a
        lcp_qv13.next = g.q12v
        lcp_qu13.next = g.q12u
        lcp_qa13.next = g.q12a
        lcp_gon.next = g.gacc_on_nx
        lcp_gfirst.next = g.gacc_first_nx
        lcp_lr.next = g.lr

    insts.append(lane_copies)

    @always_comb
    def write_decode():
        # E7 writes quantity u of the slot: an output's p (u < K), ingress, egress; W3
        # the weight after the slot's last output quantity, when learning
        s7_out.next = lcp_qv8 and lcp_qu8 < K
        s7_ing.next = lcp_qv8 and lcp_qu8 == K
        s7_egr.next = lcp_qv8 and lcp_qu8 == K + 1
        w_upd.next = lcp_qv13 and lcp_qu13 == K - 1 and g.learn_r

    insts.append(write_decode)
    if K > 1:
        insts.append(_pout_addr(lcp_qu8, lcp_qa8, s7_pa, K))

    # E0: the operands of quantity u of the slot (or the forward MAC); the operand
    # registers are the DSP blocks' input registers (dsp_mul), so they are set here as
    # the values they take (n_*), the flags as registers
    # (every signal an always_comb reads must exist when it is declared: MyHDL takes its
    # sensitivity from the closure, and a name bound later is silently left out)
    pidb, pedb = sig_s(BW), sig_s(BW)
    insts += [sext(pid, pidb, SX), sext(ped, pedb, SX)]
    n_a, n_c = sig_s(wt_), sig_s(wt_)
    n_b, n_d = sig_s(BW), sig_s(pt)

    # The operand selects (one-hot, each a register of this lane set from the next values
    # of the flags above and of l_out, l_mi), so E0's multiplexers are one AND-OR level
    # behind registers: forward MAC W z; output k: W[k, i] p^i (+ W[k, m] p^m when m is
    # recurrent and m != i); ingress: W p^m when i is no output (and m recurrent); egress:
    # W[m, i] p^i.
    lcp_sa_wd, lcp_sa_wki, lcp_sa_wtr = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    lcp_sb_zf, lcp_sb_pi, lcp_sb_pe = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    lcp_sc = Signal(bool(0))
    l_out_nx, l_mi_nx = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def lane_flags_next():
        l_out_nx.next = l_out
        l_mi_nx.next = l_mi
        if g.advance:
            l_out_nx.next = lf < K
            l_mi_nx.next = g.frec and g.fb == lf

    @always_seq(clk.posedge, reset=rst)
    def operand_selects():
        lcp_sa_wd.next = g.fwd_nx or (not g.u_out_nx and g.u_ing_nx and not l_out_nx)
        lcp_sa_wki.next = not g.fwd_nx and g.u_out_nx
        lcp_sa_wtr.next = not g.fwd_nx and not g.u_out_nx and not g.u_ing_nx
        lcp_sb_zf.next = g.fwd_nx
        lcp_sb_pi.next = not g.fwd_nx and (g.u_out_nx or not g.u_ing_nx)
        lcp_sb_pe.next = (not g.fwd_nx and not g.u_out_nx and g.u_ing_nx and not l_out_nx
                          and g.erec_nx)
        lcp_sc.next = not g.fwd_nx and g.u_out_nx and g.erec_nx and not l_mi_nx

    @always_comb
    def stage0_ops():
        n_a.next = 0
        if lcp_sa_wd:
            n_a.next = wd
        elif lcp_sa_wki:
            n_a.next = wki
        elif lcp_sa_wtr:
            n_a.next = wtr
        n_b.next = 0
        if lcp_sb_zf:
            n_b.next = g.zfwd
        elif lcp_sb_pi:
            n_b.next = pidb
        elif lcp_sb_pe:
            n_b.next = pedb
        n_c.next = 0
        n_d.next = 0
        if lcp_sc:
            n_c.next = g.wkb
            n_d.next = ped

    @always_seq(clk.posedge, reset=rst)
    def stage0():
        e0_zon.next = 0
        e0_fp.next = 0
        e0_sel.next = SEL_COMP
        e0_cnt.next = 0
        e0_ci.next = 0
        e0_cm.next = 0
        e0_lv.next = g.uv and l_valid
        if lcp_fwd:
            pass
        elif lcp_out:  # output k = u < K: T = {i} U {m}
            e0_zon.next = one_z
            e0_fp.next = g.fpk
            e0_cnt.next = 1
            e0_ci.next = one_z
            e0_cm.next = lcp_rec and g.u_eb
        elif lcp_ing:  # u = K: ingress p^i
            if l_out:
                e0_sel.next = SEL_DUPI
            else:
                e0_zon.next = 1
                e0_fp.next = fpi
                e0_cnt.next = 1
        else:  # egress p^m
            e0_fp.next = g.fpb
            if not lcp_rec:
                e0_sel.next = SEL_ZERO
            elif g.eb_out:
                e0_sel.next = SEL_DUPE
            elif l_mi:
                e0_sel.next = SEL_PREV
            else:
                e0_cnt.next = 1

    insts += [lane_flags_next, operand_selects, stage0_ops,
              named(dsp_mul(clk, rst, n_a, n_b, e1_p1), "mul_a"),
              named(dsp_mul(clk, rst, n_c, n_d, e1_p2), "mul_c")]

    zt_sel = sig_s(dp)
    p1x, p2x, gx = sig_s(dp), sig_s(dp), sig_s(dp)
    insts += [sext(e1_p1, p1x, SX), sext(e1_p2, p2x, SX), sext(e8_g, gx, SX),
              named(sext(wold, wold_n, SX), "wold_sx")]  # rtl/formal_core.py reads it

    @always_comb
    def zt_mux():
        if e1_zon:
            zt_sel.next = zt1
        else:
            zt_sel.next = 0

    # E2's sum of three in carry-save form: the bitwise sums and carries (one LUT level),
    # then one adder, not two carry chains in series behind the DSP outputs. The carries
    # are shifted out of dp bits and the sum taken modulo 2**dp: it fits dp bits, so its
    # low dp bits are exact ("unused": the top bits dropped, which Verilator's lint skips).
    cs_x, cs_m_top_unused, cs_c = sig_s(dp), sig_s(dp), sig_s(dp)
    cs_xx, cs_cx, cs_sum_top_unused = sig_s(dp + 1), sig_s(dp + 1), sig_s(dp + 1)

    @always_comb
    def csa_bits():
        cs_x.next = p1x ^ p2x ^ zt_sel
        cs_m_top_unused.next = (p1x & p2x) | (p1x & zt_sel) | (p2x & zt_sel)

    @always_comb
    def csa_carry():
        cs_c.next = concat(cs_m_top_unused[dp - 1:], bool(0)).signed()

    @always_comb
    def csa_sum():
        cs_sum_top_unused.next = cs_xx + cs_cx

    insts += [csa_bits, csa_carry, sext(cs_x, cs_xx, SX), sext(cs_c, cs_cx, SX), csa_sum]

    n_in4 = sig_s(pt)  # E4's saturated inner (the E5 DSP's input register takes it)
    n_ev4 = Signal(bool(0))

    @always_seq(clk.posedge, reset=rst)
    def stages():
        # E1: the two sensitivity products (DSP), E2: their sum and the z term
        e1_zon.next = e0_zon
        e2_acc.next = cs_sum_top_unused[dp:].signed()
        # E3, E4: inner = sat_P(rshift_round(acc, W.frac)) (E3 also registers the fit
        # flags of E4's saturation: _fit_flags, _saturate_fit)
        if WF > 0:
            e3_r.next = (e2_acc >> WF) + e2_acc[WF1]
        else:
            e3_r.next = e2_acc
        e4_ev.next = n_ev4
        # E5: f' * inner (DSP: e4_in is its input register), E6: round (and E7's fit
        # flags)
        if AF > 0:
            e6_r.next = (e5_p >> AF) + e5_p[AF1]
        else:
            e6_r.next = e5_p

    pnew = sig_s(pt)
    pev = Signal(bool(0))
    pval = sig_s(pt)
    # E4's and E7's saturation to format P (each an event)
    fit3 = [Signal(bool(q == 0)) for q in range(4)]  # t_z, t_m1, t_m2, carry of a 0
    stage3 = named(_fit_flags(clk, rst, e2_acc, WF, *fit3, pt), "e3_fit")
    stage4_sat = named(_saturate_fit(e3_r, *fit3, n_in4, n_ev4, PMIN, PMAX), "e4_sat")
    fit6 = [Signal(bool(q == 0)) for q in range(4)]  # t_z, t_m1, t_m2, carry of a 0
    stage6 = named(_fit_flags(clk, rst, e5_p, AF, *fit6, pt), "e6_fit")
    stage7_sat = named(_saturate_fit(e6_r, *fit6, pnew, pev, PMIN, PMAX), "e7_sat")

    @always_comb
    def stage7_sel():
        if sel6 == SEL_COMP:
            pval.next = pnew
        elif sel6 == SEL_DUPI:
            pval.next = dupi
        elif sel6 == SEL_DUPE:
            pval.next = dupe
        elif sel6 == SEL_PREV:
            pval.next = prev
        else:
            pval.next = 0

    @always_seq(clk.posedge, reset=rst)
    def stage7():
        e7_p.next = pval
        e7_ev.next = pev and cnt6
        prev.next = pval
        if ci6:
            dupi.next = pnew
        if cm6:
            dupe.next = pnew

    # E8: e_k * p (DSP: its input registers take e_k and p at E7), E9: the gradient sum
    @always_seq(clk.posedge, reset=rst)
    def grad():
        # (the sum starts at 2**(GB + lr - 1), the rounding term of rshift_round, so W1
        # is the shift alone)
        if lcp_gon:
            if lcp_gfirst:
                g_acc.next = g.ghalf + gx
            else:
                g_acc.next = g_acc + gx
        # W1: rshift_round(g, GB + lr) (the constant part of the shift is wiring, the
        # variable part a 4-level shifter), W2: + W, W3: sat_W (_weight_update)
        w1_gr.next = (g_acc >> GB) >> lcp_lr
        w3_w.next = w3_n
        w3_ev.next = w3_evn

    insts += [stage0, zt_mux, stages, stage3, stage4_sat, stage6, stage7_sat, stage7_sel,
              stage7, grad,
              named(_weight_update(clk, rst, w1_gr, wold_n, w3_n, w3_evn, WMIN, WMAX), "wu"),
              named(dsp_mul(clk, rst, fp3, n_in4, e5_p), "mul_f"),
              named(dsp_mul(clk, rst, g.e7, pval, e8_g), "mul_g")]

    # ---- the forward sum ----------------------------------------------------------------
    @always_seq(clk.posedge, reset=rst)
    def fwd_acc():
        if g.fwd4:
            if g.ffirst4:
                s_acc.next = p1x
            else:
                s_acc.next = s_acc + p1x

    insts.append(fwd_acc)

    # ---- shadow data: transposed weight and the next group's coefficients -------------
    @always_seq(clk.posedge, reset=rst)
    def shadow_in():
        if g.sh_tag == TAG_TR:
            wtr.next = rot_in

    @always_comb
    def wki_port():
        if g.clr:
            wki_we.next = g.clr_wki
            wki_wa.next = g.clr_sa[KB + 1:]
            wki_wd.next = 0
        else:
            wki_we.next = g.sh_tag == TAG_PF
            wki_wa.next = g.sh_wa
            wki_wd.next = rot_in

    insts += [shadow_in, wki_port]

    # ---- write ports ----------------------------------------------------------------------
    # Only the last group has padding rows (P r + p >= N); the clear sweep zeroes their
    # weights, and a lane that never holds one never writes there.
    PAD = p >= N - (cfg.groups - 1) * cfg.lanes

    @always_comb
    def wports():
        # weights: clear (padding rows), host, or the update (W3)
        if g.clr:
            w_we.next = PAD and g.clr_pad
            w_wa.next = g.clr_ra
            w_wd.next = 0
        elif g.h_we and g.h_lane == p:
            w_we.next = 1
            w_wa.next = g.h_addr
            w_wd.next = g.h_wd
        else:
            w_we.next = w_upd and lv12
            w_wa.next = lcp_qa13
            w_wd.next = w3_w
        # sensitivities: clear, or the value of stage E7
        if g.clr:
            p_we_i.next = g.clr_row
            p_we_e.next = g.clr_row
            pi_wa.next = g.clr_ra
            o_we.next = g.clr_po
            o_wa.next = g.clr_pa
            p_wd.next = 0
        else:
            p_we_i.next = s7_ing and lv7
            p_we_e.next = s7_egr and lv7
            pi_wa.next = lcp_qa8
            o_we.next = s7_out and lv7
            o_wa.next = s7_pa
            p_wd.next = e7_p
        # this lane's f' file
        if g.clr:
            fpf_we.next = g.clr_fp
            fpf_wa.next = g.clr_sa[FPB:]
            fpf_wd.next = 0
        else:
            fpf_we.next = g.a7_fpwe and g.a7_lane == p
            fpf_wa.next = g.a7_r
            fpf_wd.next = g.a7_fp

    insts.append(wports)

    # ---- host read and events -------------------------------------------------------------
    DB = len(rd_out)
    wdr, podr, pidr, pedr = sig_s(DB), sig_s(DB), sig_s(DB), sig_s(DB)
    insts += [sext(wd, wdr, SX), sext(pod, podr, SX), sext(pid, pidr, SX), sext(ped, pedr, SX)]
    @always_seq(clk.posedge, reset=rst)
    def lane_out():
        if g.h9_lane == p and g.h9_re:
            if g.h9_kind == 0:
                rd_out.next = wdr
            elif g.h9_kind == 1:
                rd_out.next = podr
            elif g.h9_kind == 2:
                rd_out.next = pidr
            else:
                rd_out.next = pedr
        else:
            rd_out.next = 0
        # saturation events of this lane: inner (E4), p (E7), the weight (W3)
        # the count of: inner (E4), p (E7), the weight (W3); no local variable
        if e4_ev and cnt4 and lv4:
            if e7_ev and lv7:
                if w3_ev and w_upd and lv12:
                    ev_out.next = 3
                else:
                    ev_out.next = 2
            elif w3_ev and w_upd and lv12:
                ev_out.next = 2
            else:
                ev_out.next = 1
        elif e7_ev and lv7:
            if w3_ev and w_upd and lv12:
                ev_out.next = 2
            else:
                ev_out.next = 1
        elif w3_ev and w_upd and lv12:
            ev_out.next = 1
        else:
            ev_out.next = 0

    @always_comb
    def wd_copy():
        wd_out.next = wd

    insts += [lane_out, wd_copy]
    for sigs, cname, start in chains:
        line = _delay_line(clk, rst, sigs, start)
        insts.append(named(line, cname) if cname else line)
    return insts


@block
def trtrl_array(clk, rst, s_valid, s_ready, s_x, s_d, r_valid, r_y, r_e, learn, lr_shift,
                clear, busy, m_addr, m_wdata, m_we, m_re, m_rdata, m_rvalid, step_count,
                sat_count, cfg):
    """The folded core (ports as in ``rtl/README.md``); ``cfg`` is an :class:`ArrayConfig`."""
    f = cfg.fixed
    N, M, K, L = cfg.n, cfg.m, cfg.k, cfg.L
    P, R, S, C = cfg.lanes, cfg.groups, cfg.slot_cycles, cfg.shadow_stride
    at, wt_, pt = f.act.total, f.weight.total, f.sens.total
    af = f.act.frac
    AF1 = af - 1
    AMIN, AMAX = f.act.min, f.act.max
    TANH = f.activation == "tanh"
    SX = cfg.sign_extension
    dp = cfg.dp_bits
    RL = cfg.row_words
    RLB = clog2(RL)
    AB = cfg.pout_bits
    PAB = cfg.pout_addr_bits
    ONE = f.act.one
    KB = clog2(max(K, 1))
    YB = clog2(N)
    RB = clog2(R)
    PRE = cfg.pre_cycles
    DR = cfg.fold_cycles()["drain"]
    CLR = cfg.clear_cycles
    GB = cfg.grad_base_shift
    # the host port's address decode: idx // L and i // P as constant products
    IB, RGB = cfg.idx_bits, cfg.region_bits
    NL = N * L
    mL, sL = const_divider(L, 1 << IB)
    mP, sP = const_divider(P, max(N, 2))
    bL, bP, bLL, bPP = mL.bit_length(), mP.bit_length(), L.bit_length(), P.bit_length()
    W3 = IB + bL - sL  # i = (idx * mL) >> sL
    W5 = W3 + bP - sP  # r = (i * mP) >> sP
    HW = max(IB + bL, W3 + bLL, W3 + bP, W5 + bPP, W5 + bLL) + 1  # the differences
    insts = []
    chains: list = []
    g = _Bus()
    g.rst = rst

    def reg_u(bits):
        return sig_u(bits)

    # ---------------- controller registers ------------------------------------------------
    st = sig_u(3)
    cb = clog2(max(RL, CLR, L, P * R + P, K + 3, PRE, DR, 2 * R * C + P) + 1)  # counters
    u = sig_u(cb)
    learn_r = Signal(bool(0))
    lr_r = sig_u(LR_SHIFT_BITS)
    ghalf = sig_s(dp)  # 2**(GB + lr - 1) (0 for GB + lr = 0): the gradient's rounding term
    hbase = Signal(intbv(1 << GB, min=-(1 << (dp - 1)), max=1 << (dp - 1)))  # 2**GB
    xw = max(at, M * at)  # (M = 0: a spare word, never read)
    xs = sig_u(xw)
    x_idle = Signal(bool(0))  # the sample's inputs are latched (in every idle cycle)
    dsh = sig_u(K * at)
    ypar = Signal(bool(0))
    cc = sig_u(cb)  # clear sweep
    crow = sig_u(cb)  # P * (cc // L)
    ccj = sig_u(cb)  # cc % L
    # forward pointer
    fr, fj, frow, frc, fb, fbm = (sig_u(cb) for _ in range(6))
    # fj == 0, fj == L - 1, fj > M, fj < M: registers set from fj's next value, so the
    # forward pass's column decode does not compare fj in front of the registers it feeds
    fj_nx = sig_u(cb)
    fj_z, fj_last = Signal(bool(1)), Signal(bool(L == 1))
    fj_rec, fj_x = Signal(bool(0)), Signal(bool(M > 0))
    faddr = sig_u(RLB)
    fxsh = sig_u(xw)
    # update: fetch pointer F (the next slot) and execution pointer E (this slot)
    Fr, Fj, Frow, Fb, Fbm, FbC, Fjm, FjC = (sig_u(cb) for _ in range(8))
    Faddr = sig_u(RLB)
    Frec, Fvalid = Signal(bool(0)), Signal(bool(0))
    # registered compares of F and fr (f_flags)
    fq_jlast, fq_jlem, fq_jgtm, fq_bmlast, fq_jmlast, fq_xmax, fq_rmore, fq_rlast, fq_alast, \
        fq_jk, fr_last = (Signal(bool(0)) for _ in range(11))
    Fxz = sig_s(at)
    Fxsh = sig_u(xw)
    Er, Erow, Eb = (sig_u(cb) for _ in range(3))
    Eaddr = sig_u(RLB)
    Erec, Elast = Signal(bool(0)), Signal(bool(0))
    Exz = sig_s(at)
    pc = sig_u(cb)  # prefetch phase counter
    # the prefetch's column counter, one cycle ahead of the request it addresses (the
    # request is computed a cycle early and registered)
    pk, pkm, pkC = sig_u(cb), sig_u(cb), sig_u(cb)
    dc = sig_u(cb)  # drain counter
    # E <- F and F -> the next slot, at the start of the update and every slot boundary
    advance, f_init = Signal(bool(0)), Signal(bool(0))

    # ---------------- the bus to the lanes ------------------------------------------------
    g.u = u
    # u < K and u == K of u's next value: each lane registers its own copy (lane_copies)
    # for its E0 multiplexers instead of comparing the broadcast u
    g.u_out_nx, g.u_ing_nx = Signal(bool(0)), Signal(bool(0))
    g.uv = Signal(bool(0))
    g.uk = sig_u(KB)
    g.er = sig_u(RB)
    g.erow = Erow
    g.erec_nx = Signal(bool(0))  # Erec's next value
    g.eb = Eb
    g.advance, g.frow, g.fb, g.frec = advance, Frow, Fb, Frec
    # u - Erow (mod 2**UDB; equal to a lane's p only when u is that lane's row) and
    # u == Eb, registered from the next values of u and E
    UDB = clog2(cfg.slot_cycles + (R + 1) * P) + 1
    g.ud = sig_u(UDB)
    g.u_eb = Signal(bool(0))
    # u's next value is 0, u + 1 or u (u_zero, u_inc, else: from registered flags, no
    # compare of u in front of it). What the lanes take from it (u - Erow, u == Eb, u < K,
    # u == K) is computed for each of the three in parallel from registers and selected.
    u_nx = sig_u(len(u))
    u_wrap, pre_last = Signal(bool(0)), Signal(bool(0))  # u == S - 1; PRE's last cycle
    # u == S - 3; in PRE: pc == PRE - 3, 2 <= pc < 2 + K (the requests' cycles, and the
    # fetch's a cycle ahead; registered like u_wrap and pre_last)
    u_m3 = Signal(bool(0))
    pre_m3, pre_pf = Signal(bool(0)), Signal(bool(0))
    u_zero, u_inc = Signal(bool(0)), Signal(bool(0))
    ud_inc_unused = sig_u(UDB + 1)  # mod 2**UDB
    ud_fz_unused, ud_ez_unused = sig_u(UDB + 1), sig_u(UDB + 1)

    @always_comb
    def u_next():
        u_zero.next = pre_last or ((st == F_UPD or st == F_DRAIN) and u_wrap)
        u_inc.next = (st == F_UPD or st == F_DRAIN) and not u_wrap

    @always_comb
    def u_value_next():
        if u_zero:
            u_nx.next = 0
        elif u_inc:
            u_nx.next = u + 1
        else:
            u_nx.next = u

    @always_comb
    def ud_sums():
        # Erow moves only at an advance (and reset, with u), so while u counts or holds,
        # u - Erow does the same: an increment of the register, no subtraction
        ud_inc_unused.next = g.ud + 1
        ud_fz_unused.next = (1 << UDB) - Frow
        ud_ez_unused.next = (1 << UDB) - Erow

    @always_seq(clk.posedge, reset=rst)
    def u_regs():
        pre_last.next = st == F_PRE and pc == PRE - 2
        pre_m3.next = st == F_PRE and pc == PRE - 4
        pre_pf.next = st == F_PRE and pc >= 1 and pc < 1 + K
        if u_zero:
            u_m3.next = S == 3
        elif u_inc:
            u_m3.next = u + 1 == S - 3
        else:
            u_m3.next = u == S - 3
        u_wrap.next = (u_inc and u + 1 == S - 1) or (not u_zero and not u_inc and u == S - 1)
        if advance:
            g.ud.next = ud_fz_unused[UDB:]
            g.u_eb.next = Fb == 0
        elif u_zero:
            g.ud.next = ud_ez_unused[UDB:]
            g.u_eb.next = Eb == 0
        elif u_inc:
            g.ud.next = ud_inc_unused[UDB:]
            g.u_eb.next = u + 1 == Eb
        else:
            g.u_eb.next = u == Eb
        g.uk.next = 0
        if u_inc:
            if u + 1 < K:
                g.uk.next = u[KB:] + 1
        elif not u_zero:
            if u < K:
                g.uk.next = u[KB:]

    @always_comb
    def u_flags_next():
        if u_zero:
            g.u_out_nx.next = True
            g.u_ing_nx.next = False
        elif u_inc:
            g.u_out_nx.next = u + 1 < K
            g.u_ing_nx.next = u + 1 == K
        else:
            g.u_out_nx.next = u < K
            g.u_ing_nx.next = u == K

    insts += [u_next, u_value_next, ud_sums, u_regs, u_flags_next]
    g.eb_out = Signal(bool(0))
    g.egb = Signal(bool(0))
    g.zslot = sig_s(at)
    g.zfwd = sig_s(max(pt, at))
    g.wkb = sig_s(wt_)
    g.fpk = sig_s(at)
    g.fpb = sig_s(at)
    g.e7 = sig_s(at)
    # E9 adds the gradient term of output u (u < K; u == 0 starts the sum): the flags'
    # next values, from the quantity pipeline's stage 8 (each lane registers its copy)
    g.gacc_on_nx, g.gacc_first_nx = Signal(bool(0)), Signal(bool(0))
    g.lr = lr_r
    g.ghalf = ghalf
    g.slot_end = Signal(bool(0))
    g.learn_r = learn_r
    g.lm_re_nx = Signal(bool(0))  # the lanes' memory read enable, a cycle early
    g.lm_ra_nx = sig_u(clog2(RL))  # and its address
    g.po_re_nx = Signal(bool(0))  # a host read of p_out in H6: the lanes read it in H7
    g.h_pa_nx = sig_u(cfg.pout_addr_bits)  # its address, from H6's registers
    g.sh_tag = sig_u(2)
    g.sh_wa = sig_u(KB + 1)
    g.clr = Signal(bool(0))
    g.clr_row = Signal(bool(0))
    g.clr_pad = Signal(bool(0))  # clearing a row of the last group
    LAST_ROW = (R - 1) * P
    g.clr_ra = sig_u(clog2(RL))
    g.clr_po = Signal(bool(0))
    g.clr_pa = sig_u(cfg.pout_addr_bits)
    g.clr_wki = Signal(bool(0))
    g.clr_fp = Signal(bool(0))
    g.clr_sa = sig_u(cb)
    g.h_we = Signal(bool(0))
    g.h_lane = sig_u(HW)
    g.h_addr = sig_u(clog2(RL))
    g.h_wd = sig_s(wt_)
    # the quantity pipeline's stages 7 and 12 (valid, u, word): each lane registers its own
    # stage 8 (E7's writes) and 13 (W3's), whose decode drove every lane's write ports
    g.q7v, g.q7u, g.q7a = Signal(bool(0)), sig_u(cb), sig_u(clog2(RL))
    g.q12v, g.q12u, g.q12a = Signal(bool(0)), sig_u(cb), sig_u(clog2(RL))
    g.a7_fpwe = Signal(bool(0))
    g.a7_lane = sig_u(cb)
    g.a7_r = sig_u(RB)
    g.a7_fp = sig_s(at)
    g.h9_lane = sig_u(HW)
    g.h9_re = Signal(bool(0))
    g.h9_kind = sig_u(2)
    g.fwd_nx = Signal(bool(0))  # the forward MAC at E0 in the next cycle
    g.fwd4 = Signal(bool(0))
    g.ffirst4 = Signal(bool(0))

    # ---------------- the lanes -------------------------------------------------------------
    rot = [sig_s(wt_) for _ in range(P)]
    s_acc = [sig_s(dp) for _ in range(P)]
    wd_l = [sig_s(wt_) for _ in range(P)]
    rd_l = [sig_s(max(wt_, pt)) for _ in range(P)]
    ev_l = [sig_u(2) for _ in range(P)]
    for p in range(P):
        insts.append(named(lane(p, cfg, clk, g, rot[p], s_acc[p], wd_l[p], rd_l[p], ev_l[p]),
                           f"lane{p}"))

    # ---------------- forward pipeline info (x[d]: the issue of d cycles ago) ----------------
    fv0, ffirst0, flast0, frec0 = (Signal(bool(0)) for _ in range(4))
    RC = R * C  # words of a shadow bank
    SH = clog2(RC)
    fsh_full_unused = sig_u(cb)  # the shadow address: its low SH bits are used
    fsh0 = sig_u(SH)
    zx0, zx1 = sig_s(at), sig_s(at)

    @always_comb
    def fwd_now():
        fv0.next = st == F_FWD
        ffirst0.next = fj_z
        flast0.next = fj_last
        frec0.next = fj_rec
        fsh_full_unused.next = frc + fb
        if M > 0 and fj_x:
            if fj_z:
                zx0.next = xs[at:].signed()
            else:
                zx0.next = fxsh[at:].signed()
        else:
            zx0.next = ONE

    @always_comb
    def fwd_sh():
        fsh0.next = fsh_full_unused[SH:]

    insts += [fwd_now, fwd_sh, dreg(clk, rst, zx0, zx1)]
    fv = chain(clk, fv0, 6, chains, "fv")
    ffirst = chain(clk, ffirst0, 5, chains, "ffirst")
    flast = chain(clk, flast0, 6, chains, "flast")
    frec_d = chain(clk, frec0, 3, chains, "frec")
    fb_d = chain(clk, fb, 3, chains, "fb")
    fbm_d = chain(clk, fbm, 3, chains, "fbm") if P > 1 else None
    fr_d = chain(clk, fr, 3, chains, "fr")
    frow_d = chain(clk, frow, 6, chains, "frow")
    fsh_d = chain(clk, fsh0, 3, chains, "fsh")
    fv2, fv4, fv5, ffirst4, flast5 = fv[2], fv[4], fv[5], ffirst[4], flast[5]
    frec1, frec2, fsh2, frow5, fb2 = frec_d[1], frec_d[2], fsh_d[2], frow_d[5], fb_d[2]

    @always_comb
    def fwd_bus():
        g.fwd_nx.next = fv[1]
        g.fwd4.next = fv4
        g.ffirst4.next = ffirst4

    insts.append(fwd_bus)

    # ---------------- y, f', and the K-word files ------------------------------------------
    y_we, fpm_we, kf_we = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    y_wa = sig_u(YB + 1)
    y_ra = sig_u(YB + 1)
    y_wd, fpm_wd, kf_fpd, kf_ed = sig_s(at), sig_s(at), sig_s(at), sig_s(at)
    fpm_wa, fpm_ra = sig_u(YB), sig_u(YB)
    kf_wa = sig_u(KB)
    y_re, fpm_re = Signal(bool(0)), Signal(bool(0))
    y_rd, fpm_rd, ydata, fpdata = sig_s(at), sig_s(at), sig_s(at), sig_s(at)
    insts += [named(sram(clk, rst, y_we, y_wa, y_wd, y_re, y_ra, y_rd, 2 << YB), "y"),
              named(sram(clk, rst, fpm_we, fpm_wa, fpm_wd, fpm_re, fpm_ra, fpm_rd, 1 << YB), "fp"),
              dreg(clk, rst, y_rd, ydata), dreg(clk, rst, fpm_rd, fpdata)]
    unext = sig_u(len(u))
    unext_k = sig_u(KB)
    e7_k = sig_u(KB)
    fpk_rd, ek_rd = sig_s(at), sig_s(at)
    insts += [named(regfile(clk, kf_we, kf_wa, kf_fpd, unext_k, fpk_rd, 1 << KB), "fp_out"),
              named(regfile(clk, kf_we, kf_wa, kf_ed, e7_k, ek_rd, 1 << KB), "e_out")]

    # the output rows' weights W[k, M+1+b], one bank per k, written by the forward pass
    wkb_re = Signal(bool(0))
    wkb_ra = sig_u(YB)
    wkb_rd = [sig_s(wt_) for _ in range(K)]
    wkb_data = [sig_s(wt_) for _ in range(K)]
    wkb_we = [Signal(bool(0)) for _ in range(K)]
    wkb_wa = sig_u(YB)
    wkb_wd = [sig_s(wt_) for _ in range(K)]
    for k in range(K):
        insts += [named(sram(clk, rst, wkb_we[k], wkb_wa, wkb_wd[k], wkb_re, wkb_ra, wkb_rd[k],
                                   1 << YB), f"w_row{k}"),
                  dreg(clk, rst, wkb_rd[k], wkb_data[k])]
        insts.append(_wkb_port(k, P, g.clr, cc, fv2, frec_d[2], fr_d[2], wd_l[k % P],
                               wkb_we[k], wkb_wd[k], 1 << YB))
    wkb_sel = sig_s(wt_)
    insts.append(chain_mux(unext, wkb_data, wkb_sel))

    @always_comb
    def wkb_addr():
        if st == F_CLEAR:
            wkb_wa.next = cc[YB:]
        else:
            wkb_wa.next = fb2[YB:]

    insts.append(wkb_addr)

    # ---------------- the shadow: diagonal banks of the recurrent weights -------------------
    sh_we = Signal(bool(0))
    sh_wa = sig_u(SH)
    sh_wd = [sig_s(wt_) for _ in range(P)]
    # the read request: pre_* computed a cycle ahead and registered into sh_*; each
    # bank's address is sh_base plus its column offset (q - x) mod P, a function of the
    # registered x alone (the decode and its adders end at the registers, and the banks'
    # adders start at them)
    pre_re, sh_re = Signal(bool(0)), Signal(bool(0))
    pre_base, sh_base = sig_u(cb), sig_u(cb)
    pre_xm, sh_xm = sig_u(cb), sig_u(cb)
    pre_tag, sh_tag0 = sig_u(2), sig_u(2)
    pre_wa0, sh_wa0 = sig_u(KB + 1), sig_u(KB + 1)
    bank_ra = [sig_u(SH) for _ in range(P)]
    bank_rd = [sig_s(wt_) for _ in range(P)]
    breg = [sig_s(wt_) for _ in range(P)]
    wrot = [sig_s(wt_) for _ in range(P)]
    # write rotator: bank q takes lane (q - b) mod P
    wsrc = list(wd_l)
    if P > 1:
        wsrc = [sig_s(wt_) for _ in range(P)]
        insts.append(rotate(wd_l, wsrc, fbm_d[2], -1))
    for q in range(P):
        insts += [named(sram(clk, rst, sh_we, sh_wa, sh_wd[q], sh_re, bank_ra[q], bank_rd[q],
                             R * C), f"shadow{q}"),
                  dreg(clk, rst, bank_rd[q], breg[q])]
        insts.append(_bank_addr(q, P, sh_base, sh_xm, bank_ra[q]))
        insts.append(dreg(clk, rst, wsrc[q], wrot[q]))
    tag_d = chain(clk, sh_tag0, 4, chains, "tag")
    wa_d = chain(clk, sh_wa0, 4, chains, "wa")
    xm_d = chain(clk, sh_xm, 3, chains, "xm") if P > 1 else None
    tag3, wa3 = tag_d[3], wa_d[3]
    # read rotator: lane p takes bank (p + x) mod P
    rsrc = list(breg)
    if P > 1:
        rsrc = [sig_s(wt_) for _ in range(P)]
        insts.append(rotate(breg, rsrc, xm_d[2], 1))
    for p in range(P):
        insts.append(dreg(clk, rst, rsrc[p], rot[p]))

    # The write port's enable, address and clear flag are registers, set a cycle ahead
    # from the update's delay line (its stage 2 for the write at stage 3) or from the
    # clear sweep (whose writes land a cycle after their count, the last in F_IDLE's
    # first cycle, when nothing else writes or reads the shadow).
    sh_clr = Signal(bool(0))

    @always_seq(clk.posedge, reset=rst)
    def sh_write():
        sh_clr.next = st == F_CLEAR
        if st == F_CLEAR:
            sh_we.next = cc < RC
            sh_wa.next = cc[SH:]
        else:
            sh_we.next = fv2 and frec2
            sh_wa.next = fsh2

    @always_comb
    def sh_tags():
        g.sh_tag.next = tag3
        g.sh_wa.next = wa3

    insts += [sh_write, sh_tags]
    for q in range(P):
        insts.append(_shadow_wd(sh_clr, wrot[q], sh_wd[q]))

    # ---------------- shadow read requests, fetches and the K-word broadcasts ---------------
    # fetch: PRE - 2, or S - 2 with F valid: the register of lm_fetch_nx (below), which
    # decides it a cycle ahead for the lanes' memories
    fetch, wkfetch = Signal(bool(0)), Signal(bool(0))
    lm_fetch_nx = Signal(bool(0))

    @always_comb
    def requests():
        wkfetch.next = 0
        if pre_m3:
            wkfetch.next = Frec
        if st == F_UPD and u_m3:
            wkfetch.next = Fvalid and Frec

    # The shadow reads, each decided in the cycle before it is issued: the prefetch of the
    # first group's coefficients (pc in 3 .. K+2, pk counting a cycle ahead), the
    # recurrent column of the next slot with its fetch (F holds through the slot), and the
    # next group's coefficients in the first cycle of a slot (that cycle follows an
    # advance, which loads E from F: F stands for E here).
    @always_comb
    def shadow_request():
        pre_re.next = 0
        pre_tag.next = TAG_NONE
        pre_base.next = 0
        pre_xm.next = 0
        pre_wa0.next = 0
        if pre_pf:
            pre_re.next = 1
            pre_tag.next = TAG_PF
            pre_base.next = pkC
            pre_xm.next = pkm
            pre_wa0.next = concat(False, pk[KB:])
        elif (pre_m3 or (st == F_UPD and u_m3 and Fvalid)) \
                and Frec:
            pre_re.next = 1
            pre_tag.next = TAG_TR
            pre_base.next = FbC + Frow
            pre_xm.next = Fbm
        elif advance and fq_jk and fq_rmore:
            pre_re.next = 1
            pre_tag.next = TAG_PF
            pre_base.next = FjC + Frow + P
            pre_xm.next = Fjm
            if Fr[0]:
                pre_wa0.next = concat(False, Fj[KB:])
            else:
                pre_wa0.next = concat(True, Fj[KB:])

    @always_seq(clk.posedge, reset=rst)
    def shadow_request_r():
        sh_re.next = pre_re
        sh_tag0.next = pre_tag
        sh_wa0.next = pre_wa0

    insts += [requests, shadow_request, shadow_request_r]
    insts += [dreg(clk, rst, pre_xm, sh_xm), dreg(clk, rst, pre_base, sh_base)]

    # ---------------- the quantity pipeline's global stages -----------------------------------
    QD = 13  # stages 0 .. 12: the lanes register their own stages 8 and 13 from 7 and 12
    qv0 = Signal(bool(0))
    qa0 = sig_u(clog2(RL))

    @always_comb
    def q_now():
        qv0.next = st == F_UPD
        qa0.next = Eaddr

    insts.append(q_now)
    qv = chain(clk, qv0, QD, chains, "qv")
    qu = chain(clk, u, QD, chains, "qu")
    qa = chain(clk, qa0, QD, chains, "qa")
    qv8, qu8, qu6 = qv[8], qu[8], qu[6]
    qv7, qu7, qa7, qv12, qu12, qa12 = qv[7], qu[7], qa[7], qv[12], qu[12], qa[12]

    @always_comb
    def q_taps():
        g.q7v.next = qv7
        g.q7u.next = qu7
        g.q7a.next = qa7
        g.q12v.next = qv12
        g.q12u.next = qu12
        g.q12a.next = qa12

    insts.append(q_taps)

    @always_comb
    def q_bus():
        g.uv.next = st == F_UPD
        g.er.next = Er[RB:]
        g.eb_out.next = Eb < K
        g.egb.next = Er[0]
        g.zslot.next = Exz
        if Erec:
            g.zslot.next = ydata
        g.fpb.next = fpdata
        g.slot_end.next = (st == F_UPD or st == F_DRAIN) and u == S - 1
        g.gacc_on_nx.next = qv8 and qu8 < K
        g.gacc_first_nx.next = qv8 and qu8 == 0
        if qu6 < K:
            e7_k.next = qu6[KB:]
        else:
            e7_k.next = 0
        if st == F_PRE:
            unext.next = 0
        elif u == S - 1:
            unext.next = 0
        else:
            unext.next = u + 1
        if unext < K:
            unext_k.next = unext[KB:]
        else:
            unext_k.next = 0

    insts.append(q_bus)

    @always_seq(clk.posedge, reset=rst)
    def g_regs():
        g.wkb.next = wkb_sel
        g.fpk.next = fpk_rd
        g.e7.next = ek_rd

    insts.append(g_regs)

    # ---------------- the clear sweep ---------------------------------------------------------
    @always_comb
    def clear_bus():
        g.clr.next = st == F_CLEAR
        g.clr_row.next = st == F_CLEAR and cc < RL
        g.clr_pad.next = st == F_CLEAR and cc < RL and crow == LAST_ROW
        g.clr_ra.next = cc[RLB:]
        g.clr_po.next = st == F_CLEAR and cc < (K << AB)
        g.clr_pa.next = cc[PAB:]
        g.clr_wki.next = st == F_CLEAR and cc < (2 << KB)
        g.clr_fp.next = st == F_CLEAR and cc < (1 << RB)
        g.clr_sa.next = cc

    insts.append(clear_bus)

    # ---------------- host memory port: decode idx -> (i, j) -> (lane, row word) -------------
    hv1, hwe1, hre1 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    hreg1 = sig_u(RGB)
    hidx1 = sig_u(IB)
    hwd1 = sig_s(wt_)
    # every product at its full width, differences at HW; Verilator's lint ignores the
    # names with "unused" (the low bits a constant division drops)
    cmL, cmP = Signal(intbv(mL)[bL:]), Signal(intbv(mP)[bP:])  # constants
    cL, cP = Signal(intbv(L)[bLL:]), Signal(intbv(P)[bPP:])
    hx1 = sig_u(HW)
    insts.append(zext(hidx1, hx1))
    hprod_lo_unused = sig_u(IB + bL)  # idx * mL: only the bits from sL up hold i
    hi3 = sig_u(W3)
    hok3 = Signal(bool(0))
    hil = sig_u(W3 + bLL)
    hip_lo_unused = sig_u(W3 + bP)
    hj5, hr5 = sig_u(HW), sig_u(W5)
    hrp, hrl = sig_u(W5 + bPP), sig_u(W5 + bLL)
    hlane7 = sig_u(HW)
    hsum_hi_unused = sig_u(HW)  # r L + j: the row word, RLB bits of it
    hsum_nx_hi_unused = sig_u(HW)  # its next value (the lanes' read address, a cycle early)
    hilx, hrpx, hrlx, hi6x = sig_u(HW), sig_u(HW), sig_u(HW), sig_u(HW)
    insts += [zext(hil, hilx), zext(hrp, hrpx), zext(hrl, hrlx)]
    haddr6, haddr7 = sig_u(RLB), sig_u(RLB)  # the row word (RLB bits): in H7, a cycle early
    hk6 = sig_u(KB)  # the p_out region's output k, from H6's region
    hkm1_hi_unused = sig_u(RGB)
    hkind8 = sig_u(2)
    # x[n]: the request's field at stage Hn
    hv = [None] + chain(clk, hv1, HOST_STAGES, chains, "hv", 1)
    hwe = [None] + chain(clk, hwe1, 7, chains, "hwe", 1)
    hre = [None] + chain(clk, hre1, HOST_STAGES, chains, "hre", 1)
    hreg = [None] + chain(clk, hreg1, 7, chains, "hreg", 1)
    h_in = Signal(bool(1))  # the index is below N L (a constant 1 when N L = 2**IB)
    if NL < 1 << IB:
        hidx = [None] + chain(clk, hidx1, 2, chains, "hidx", 1)
        insts.append(_below(hidx[2], NL, h_in))
    hx = [None] + chain(clk, hx1, 4, chains, "hx", 1)
    hwd = [None] + chain(clk, hwd1, 7, chains, "hwd", 1)
    hi = [None, None, None] + chain(clk, hi3, 4, chains, "hi", 3)
    hok = [None, None, None] + chain(clk, hok3, 7, chains, "hok", 3)
    hj = [None] * 5 + chain(clk, hj5, 2, chains, "hj", 5)
    hlane = [None] * 7 + chain(clk, hlane7, 3, chains, "hlane", 7)
    hkind = [None] * 8 + chain(clk, hkind8, 2, chains, "hkind", 8)
    hx4, hi6, hj6, hreg7 = hx[4], hi[6], hj[6], hreg[7]
    insts.append(zext(hi6, hi6x))

    hv1_nx = Signal(bool(0))

    @always_comb
    def host_req():
        hv1_nx.next = (m_we or m_re) and st == F_IDLE

    @always_seq(clk.posedge, reset=rst)
    def host():
        # H1: the request (accepted while idle)
        hv1.next = hv1_nx
        hwe1.next = m_we
        hre1.next = m_re
        hreg1.next = m_addr[IB + RGB:IB]
        hidx1.next = m_addr[IB:]
        hwd1.next = m_wdata[wt_:].signed()
        # H2: idx * mL; H3: i = that >> sL
        hprod_lo_unused.next = hidx1 * cmL
        hi3.next = hprod_lo_unused[IB + bL:sL]
        hok3.next = h_in
        # H4: i * L and i * mP; H5: j = idx - i L, r = i // P
        hil.next = hi3 * cL
        hip_lo_unused.next = hi3 * cmP
        hj5.next = hx4 - hilx
        hr5.next = hip_lo_unused[W3 + bP:sP]
        # H6: r P and r L; H7: lane = i - r P, row word = r L + j
        hrp.next = hr5 * cP
        hrl.next = hr5 * cL
        hlane7.next = hi6x - hrpx
        hsum_hi_unused.next = hsum_nx_hi_unused
        # the region's memory: 0 weights, 1 p_out, 2 p_ing, 3 p_egr
        if hreg7 == 0:
            hkind8.next = 0
        elif hreg7 == K + 1:
            hkind8.next = 2
        elif hreg7 == K + 2:
            hkind8.next = 3
        else:
            hkind8.next = 1

    insts += [host_req, host]

    @always_comb
    def host_addr():
        haddr6.next = hsum_nx_hi_unused[RLB:]
        haddr7.next = hsum_hi_unused[RLB:]

    if K > 1:
        insts.append(_region_k(hreg[6], hkm1_hi_unused, hk6, K))
    insts += [host_addr, _pout_addr(hk6, haddr6, g.h_pa_nx, K)]
    hv7, hwe7, hok7, hwd7, hlane9, hv9, hre9, hok9, hkind9 = (
        hv[7], hwe[7], hok[7], hwd[7], hlane[9], hv[9], hre[9], hok[9], hkind[9])

    @always_comb
    def host_bus():
        g.h_we.next = hv7 and hwe7 and hok7 and hreg7 == 0
        g.h_lane.next = hlane7
        g.h_addr.next = haddr7
        g.h_wd.next = hwd7
        g.h9_lane.next = hlane9
        g.h9_re.next = hv9 and hre9 and hok9
        g.h9_kind.next = hkind9

    insts.append(host_bus)
    # host_busy: a request is in H1 .. H9. A register, set from H1's next value and
    # H1 .. H8 (the OR of ten stages ahead of the stream's handshake was a critical path).
    host_busy, busy_nx = Signal(bool(0)), Signal(bool(0))
    rd_or = sig_s(max(wt_, pt))
    insts.append(_or_reduce(rd_l, rd_or))
    insts += [_any([hv1_nx] + hv[1:HOST_STAGES], busy_nx), dreg(clk, rst, busy_nx, host_busy)]

    # Whether, and where, the lanes' weight/ingress/egress port reads in the next cycle
    # (each lane registers both, lcp_re and lcp_ra: one broadcast address would be routed
    # to every lane's memories; at N = 100 it was the clock's critical path): the step's
    # first or a further forward cycle (faddr's next value), the fetch (PRE - 2, or S - 2:
    # F stands still from the slot's start to its end), or a host read in H7 (its row
    # word, from H6; host requests are taken while idle and a step waits for them).
    hv6, hre6, hok6 = hv[6], hre[6], hok[6]
    lm_fwd_nx = Signal(bool(0))

    @always_comb
    def host_next():
        # H6's read (every lane's p_out reads in H7) and its row word
        g.po_re_nx.next = hv6 and hre6 and hok6
        hsum_nx_hi_unused.next = hrlx + hj6

    @always_comb
    def lm_port_next():
        lm_fwd_nx.next = ((st == F_IDLE and not clear and s_valid and not host_busy)
                       or (st == F_FWD and not f_init))
        lm_fetch_nx.next = pre_m3 or (st == F_UPD and u_m3 and Fvalid)

    @always_comb
    def lm_re_next():
        g.lm_re_nx.next = lm_fwd_nx or lm_fetch_nx or g.po_re_nx
        if lm_fwd_nx:
            if st == F_IDLE or faddr == RL - 1:
                g.lm_ra_nx.next = 0
            else:
                g.lm_ra_nx.next = faddr + 1
        elif lm_fetch_nx:
            g.lm_ra_nx.next = Faddr
        else:
            g.lm_ra_nx.next = hsum_nx_hi_unused[RLB:]

    insts += [host_next, lm_port_next, lm_re_next, dreg(clk, rst, lm_fetch_nx, fetch)]

    @always(clk.posedge)
    def host_out():
        if rst:
            m_rvalid.next = 0
        else:
            m_rvalid.next = hv9 and hre9 and hok9

    @always_comb
    def host_data():
        m_rdata.next = rd_or

    insts += [host_out, host_data]

    # ---------------- y, f', e: the activation unit (one neuron a cycle) ----------------------
    aq = [sig_s(dp) for _ in range(P)]
    aqn = sig_u(cb)
    aq_load, aq_shift = Signal(bool(0)), Signal(bool(0))
    zero_dp = sig_s(dp)
    for q in range(P):
        insts.append(_aq_stage(clk, rst, aq_load, aq_shift, s_acc[q],
                               aq[q + 1] if q + 1 < P else zero_dp, aq[q]))
    aq0 = aq[0]
    ai, ail, air = sig_u(cb), sig_u(cb), sig_u(cb)
    lbits, lsh = f.lut_bits, f.lut_shift
    half = 1 << (lbits - 1)
    LMAX = (1 << lbits) - 1
    LB1 = lbits - 1
    # The table as a read-only memory: MyHDL writes it as an initialised array, which
    # Icarus indexes directly; a tuple would be a 2**lut_bits-way case statement, which
    # Icarus compares entry by entry on every clock edge (a fifth of an N=15 run's time).
    lo, hi = -(1 << (at - 1)), 1 << (at - 1)
    act_rom = [Signal(intbv(int(v), min=lo, max=hi)) for v in build_lut(f)]
    a1_v = Signal(bool(0))
    a1_i, a1_l, a1_r = sig_u(cb), sig_u(cb), sig_u(cb)
    a_v = [None] + chain(clk, a1_v, 7, chains, "av", 1)
    a_i = [None] + chain(clk, a1_i, 7, chains, "ai", 1)
    a_l = [None] + chain(clk, a1_l, 7, chains, "al", 1)
    a_r = [None] + chain(clk, a1_r, 7, chains, "ar", 1)
    a3_v, a7_v, a3_i, a7_i, a7_l, a7_r = a_v[3], a_v[7], a_i[3], a_i[7], a_l[7], a_r[7]
    a1_idx = sig_u(lbits)
    a2_y, a3_y, a4_y, a5_y, a6_y, a7_y = (sig_s(at) for _ in range(6))
    n_m2 = sig_s(at + 1)
    a3_yx = sig_s(at + 1)
    insts.append(sext(a3_y, a3_yx, SX))
    a5_prod = sig_s(2 * at + 2)  # the full width of two (A.total + 1)-bit operands
    a4_ed = sig_s(at + 1)
    a5_e, a6_e, a7_e = sig_s(at), sig_s(at), sig_s(at)
    a5_eev, a6_eev, a7_eev = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    a6_rr = sig_s(2 * at + 2)
    a6_fr = sig_s(dp)
    a7_fp = sig_s(at)
    a7_fev = Signal(bool(0))
    # A7's f' saturated, before its register
    a7_sat, a7_sev = sig_s(at), Signal(bool(0))
    insts.append(named(_saturate(a6_fr, a7_sat, a7_sev, AMIN, AMAX), "a7_sat"))
    ts = sig_s(dp)
    dn = sig_s(at)

    a6_rx = sig_s(dp)

    @always_comb
    def act_fp():
        if TANH:
            a6_fr.next = ONE - a6_rx
        else:
            a6_fr.next = a6_rx

    @always_comb
    def act_m2():
        if TANH:
            n_m2.next = a3_yx
        else:
            n_m2.next = ONE - a3_yx

    insts += [act_fp, act_m2, sext(a6_rr, a6_rx, SX),
              named(dsp_mul(clk, rst, a3_yx, n_m2, a5_prod), "mul_fp")]

    @always_comb
    def act_in():
        ts.next = aq0 >> lsh
        dn.next = dsh[at:].signed()
        aq_load.next = fv5 and flast5
        aq_shift.next = aqn > 0

    @always_seq(clk.posedge, reset=rst)
    def act():
        # the queue: a group's P sums, one out a cycle
        if aq_load:
            if frow5 + P <= N:
                aqn.next = P
            else:
                aqn.next = N - frow5
        elif aqn > 0:
            aqn.next = aqn - 1
        a1_v.next = aqn > 0
        a1_i.next = ai
        a1_l.next = ail
        a1_r.next = air
        if aqn > 0:
            ai.next = ai + 1
            if ail == P - 1:
                ail.next = 0
                air.next = air + 1
            else:
                ail.next = ail + 1
        if st == F_IDLE:
            ai.next = 0
            ail.next = 0
            air.next = 0
        # A1: the table index
        if ts < -half:
            a1_idx.next = 0
        elif ts >= half:
            a1_idx.next = LMAX
        else:
            a1_idx.next = concat(not ts[LB1], ts[LB1:])
        # A2: the table (block RAM), A3: its output registered (nothing between the block
        # RAM and the register: the DP16KD's clock-to-output is long)
        a2_y.next = act_rom[a1_idx]
        a3_y.next = a2_y
        # A4: operands of f' (the DSP's input registers) and the error's difference
        a4_y.next = a3_y
        a4_ed.next = dn - a3_y
        # A5: the product (the DSP's output register); the error saturated
        a5_y.next = a4_y
        if a4_ed > AMAX:
            a5_e.next = AMAX
            a5_eev.next = 1
        elif a4_ed < AMIN:
            a5_e.next = AMIN
            a5_eev.next = 1
        else:
            a5_e.next = a4_ed[at:].signed()
            a5_eev.next = 0
        # A6: rounded; A7: f' saturated
        a6_rr.next = (a5_prod >> af) + a5_prod[AF1]  # same width: see e6_r
        a6_y.next = a5_y
        a6_e.next = a5_e
        a6_eev.next = a5_eev
        a7_fp.next = a7_sat
        a7_fev.next = a7_sev
        a7_y.next = a6_y
        a7_e.next = a6_e
        a7_eev.next = a6_eev

    insts += [act_in, act]

    @always_comb
    def act_out():
        y_we.next = a7_v or st == F_CLEAR
        fpm_we.next = a7_v or st == F_CLEAR
        kf_we.next = (a7_v and a7_i < K) or (st == F_CLEAR and cc < (1 << KB))
        if st == F_CLEAR:
            y_wa.next = cc[YB + 1:]
            fpm_wa.next = cc[YB:]
            kf_wa.next = cc[KB:]
            y_wd.next = 0
            fpm_wd.next = 0
            kf_fpd.next = 0
            kf_ed.next = 0
        else:
            y_wa.next = concat(not ypar, a7_i[YB:])
            fpm_wa.next = a7_i[YB:]
            kf_wa.next = a7_i[KB:]
            y_wd.next = a7_y
            fpm_wd.next = a7_fp
            kf_fpd.next = a7_fp
            kf_ed.next = a7_e
        g.a7_fpwe.next = a7_v
        g.a7_lane.next = a7_l
        g.a7_r.next = a7_r[RB:]
        g.a7_fp.next = a7_fp
        # reads: z of the forward pass and of the update's slot, f' of the slot's column
        if st == F_FWD:
            y_re.next = 1
            y_ra.next = concat(ypar, fb[YB:])
        else:
            y_re.next = fetch
            y_ra.next = concat(ypar, Fb[YB:])
        fpm_re.next = fetch
        fpm_ra.next = Fb[YB:]
        wkb_re.next = wkfetch
        wkb_ra.next = Fb[YB:]

    insts.append(act_out)

    zfwd_n, zfwd_x = sig_s(at), sig_s(max(pt, at))

    @always_comb
    def zfwd_f():
        if frec1:
            zfwd_n.next = y_rd
        else:
            zfwd_n.next = zx1

    insts += [zfwd_f, sext(zfwd_n, zfwd_x, SX), dreg(clk, rst, zfwd_x, g.zfwd)]

    # ---------------- the controller -------------------------------------------------------------
    evsum = sig_u(clog2(3 * P + 3) + 1)
    evl = sig_u(len(evsum))
    allones = Signal(intbv((1 << COUNTER_BITS) - 1)[COUNTER_BITS:])
    XMAX = M  # the bias column: z = ONE
    XFIRST = ONE  # z of column 0 when M = 0 (the bias)

    @always_comb
    def events():
        # only a valid slot counts: between steps the error stage still subtracts whatever
        # the sample inputs hold (through the AXI shell, beats shifting in), and such a
        # difference past A counted a saturation (found by the sens_bounds run's input
        # A.min going by)
        if not a7_v:
            evl.next = 0
        elif a7_fev and a7_eev and a7_i < K:
            evl.next = 2
        elif a7_fev or (a7_eev and a7_i < K):
            evl.next = 1
        else:
            evl.next = 0

    ev32 = sig_u(COUNTER_BITS)
    insts += [events, _sum_into(clk, rst, ev_l, evl, evsum), zext(evsum, ev32)]

    @always_comb
    def fj_next():
        fj_nx.next = fj
        if st == F_FWD:
            if fj_last:
                fj_nx.next = 0
            else:
                fj_nx.next = fj + 1

    @always_seq(clk.posedge, reset=rst)
    def fj_flags():
        fj_z.next = fj_nx == 0
        fj_last.next = fj_nx == L - 1
        fj_rec.next = fj_nx > M

    insts += [fj_next, fj_flags]
    if M > 0:  # (else the column is never an input: fj_x stays 0)

        @always_seq(clk.posedge, reset=rst)
        def fj_input():
            fj_x.next = fj_nx < M

        insts.append(fj_input)

    @always(clk.posedge)
    def ctrl():
        if rst:
            st.next = F_CLEAR
            cc.next = 0
            crow.next = 0
            ccj.next = 0
            u.next = 0
            learn_r.next = 0
            lr_r.next = 0
            ghalf.next = 0
            dsh.next = 0
            ypar.next = 0
            r_valid.next = 0
            step_count.next = 0
            sat_count.next = 0
            fr.next = 0
            fj.next = 0
            faddr.next = 0
            frow.next = 0
            frc.next = 0
            fb.next = 0
            fbm.next = 0
            fxsh.next = 0
            pc.next = 0
            dc.next = 0
            pk.next = 0
            pkm.next = 0
            pkC.next = 0
        else:
            r_valid.next = 0
            fj.next = fj_nx
            u.next = u_nx  # (u_next: 0 at the update's start and at a slot's end, else +1)
            if ev32 > ~sat_count:
                sat_count.next = allones
            else:
                sat_count.next = sat_count + ev32
            # 2**(GB + lr - 1), 0 for GB + lr = 0: a decode of lr alone
            ghalf.next = (hbase << lr_r) >> 1
            if a3_v and a3_i < K:  # d_i is read in the cycle of A3
                dsh.next = dsh >> at
            if st == F_IDLE:
                # The step's inputs and start pointers are loaded in every idle cycle, so
                # the handshake's cycle loads them too, and its decode (the shell's stream
                # flags and the core's state) drives the state register alone, not the
                # enable of every input register (fj is 0 here: FWD ends by wrapping it).
                fr.next = 0
                faddr.next = 0
                frow.next = 0
                frc.next = 0
                fb.next = 0
                fbm.next = 0
                dsh.next = s_d
                learn_r.next = learn
                lr_r.next = lr_shift
                if clear:
                    st.next = F_CLEAR
                    cc.next = 0
                    crow.next = 0
                    ccj.next = 0
                elif s_valid and not host_busy:
                    st.next = F_FWD
            elif st == F_CLEAR:
                step_count.next = 0
                sat_count.next = 0
                cc.next = cc + 1
                if ccj == L - 1:
                    ccj.next = 0
                    crow.next = crow + P
                else:
                    ccj.next = ccj + 1
                if cc == CLR - 1:
                    st.next = F_IDLE
            elif st == F_FWD:
                if faddr == RL - 1:
                    faddr.next = 0
                else:
                    faddr.next = faddr + 1
                if fj_z:
                    fxsh.next = xs >> at
                else:
                    fxsh.next = fxsh >> at
                if not fj_rec:
                    fb.next = 0
                    fbm.next = 0
                else:
                    fb.next = fb + 1
                    if fbm == P - 1:
                        fbm.next = 0
                    else:
                        fbm.next = fbm + 1
                if fj_last:
                    fr.next = fr + 1
                    frow.next = frow + P
                    frc.next = frc + C
                    fb.next = 0
                    fbm.next = 0
                    if fr_last:
                        st.next = F_PRE
                        pc.next = 0
                        pk.next = 0
                        pkm.next = 0
                        pkC.next = 0
            elif st == F_PRE:
                pc.next = pc + 1
                if pc >= 2 and pc < 2 + K:
                    pk.next = pk + 1
                    if pkm == P - 1:
                        pkm.next = 0
                        pkC.next = pkC + C
                    else:
                        pkm.next = pkm + 1
                if pc == PRE - 1:
                    st.next = F_UPD
            elif st == F_UPD:
                if u == S - 1 and Elast:
                    st.next = F_DRAIN
                    dc.next = 0
            elif st == F_DRAIN:
                dc.next = dc + 1
                if dc == DR - 1:
                    st.next = F_DONE
            elif st == F_DONE:
                st.next = F_IDLE
                r_valid.next = 1
                step_count.next = step_count + 1
                ypar.next = not ypar

    x_more = Signal(bool(0))  # the next column is an input (constant 0 when M = 0)
    if M > 1:
        insts.append(_below(Fj, M - 1, x_more))

    # Compares of the F pointer (and fr == R - 1), registered from the pointers' current
    # values: a cycle late, so valid wherever the pointers have stood still a cycle. Their
    # readers act at an advance (at least S >= 3 cycles after the pointers last moved, or
    # PRE cycles after f_init) or at FWD's column wrap (L >= 2 cycles after fr moved).
    # (fq_*, fr_last: declared with the pointers)

    @always_seq(clk.posedge, reset=rst)
    def f_flags():
        fq_jlast.next = Fj == L - 1
        fq_jlem.next = Fj + 1 <= M + 1
        fq_jgtm.next = Fj + 1 > M
        fq_bmlast.next = Fbm == P - 1
        fq_jmlast.next = Fjm == P - 1
        fq_xmax.next = Fj + 1 == XMAX
        fq_rmore.next = Fr + 1 < R
        fq_rlast.next = Fr == R - 1
        fq_alast.next = Faddr == RL - 1
        fq_jk.next = Fj < K
        fr_last.next = fr == R - 1

    @always_comb
    def adv_f():
        advance.next = pre_last or (st == F_UPD and u_wrap and not Elast)
        f_init.next = st == F_FWD and fj_last and fr_last

    @always_comb
    def erec_next():
        g.erec_nx.next = Frec if advance else Erec

    insts.append(erec_next)

    @always(clk.posedge)
    def pointers():
        if rst:
            Er.next = 0
            Eaddr.next = 0
            Erow.next = 0
            Eb.next = 0
            Erec.next = 0
            Elast.next = 0
            Exz.next = 0
            Fr.next = 0
            Fj.next = 0
            Faddr.next = 0
            Frow.next = 0
            Fb.next = 0
            Fbm.next = 0
            FbC.next = 0
            Fjm.next = 0
            FjC.next = 0
            Frec.next = 0
            Fvalid.next = 0
            Fxz.next = 0
            Fxsh.next = 0
        elif f_init:  # F: the first slot
            Fr.next = 0
            Fj.next = 0
            Faddr.next = 0
            Frow.next = 0
            Fjm.next = 0
            FjC.next = 0
            Fb.next = 0
            Fbm.next = 0
            FbC.next = 0
            Frec.next = M + 1 <= 0
            Fvalid.next = 1
            Fxsh.next = xs >> at
            Fxz.next = XFIRST
            if M > 0:
                Fxz.next = xs[at:].signed()
        elif advance:
            Er.next = Fr
            Eaddr.next = Faddr
            Erow.next = Frow
            Eb.next = Fb
            Erec.next = Frec
            Exz.next = Fxz
            Elast.next = fq_rlast and fq_jlast
            if fq_alast:
                Faddr.next = 0
            else:
                Faddr.next = Faddr + 1
            if fq_jlast:
                Fj.next = 0
                Fr.next = Fr + 1
                Frow.next = Frow + P
                Fjm.next = 0
                FjC.next = 0
                Fb.next = 0
                Fbm.next = 0
                FbC.next = 0
                Frec.next = M + 1 <= 0
                Fvalid.next = fq_rmore
                Fxsh.next = xs >> at
                Fxz.next = XFIRST
                if M > 0:
                    Fxz.next = xs[at:].signed()
            else:
                Fj.next = Fj + 1
                if fq_jmlast:
                    Fjm.next = 0
                    FjC.next = FjC + C
                else:
                    Fjm.next = Fjm + 1
                Frec.next = fq_jgtm
                if fq_jlem:
                    Fb.next = 0
                    Fbm.next = 0
                    FbC.next = 0
                else:
                    Fb.next = Fb + 1
                    if fq_bmlast:
                        Fbm.next = 0
                        FbC.next = FbC + C
                    else:
                        Fbm.next = Fbm + 1
                if x_more:
                    Fxz.next = Fxsh[at:].signed()
                    Fxsh.next = Fxsh >> at
                elif fq_xmax:
                    Fxz.next = ONE

    @always_comb
    def outs():
        s_ready.next = st == F_IDLE and not host_busy
        busy.next = st != F_IDLE
        x_idle.next = st == F_IDLE

    if M > 0:
        insts.append(_load(clk, rst, x_idle, s_x, xs))
    else:  # the 1-bit s_x of M = 0 is ignored (latched where nothing reads it)
        insts.append(_ignore(clk, rst, x_idle, s_x, sig_u(1)))

    # the results: y of every neuron and e of the outputs, shifted in as computed
    e_in = Signal(bool(0))

    @always_comb
    def e_in_f():
        e_in.next = a7_v and a7_i < K

    insts += [e_in_f, _shift_in(clk, rst, a7_v, a7_y, r_y, N, at),
              _shift_in(clk, rst, e_in, a7_e, r_e, K, at)]
    insts += [ctrl, f_flags, adv_f, pointers, outs]
    for sigs, cname, start in chains:
        line = _delay_line(clk, rst, sigs, start)
        insts.append(named(line, cname) if cname else line)
    return insts


@block
def _slot_reg(clk, rst, en, src, dst):
    @always_seq(clk.posedge, reset=rst)
    def slot_reg_f():
        if en:
            dst.next = src

    return slot_reg_f


@block
def _shift_in(clk, rst, en, val, reg, n, w):
    """``reg`` holds ``n`` words of ``w`` bits; ``val`` enters at the top, so the first
    word in ends at the bottom after ``n`` entries."""
    top = n * w
    if n > 1:

        @always(clk.posedge)
        def shift_in_f():
            if rst:
                reg.next = 0
            elif en:
                reg.next = concat(val[w:], reg[top:w])

    else:

        @always(clk.posedge)
        def shift_in_f():
            if rst:
                reg.next = 0
            elif en:
                reg.next = val[w:]

    return shift_in_f


@block
def _pout_addr(k, row, dst, K):
    """A lane's ``p_out`` address: output ``k`` above the row word (``K = 1``: the row word)."""
    kb = clog2(K)
    if K > 1:

        @always_comb
        def pout_addr_f():
            dst.next = concat(k[kb:], row)

    else:

        @always_comb
        def pout_addr_f():
            dst.next = row

    return pout_addr_f


@block
def _region_k(region, tmp_unused, k, K):
    """``k = region - 1`` for a ``p_out`` region ``1 .. K``, else 0."""
    kb = len(k)

    @always_comb
    def region_k_f():
        if region >= 1 and region <= K:
            tmp_unused.next = region - 1
        else:
            tmp_unused.next = 0

    @always_comb
    def region_k_cut():
        k.next = tmp_unused[kb:]

    return region_k_f, region_k_cut


@block
def _load(clk, rst, en, src, dst):
    @always_seq(clk.posedge, reset=rst)
    def load_f():
        if en:
            dst.next = src

    return load_f


@block
def _ignore(clk, rst, en, src, src_unused):
    """``src`` latched into a register nothing reads (a port the design ignores)."""

    @always_seq(clk.posedge, reset=rst)
    def ignore_f():
        if en:
            src_unused.next = src

    return ignore_f


@block
def _weight_update(clk, rst, dw, wold, w_new, ev, wmin, wmax):
    """``W + dW`` (W2, a register) and ``sat_W`` of it (``w_new``, the event ``ev``:
    logic behind that register, taken by W3), for ``dW`` as wide as the gradient sum and
    ``W = wold`` (format W, sign-extended by 2 bits).

    W2 adds in ``W.total + 2`` bits (``w2_sum``), exact when ``dW`` fits ``W.total + 1``
    bits; when it does not (``w2_big``, registered beside the sum), ``|W| <=
    2**(W.total - 1)`` puts ``W + dW`` beyond the clamp on ``dW``'s side (``w2_neg``). So
    the clamp compares a ``W.total + 2``-bit sum, not one as wide as the gradient."""
    dp, wt_ = len(dw), len(w_new)
    w1_n, w2_sum = sig_s(wt_ + 2), sig_s(wt_ + 2)
    w2_full_unused = sig_s(wt_ + 3)  # the sum modulo 2**(wt_ + 2) is w2_sum (w2_big aside)
    w1_hi = sig_s(dp - wt_)  # bits dp-1 .. wt_ of dW: all 0 or all 1 when it fits
    w2_big, w2_neg = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def w1_narrow():
        w1_n.next = dw[wt_ + 2:].signed()
        w1_hi.next = dw[dp:wt_].signed()

    @always_comb
    def w2_add():
        w2_full_unused.next = wold + w1_n

    @always_seq(clk.posedge, reset=rst)
    def w2():
        w2_sum.next = w2_full_unused[wt_ + 2:].signed()
        w2_big.next = not (w1_hi == 0 or w1_hi == -1)
        w2_neg.next = dw[dp - 1]

    @always_comb
    def w3_sat():
        if w2_big:
            if w2_neg:
                w_new.next = wmin
            else:
                w_new.next = wmax
            ev.next = 1
        elif w2_sum > wmax:
            w_new.next = wmax
            ev.next = 1
        elif w2_sum < wmin:
            w_new.next = wmin
            ev.next = 1
        else:
            w_new.next = w2_sum[wt_:].signed()
            ev.next = 0

    return w1_narrow, w2_add, w2, w3_sat


@block
def _fit_flags(clk, rst, src, shift, t_z, t_m1, t_m2, carry, w):
    """Registered beside ``rshift_round(src, shift)``: the flags that tell, one stage
    later, whether the rounded value fits ``w`` bits (``_saturate_fit``).

    The rounded value's bits from bit ``w - 1`` up are ``t + carry``: ``t`` those bits of
    ``src >> shift``, ``carry`` the rounding's carry into them (the rounding bit, with
    every bit of ``src >> shift`` below them set). The flags say whether ``t`` is 0, -1 or
    -2; the value fits when ``t + carry`` is 0 or -1. They are computed beside the
    rounding's adder, so the saturation behind it is one LUT level instead of a test of
    the whole top."""
    sw = len(src)
    assert 0 < w < sw - shift
    tb = sw - w + 1  # bits from w - 1 up
    s1 = max(shift - 1, 0)
    sh, nt, nlo = sig_s(sw), sig_u(tb), sig_u(w - 1)

    @always_comb
    def fit_shift():
        sh.next = src >> shift

    @always_comb
    def fit_parts():
        nt.next = ~sh[sw:w - 1]  # t == -1 and t == -2 as nt == 0 and nt == 1
        nlo.next = ~sh[w - 1:]

    @always_seq(clk.posedge, reset=rst)
    def fit_regs():
        if shift > 0:
            carry.next = src[s1] and nlo == 0
        else:
            carry.next = 0
        t_z.next = sh[sw:w - 1] == 0
        t_m1.next = nt == 0
        t_m2.next = nt == 1

    return fit_shift, fit_parts, fit_regs


@block
def _saturate_fit(src, t_z, t_m1, t_m2, carry, dst, ev, lo, hi):
    """``dst = src`` clamped to ``lo .. hi`` (``dst``'s limits), ``ev = 1`` when it clamps,
    from ``_fit_flags``'s flags: one LUT level (the flags, the sign, the bit) to the next
    multiplier's input."""
    fits = Signal(bool(0))

    @always_comb
    def fit_f():
        if carry:
            fits.next = t_m1 or t_m2
        else:
            fits.next = t_m1 or t_z

    return fit_f, _clamp(src, fits, dst, ev, lo, hi)


@block
def _saturate(src, dst, ev, lo, hi):
    """``dst = src`` clamped to ``lo .. hi`` (``dst``'s format), ``ev = 1`` when it clamps.

    The bounds are ``dst``'s own limits, so ``src`` fits exactly when its bits from
    ``dst``'s sign bit up are all equal: a test of those bits (a few LUT levels) instead of
    two compares of the whole word (carry chains) on the path to the next multiplier."""
    w, sw = len(dst), len(src)
    top, ntop = sig_u(sw - w + 1), sig_u(sw - w + 1)
    fits = Signal(bool(0))

    @always_comb
    def saturate_top():
        top.next = src[sw:w - 1]
        ntop.next = ~src[sw:w - 1]

    @always_comb
    def saturate_fits():
        fits.next = top == 0 or ntop == 0

    return saturate_top, saturate_fits, _clamp(src, fits, dst, ev, lo, hi)


@block
def _clamp(src, fits, dst, ev, lo, hi):
    """``dst = src`` when ``fits``, else the bound on ``src``'s side; ``ev = 1`` when it
    clamps. The bounds are ``dst``'s own limits."""
    w, sw = len(dst), len(src)
    assert lo == -(1 << (w - 1)) and hi == (1 << (w - 1)) - 1 and sw > w

    # (an unknown src or fits takes the else branch in Verilog: it stays unknown, as the
    # two compares of the whole word left it, so an uninitialised read is not turned into
    # a bound)
    @always_comb
    def clamp_f():
        if not fits:
            ev.next = 1
            if src[sw - 1]:
                dst.next = lo
            else:
                dst.next = hi
        else:
            dst.next = src[w:].signed()
            ev.next = 0

    return clamp_f


@block
def _below(x, bound, dst):
    """``dst = x < bound`` (``bound >= 0``)."""

    @always_comb
    def below_f():
        dst.next = x < bound

    return below_f


@block
def _aq_stage(clk, rst, load, shift, src, nxt, dst):
    @always_seq(clk.posedge, reset=rst)
    def aq_stage_f():
        if load:
            dst.next = src
        elif shift:
            dst.next = nxt

    return aq_stage_f


@block
def _wkb_port(k, P, clr, cc, fv2, frec2, fr2, wd, we, wdat, depth):
    """Bank ``k`` of the output rows' weights: lane ``k mod P`` writes its row ``k``."""
    grp = k // P

    @always_comb
    def wkb_port_f():
        if clr:
            we.next = cc < depth
            wdat.next = 0
        else:
            we.next = fv2 and frec2 and fr2 == grp
            wdat.next = wd

    return wkb_port_f


@block
def _bank_addr(q, P, base, xm, addr):
    """Bank ``q`` reads the entry of column offset ``(q - x) mod P`` of the request."""
    full_hi_unused = sig_u(len(base))
    nb = len(addr)
    off = sig_u(len(xm))

    @always_comb
    def bank_offset():
        if q >= xm:
            off.next = q - xm
        else:
            off.next = q + P - xm

    @always_comb
    def bank_addr_f():
        full_hi_unused.next = base + off

    @always_comb
    def bank_addr_cut():
        addr.next = full_hi_unused[nb:]

    return bank_offset, bank_addr_f, bank_addr_cut


@block
def _shadow_wd(clr, src, dst):
    @always_comb
    def shadow_wd_f():
        if clr:
            dst.next = 0
        else:
            dst.next = src

    return shadow_wd_f


@block
def _pass(a, d):
    @always_comb
    def pass_f():
        d.next = a

    return pass_f


@block
def _or2(a, b, d):
    @always_comb
    def or2_f():
        d.next = a | b

    return or2_f


@block
def _either(a, b, d):
    @always_comb
    def either_f():
        d.next = a or b

    return either_f


@block
def _add2(a, b, d):
    @always_comb
    def add2_f():
        d.next = a + b

    return add2_f


@block
def _or_reduce(srcs, dst):
    """``dst`` = the bitwise OR of ``srcs`` (all but one are zero: the lanes' read data)."""
    stages = [sig_s(len(dst)) for _ in range(len(srcs) - 1)] + [dst]
    insts = [_pass(srcs[0], stages[0])]
    for q in range(1, len(srcs)):
        insts.append(_or2(stages[q - 1], srcs[q], stages[q]))
    return insts


@block
def _any(srcs, dst):
    """``dst`` = any of ``srcs`` (one-bit signals)."""
    stages = [Signal(bool(0)) for _ in range(len(srcs) - 1)] + [dst]
    insts = [_pass(srcs[0], stages[0])]
    for q in range(1, len(srcs)):
        insts.append(_either(stages[q - 1], srcs[q], stages[q]))
    return insts


@block
def _sum_into(clk, rst, srcs, extra, dst):
    """``dst`` (registered) = ``extra`` + the sum of ``srcs``."""
    n = len(srcs)
    parts = [sig_u(len(dst)) for _ in range(n)]
    wide = [sig_u(len(dst)) for _ in range(n)]
    extra_w = sig_u(len(dst))
    insts = [zext(extra, extra_w)]
    for q in range(n):
        insts.append(zext(srcs[q], wide[q]))
    insts.append(_add2(extra_w, wide[0], parts[0]))
    for q in range(1, n):
        insts.append(_add2(parts[q - 1], wide[q], parts[q]))
    insts.append(dreg(clk, rst, parts[n - 1], dst))
    return insts
