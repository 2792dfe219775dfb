"""The bus shell: AXI4-Stream samples in, AXI4-Stream results out, AXI4-Lite registers.

``trtrl_axi`` wraps the learning core (:func:`trtrl.rtl.folded.trtrl_array`) and drives
only the core's own interface (``rtl/README.md``, "Core interface"), so another core with
that interface drops in unchanged. One clock ``aclk``; ``aresetn`` is synchronous and
active low. Every address comes from the register map (:mod:`trtrl.rtl.regmap`).

- **Samples** (``s_axis_*``): one packet per learning step, ``M + K`` beats
  ``x_0 .. x_{M-1}, d_0 .. d_{K-1}``, each word in format A in the low bits of ``TDATA``
  (``A.total`` rounded up to bytes), ``TLAST`` on the last beat, ``TUSER[0]`` of the last
  beat the step's learn flag when ``CONTROL.LEARN_FROM_TUSER`` is set. A packet whose
  ``TLAST`` is not on beat ``M + K``, or with a beat whose ``TDATA`` is not a
  sign-extended format-A word, is dropped and counted (``FRAME_ERRORS``). The next
  sample is taken while the core runs a step (the core latches ``x`` and ``d``).
- **Results** (``m_axis_*``): one packet per step, ``N + K`` beats ``y_0 .. y_{N-1},
  e_0 .. e_{K-1}`` (format A, sign-extended), ``TLAST`` on the last. ``TREADY`` is
  honoured: a result waits in the shell's buffer while the next step runs, and the core
  keeps the one after it in its own output registers; a third step does not start until
  the buffer has been sent, so a stalled sink stalls the array and no result is dropped
  or sent twice.
- **Registers and memories** (``s_axil_*``): one transaction at a time, writes first. A
  memory access waits until the core is idle, and no step or clear starts while one
  waits; see :mod:`trtrl.rtl.regmap` for the map and the error responses.
"""

from __future__ import annotations

from myhdl import ResetSignal, Signal, always, always_comb, always_seq, block, concat, intbv

from trtrl.pymodel.errors import ConfigError
from trtrl.rtl.blocks import sext, sig_s, sig_u
from trtrl.rtl.config import AXI_TOP, ArrayConfig, clog2
from trtrl.rtl.regmap import RESP, RegisterMap, register_map

__all__ = ["AXI_TOP", "axi_ports", "stream_bits", "trtrl_axi"]

# AXI4-Lite slave states (one transaction at a time)
# L_WPRE and L_RPRE register the address decode (a cycle each way): the decode's compares
# and the response multiplexer are then on separate register-to-register paths.
L_IDLE, L_WDEC, L_WMEM, L_BRESP, L_RDEC, L_RMEM, L_RWAIT, L_RRESP, L_WPRE, L_RPRE = range(10)


def stream_bits(cfg: ArrayConfig) -> int:
    """``TDATA`` width of both streams: format A's total, rounded up to whole bytes."""
    return 8 * -(-cfg.fixed.act.total // 8)


def axi_ports(cfg: ArrayConfig) -> dict[str, int]:
    """Port widths of ``trtrl_axi``, in port-list order."""
    rmap = register_map(cfg)
    tw, aw = stream_bits(cfg), rmap.addr_bits
    return {
        "aclk": 1, "aresetn": 1,
        "s_axis_tdata": tw, "s_axis_tvalid": 1, "s_axis_tready": 1, "s_axis_tlast": 1,
        "s_axis_tuser": 1,
        "m_axis_tdata": tw, "m_axis_tvalid": 1, "m_axis_tready": 1, "m_axis_tlast": 1,
        "s_axil_awaddr": aw, "s_axil_awvalid": 1, "s_axil_awready": 1,
        "s_axil_wdata": 32, "s_axil_wstrb": 4, "s_axil_wvalid": 1, "s_axil_wready": 1,
        "s_axil_bresp": 2, "s_axil_bvalid": 1, "s_axil_bready": 1,
        "s_axil_araddr": aw, "s_axil_arvalid": 1, "s_axil_arready": 1,
        "s_axil_rdata": 32, "s_axil_rresp": 2, "s_axil_rvalid": 1, "s_axil_rready": 1,
    }  # fmt: skip


def make_axi_ports(cfg: ArrayConfig) -> dict[str, Signal]:
    sig: dict[str, Signal] = {}
    for name, width in axi_ports(cfg).items():
        sig[name] = Signal(bool(0)) if width == 1 else sig_u(width)
    sig["aresetn"] = ResetSignal(1, active=0, isasync=False)
    return sig


@block
def trtrl_axi(aclk, aresetn,
              s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast, s_axis_tuser,
              m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast,
              s_axil_awaddr, s_axil_awvalid, s_axil_awready,
              s_axil_wdata, s_axil_wstrb, s_axil_wvalid, s_axil_wready,
              s_axil_bresp, s_axil_bvalid, s_axil_bready,
              s_axil_araddr, s_axil_arvalid, s_axil_arready,
              s_axil_rdata, s_axil_rresp, s_axil_rvalid, s_axil_rready,
              cfg, core=None):
    """The AXI top level (ports: :func:`axi_ports`); ``cfg`` is an :class:`ArrayConfig`.

    ``core`` is the block the shell drives through the core interface (the learning core
    by default; the shell's own tests put a behavioural stand-in there)."""
    rmap: RegisterMap = register_map(cfg)
    N, M, K = cfg.n, cfg.m, cfg.k
    A = cfg.fixed.act.total
    WT = cfg.fixed.weight.total
    DB = cfg.data_bits
    TW = stream_bits(cfg)
    AW = rmap.addr_bits
    CAB = cfg.addr_bits  # core address bits: region, index
    IB = cfg.idx_bits
    RB = cfg.region_bits
    SAMPLE_BEATS, RESULT_BEATS = M + K, N + K
    IN_BITS, OUT_BITS = SAMPLE_BEATS * A, RESULT_BEATS * A
    NL = N * cfg.L
    NREG = len(rmap.registers)
    # every register word in order, so a word index below NREG is mapped
    assert [r.offset for r in rmap.registers] == [4 * i for i in range(NREG)]
    if max(A, cfg.data_bits) > 32:
        raise ConfigError("the AXI shell carries words of up to 32 bits: format A, W and P "
                          f"totals must be <= 32 (A {A}, W/P {cfg.data_bits})")
    ACCESS_CODE = {"ro": 0, "rw": 1, "wo": 2}
    ACC_ROM = tuple(ACCESS_CODE[r.access] for r in rmap.registers)
    CONST_ROM = tuple(r.value if r.value is not None else 0 for r in rmap.registers)
    W_CONTROL = rmap.offset("CONTROL") // 4
    W_COMMAND = rmap.offset("COMMAND") // 4
    W_STATUS = rmap.offset("STATUS") // 4
    W_STEPS = rmap.offset("STEP_COUNT") // 4
    W_SATS = rmap.offset("SAT_COUNT") // 4
    W_RESULTS = rmap.offset("RESULT_COUNT") // 4
    W_FRAMES = rmap.offset("FRAME_ERRORS") // 4
    f_learn = rmap.register("CONTROL").field("LEARN")
    f_tuser = rmap.register("CONTROL").field("LEARN_FROM_TUSER")
    f_lr = rmap.register("CONTROL").field("LR_SHIFT")
    f_clear = rmap.register("COMMAND").field("CLEAR")
    f_srst = rmap.register("COMMAND").field("SOFT_RESET")
    st_reg = rmap.register("STATUS")
    B_BUSY, B_SAMPLE, B_RESULT, B_CLEAR = (st_reg.field(n).lsb for n in (
        "BUSY", "SAMPLE_PENDING", "RESULT_PENDING", "CLEAR_PENDING"))
    B_LEARN, B_TUSER, B_LR, LR_W = f_learn.lsb, f_tuser.lsb, f_lr.lsb, f_lr.width
    B_CLEAR_CMD, B_SRST = f_clear.lsb, f_srst.lsb
    LR_RESET = f_lr.reset
    OKAY, SLVERR, DECERR = RESP["OKAY"], RESP["SLVERR"], RESP["DECERR"]
    cmax = Signal(intbv((1 << 32) - 1)[32:])  # constant: where the counters stop

    # -- the core and its interface --------------------------------------------------------
    from trtrl.rtl.folded import make_ports, trtrl_array

    if core is None:  # else a stand-in with the same ports (rtl/tests/test_shell_myhdl.py)
        core = trtrl_array
    c = make_ports(cfg)
    core_inst = core(**{**c, "clk": aclk}, cfg=cfg)
    # the core's ports as plain names (a generator reads no dict)
    (core_busy, core_clear, core_learn, core_lr_shift, core_m_addr, core_m_rdata, core_m_re,
     core_m_rvalid, core_m_wdata, core_m_we, core_r_e, core_r_valid, core_r_y, core_rst,
     core_s_d, core_s_ready, core_s_valid, core_s_x, core_sat_count, core_step_count) = (
        c[n] for n in ("busy", "clear", "learn", "lr_shift", "m_addr", "m_rdata", "m_re",
        "m_rvalid", "m_wdata", "m_we", "r_e", "r_valid", "r_y", "rst", "s_d", "s_ready",
        "s_valid", "s_x", "sat_count", "step_count"))

    # The core's and the streams' resets are registers (each drives thousands of reset
    # inputs; behind the OR of ARESETN and the soft reset it was the clock's critical path):
    # ARESETN reaches them a cycle later, a SOFT_RESET write as before, in the cycle after it
    # lands. The AXI4-Lite side takes ARESETN directly.
    stream_rst = ResetSignal(0, active=1, isasync=False)
    rst_nx = Signal(bool(0))

    @always(aclk.posedge)
    def resets():
        core_rst.next = rst_nx
        stream_rst.next = rst_nx

    # -- registers written over AXI4-Lite ----------------------------------------------------
    ctl_learn = Signal(bool(f_learn.reset))
    ctl_tuser = Signal(bool(f_tuser.reset))
    ctl_lr = Signal(intbv(LR_RESET)[f_lr.width:])
    clear_req = Signal(bool(0))  # a CLEAR written, waiting for the core
    mem_hold = Signal(bool(0))  # a memory access waits: no step or clear starts

    # -- sample stream -----------------------------------------------------------------------
    in_sr = sig_u(IN_BITS)
    in_cnt = sig_u(clog2(SAMPLE_BEATS + 1))
    in_bad = Signal(bool(0))
    in_full = Signal(bool(0))
    in_tuser = Signal(bool(0))
    frame_errors = sig_u(32)
    start = Signal(bool(0))

    @always_comb
    def sample_ports():
        s_axis_tready.next = not in_full and not stream_rst
        core_s_d.next = in_sr[IN_BITS:M * A]
        core_learn.next = in_tuser if ctl_tuser else ctl_learn
        core_lr_shift.next = ctl_lr

    insts_x = []
    if M > 0:  # else s_x stays the constant 0 the core ignores

        @always_comb
        def sample_x():
            core_s_x.next = in_sr[M * A:]

        insts_x.append(sample_x)

    # -- result stream -----------------------------------------------------------------------
    core_res = Signal(bool(0))  # the core's r_y, r_e hold a result not yet copied
    out_sr = sig_u(OUT_BITS)
    out_cnt = sig_u(clog2(RESULT_BEATS + 1))
    out_full = Signal(bool(0))
    # The port's register slice (the output register o_* and a skid register k_*): out_sr
    # shifts when the skid register is empty, a registered condition, so TREADY (a port)
    # drives these few registers, not the enable of every bit of out_sr ((N + K) words).
    o_data, k_data = sig_u(A), sig_u(A)
    o_valid, o_last, k_valid, k_last = (Signal(bool(0)) for _ in range(4))
    out_take, out_last = Signal(bool(0)), Signal(bool(0))
    out_pending = Signal(bool(0))  # a result not yet wholly sent
    result_count = sig_u(32)
    insts_out = []
    if TW > A:  # sign-extend the low word to the bytes of TDATA
        out_word, out_ext = sig_s(A), sig_s(TW)

        @always_comb
        def result_word():
            out_word.next = o_data.signed()

        @always_comb
        def result_data():
            m_axis_tdata.next = out_ext[TW:]

        insts_out = [result_word, result_data, sext(out_word, out_ext)]
    else:

        @always_comb
        def result_data():
            m_axis_tdata.next = o_data

        insts_out = [result_data]

    # A step starts only when the core's output registers are free: no uncopied result,
    # and none arriving this cycle (the core may be ready in the cycle of its r_valid).
    @always_comb
    def step_start():
        go = in_full and not core_res and not core_r_valid and not mem_hold and not clear_req
        start.next = go and core_s_ready
        core_s_valid.next = go

    @always_comb
    def result_ports():
        # held low while the stream resets: the reset register is a cycle late, and a word
        # loaded in that cycle must not be offered and then withdrawn (rtl/formal.py)
        m_axis_tvalid.next = o_valid and not stream_rst
        m_axis_tlast.next = o_last
        out_take.next = out_full and not k_valid
        out_last.next = out_cnt == RESULT_BEATS - 1
        out_pending.next = out_full or o_valid or k_valid

    in_fits = Signal(bool(1))  # the beat is a sign-extended format-A word
    if TW > A:

        @always_comb
        def check_beat():
            in_fits.next = (s_axis_tdata[TW:A - 1] == 0
                            or s_axis_tdata[TW:A - 1] == (1 << (TW - A + 1)) - 1)

        insts_fit = [check_beat]
    else:
        insts_fit = []
    in_next, out_shifted = sig_u(IN_BITS), sig_u(OUT_BITS)
    if IN_BITS > A:  # a beat enters at the top; after M+K beats, beat 0 is lowest

        @always_comb
        def shift_in():
            in_next.next = concat(s_axis_tdata[A:], in_sr[IN_BITS:A])
    else:

        @always_comb
        def shift_in():
            in_next.next = s_axis_tdata[A:]

    @always_comb
    def shift_out():
        out_shifted.next = out_sr >> A

    @always_seq(aclk.posedge, reset=stream_rst)
    def streams():
        # samples in
        if s_axis_tvalid and not in_full:
            in_sr.next = in_next
            if s_axis_tlast:
                in_cnt.next = 0
                in_bad.next = False
                if not in_bad and in_fits and in_cnt == SAMPLE_BEATS - 1:
                    in_full.next = True
                    in_tuser.next = s_axis_tuser
                elif frame_errors != cmax:
                    frame_errors.next = frame_errors + 1
            elif in_cnt == SAMPLE_BEATS - 1 or not in_fits:
                in_bad.next = True
            else:
                in_cnt.next = in_cnt + 1
        if start:
            in_full.next = False
        # results out
        if core_r_valid:
            core_res.next = True
        elif core_res and not out_full:
            out_sr.next = concat(core_r_e, core_r_y)
            out_full.next = True
            out_cnt.next = 0
            core_res.next = False
        if out_take:
            if out_last:
                out_full.next = False
            else:
                out_sr.next = out_shifted
                out_cnt.next = out_cnt + 1
        if m_axis_tready or not o_valid:
            if k_valid:
                o_data.next = k_data
                o_last.next = k_last
                o_valid.next = True
                k_valid.next = False
            elif out_take:
                o_data.next = out_sr[A:]
                o_last.next = out_last
                o_valid.next = True
            else:
                o_valid.next = False
        elif out_take:
            k_data.next = out_sr[A:]
            k_last.next = out_last
            k_valid.next = True
        if o_valid and m_axis_tready and o_last and result_count != cmax:
            result_count.next = result_count + 1
        if core_clear:
            result_count.next = 0

    # -- AXI4-Lite slave -----------------------------------------------------------------------
    lstate = Signal(intbv(L_IDLE, min=0, max=16))
    accept_w = Signal(bool(0))
    accept_r = Signal(bool(0))
    addr = sig_u(AW)
    wdata = sig_u(32)
    wstrb = sig_u(4)
    resp = sig_u(2)
    rdata = sig_u(32)
    word = sig_u(AW - 3)  # word index within a half
    is_mem = Signal(bool(0))
    region = sig_u(RB)
    mapped, mapped_r = Signal(bool(0)), Signal(bool(0))
    fits_w, fits_r = Signal(bool(0)), Signal(bool(0))
    rd_ext = sig_s(32)
    ext_rd = sext(core_m_rdata, rd_ext)
    RWB = clog2(NREG)  # the ROMs are indexed by the low bits (used only when mapped)
    rword = sig_u(RWB)
    acc_code, acc_r = sig_u(2), sig_u(2)
    const_word, const_r = sig_u(32), sig_u(32)
    ctl_word = sig_u(32)
    status_word = sig_u(32)
    acc_rom = ACC_ROM + (0,) * ((1 << RWB) - NREG)
    const_rom = CONST_ROM + (0,) * ((1 << RWB) - NREG)

    @always_comb
    def rom_index():
        rword.next = word[RWB:]

    @always_comb
    def rom_access():
        acc_code.next = acc_rom[rword]

    @always_comb
    def rom_const():
        const_word.next = const_rom[rword]

    @always_comb
    def live_words():
        ctl_word.next = 0
        ctl_word.next[B_LEARN] = ctl_learn
        ctl_word.next[B_TUSER] = ctl_tuser
        ctl_word.next[B_LR + LR_W:B_LR] = ctl_lr
        status_word.next = 0
        status_word.next[B_BUSY] = core_busy
        status_word.next[B_SAMPLE] = in_full
        status_word.next[B_RESULT] = core_res or out_pending
        status_word.next[B_CLEAR] = clear_req

    @always_comb
    def decode():
        is_mem.next = addr[AW - 1]
        word.next = addr[AW - 1:2]
        region.next = addr[CAB + 2:IB + 2]
        core_m_addr.next = addr[CAB + 2:2]
        core_m_wdata.next = wdata[DB:].signed()
        fits_w.next = wdata[32:WT - 1] == 0 or wdata[32:WT - 1] == (1 << (33 - WT)) - 1

    region_ok, index_ok = Signal(bool(1)), Signal(bool(1))  # constant 1 where no check
    high_ok = Signal(bool(1))
    if AW - 1 > CAB + 2:  # the memory half is larger than the core's address space

        @always_comb
        def check_high():
            high_ok.next = addr[AW - 1:CAB + 2] == 0

        insts_high = [check_high]
    else:
        insts_high = []

    if K + 3 < 1 << RB:

        @always_comb
        def check_region():
            region_ok.next = region <= K + 2

        insts_dec = [check_region]
    else:
        insts_dec = []
    if NL < 1 << IB:

        @always_comb
        def check_index():
            index_ok.next = addr[IB + 2:2] < NL

        insts_dec.append(check_index)

    # The register read's source, decoded from the address in L_RPRE and registered (as
    # is the write's target, w_ctl_r / w_cmd_r), so L_RDEC's data multiplexer has a 3-bit
    # select and L_WDEC's register writes no chain of address compares; mapped_r gates both
    RS_ZERO, RS_CTL, RS_STATUS, RS_STEPS, RS_SATS, RS_RESULTS, RS_FRAMES, RS_CONST = range(8)
    rsel, rsel_r = sig_u(3), sig_u(3)
    w_ctl_r, w_cmd_r = Signal(bool(0)), Signal(bool(0))
    # L_WDEC decides a CONTROL or COMMAND write into these (one-cycle pulses); the write
    # lands in the next cycle (the first of L_BRESP), so the decode does not fan out into
    # the enables of the registers it writes
    wr_ctl, wr_cmd = Signal(bool(0)), Signal(bool(0))

    @always_comb
    def reset_next():
        rst_nx.next = not aresetn or (wr_cmd and wdata[B_SRST])

    @always_comb
    def read_select():
        rsel.next = RS_CONST
        if addr[2:] != 0 or is_mem or word == W_COMMAND:
            rsel.next = RS_ZERO
        elif word == W_CONTROL:
            rsel.next = RS_CTL
        elif word == W_STATUS:
            rsel.next = RS_STATUS
        elif word == W_STEPS:
            rsel.next = RS_STEPS
        elif word == W_SATS:
            rsel.next = RS_SATS
        elif word == W_RESULTS:
            rsel.next = RS_RESULTS
        elif word == W_FRAMES:
            rsel.next = RS_FRAMES

    @always_comb
    def decode_mapped():
        if is_mem:
            mapped.next = region_ok and index_ok and high_ok
        else:
            mapped.next = word < NREG

    @always_comb
    def axil_ports():
        s_axil_awready.next = accept_w
        s_axil_wready.next = accept_w
        s_axil_arready.next = accept_r
        s_axil_bvalid.next = lstate == L_BRESP
        s_axil_bresp.next = resp
        s_axil_rvalid.next = lstate == L_RRESP
        s_axil_rresp.next = resp
        s_axil_rdata.next = rdata
        mem_hold.next = lstate == L_WMEM or lstate == L_RMEM or lstate == L_RWAIT

    @always_seq(aclk.posedge, reset=aresetn)
    def axil():
        accept_w.next = False
        accept_r.next = False
        core_m_we.next = False
        core_m_re.next = False
        core_clear.next = False
        # (no step starts while clear_req is set, so a clear never meets a handshake)
        wr_ctl.next = False
        wr_cmd.next = False
        if clear_req and not mem_hold and not core_busy and not core_res and not out_pending:
            core_clear.next = True
            clear_req.next = False
        if wr_ctl:
            ctl_learn.next = wdata[B_LEARN]
            ctl_tuser.next = wdata[B_TUSER]
            ctl_lr.next = wdata[B_LR + LR_W:B_LR]
        if wr_cmd:
            if wdata[B_CLEAR_CMD]:
                clear_req.next = True
            if wdata[B_SRST]:
                clear_req.next = False
        if lstate == L_IDLE:
            if accept_w:
                addr.next = s_axil_awaddr
                wdata.next = s_axil_wdata
                wstrb.next = s_axil_wstrb
                lstate.next = L_WPRE
            elif accept_r:
                addr.next = s_axil_araddr
                lstate.next = L_RPRE
            elif s_axil_awvalid and s_axil_wvalid:
                accept_w.next = True
            elif s_axil_arvalid:
                accept_r.next = True
        elif lstate == L_WPRE or lstate == L_RPRE:
            mapped_r.next = mapped
            fits_r.next = fits_w
            acc_r.next = acc_code
            const_r.next = const_word
            rsel_r.next = rsel
            w_ctl_r.next = word == W_CONTROL
            w_cmd_r.next = word == W_COMMAND
            if lstate == L_WPRE:
                lstate.next = L_WDEC
            else:
                lstate.next = L_RDEC
        elif lstate == L_WDEC:
            lstate.next = L_BRESP
            resp.next = OKAY
            if not mapped_r:
                resp.next = DECERR
            elif wstrb != 0xF or addr[2:] != 0:
                resp.next = SLVERR
            elif is_mem:
                if region != 0 or not fits_r:
                    resp.next = SLVERR
                else:
                    lstate.next = L_WMEM
            elif acc_r == 0:
                resp.next = SLVERR
            elif w_ctl_r:
                wr_ctl.next = True
            elif w_cmd_r:
                wr_cmd.next = True
        elif lstate == L_WMEM:
            if not core_busy:
                core_m_we.next = True
                lstate.next = L_BRESP
        elif lstate == L_BRESP:
            if s_axil_bready:
                lstate.next = L_IDLE
        elif lstate == L_RDEC:
            lstate.next = L_RRESP
            resp.next = OKAY
            if not mapped_r:
                resp.next = DECERR
            elif addr[2:] != 0:
                resp.next = SLVERR
            elif is_mem:
                lstate.next = L_RMEM
            if not mapped_r:
                rdata.next = 0
            elif rsel_r == RS_CTL:
                rdata.next = ctl_word
            elif rsel_r == RS_STATUS:
                rdata.next = status_word
            elif rsel_r == RS_STEPS:
                rdata.next = core_step_count
            elif rsel_r == RS_SATS:
                rdata.next = core_sat_count
            elif rsel_r == RS_RESULTS:
                rdata.next = result_count
            elif rsel_r == RS_FRAMES:
                rdata.next = frame_errors
            elif rsel_r == RS_CONST:
                rdata.next = const_r
            else:
                rdata.next = 0
        elif lstate == L_RMEM:
            if not core_busy:
                core_m_re.next = True
                lstate.next = L_RWAIT
        elif lstate == L_RWAIT:
            if core_m_rvalid:
                rdata.next = rd_ext[32:]
                lstate.next = L_RRESP
        elif lstate == L_RRESP:
            if s_axil_rready:
                lstate.next = L_IDLE

    return [core_inst, resets, reset_next, sample_ports, *insts_x, step_start, result_ports,
            *insts_out, *insts_fit, shift_in, shift_out, streams, *insts_dec, *insts_high,
            decode, decode_mapped, read_select, axil_ports, axil, ext_rd, rom_index, rom_access,
            rom_const, live_words]

