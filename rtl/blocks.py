"""Small MyHDL building blocks that convert to lint-clean Verilog.

Verilator ``-Wall`` refuses implicit width changes, so every widening goes through
:func:`sext` / :func:`zext` (explicit widths in Verilog), every narrowing is
a slice after a saturation, and multiplexers over processing elements are chains
of compare-with-constant stages (no lists of signals indexed by a variable except
inside :func:`ram`, whose memory is private).

The Verilog forms are also chosen for Icarus's speed (``rtl/bench_sim.py`` measures it):
sign extension by an arithmetic shift (not a replication), multiplexers as continuous
assigns, range checks made once and shared, the table ROM as an initialised array (not
a case statement, which Icarus scans linearly).
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, intbv


def sig_s(bits: int) -> Signal:
    """A signed signal of ``bits`` bits."""
    return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))


def sig_u(bits: int) -> Signal:
    """An unsigned signal of ``bits`` bits."""
    return Signal(intbv(0)[bits:])


def like(s: Signal) -> Signal:
    """A new signal of the same type and width as ``s``."""
    if isinstance(s.val, bool) or len(s) == 1 and s.min is None:
        return Signal(bool(0))
    return Signal(intbv(0, min=s.min, max=s.max))


@block
def copy(src, dst):
    @always_comb
    def copy_f():
        dst.next = src

    return copy_f


@block
def _sext(src, dst, ext):
    @always_comb
    def sext_f():
        dst.next = src

    dst.driven = "wire"
    return sext_f


# Not ``{{ext{src[top]}}, src}``: Icarus builds that replication as a tree of 1-bit
# concatenations fed ``ext`` times by the sign bit, so one change of the sign bit
# re-sends the whole word (and everything after it) up to ``ext`` times. Shifting the
# word up into the top bits and back down arithmetically is the same wiring (a constant
# shift) in one functor; Verilator lints it clean (all widths exact).
_sext.verilog_code = "assign $dst = $$signed({$src, $ext'b0}) >>> $ext;"


@block
def _zext(src, dst, ext):
    @always_comb
    def zext_f():
        dst.next = src

    dst.driven = "wire"
    return zext_f


_zext.verilog_code = "assign $dst = {{$ext{1'b0}}, $src};"


@block
def sext(src: Signal, dst: Signal):
    """``dst`` = ``src`` sign-extended (``len(dst) >= len(src)``)."""
    ext = len(dst) - len(src)
    if ext < 0:
        raise ValueError("sext: destination narrower than source")
    if ext == 0:
        return copy(src, dst)
    return _sext(src, dst, ext)


@block
def zext(src: Signal, dst: Signal):
    """``dst`` = ``src`` zero-extended."""
    ext = len(dst) - len(src)
    if ext < 0:
        raise ValueError("zext: destination narrower than source")
    if ext == 0:
        return copy(src, dst)
    return _zext(src, dst, ext)


@block
def _mux_first(sel, key, src, dst):
    @always_comb
    def mux_first_f():
        dst.next = src

    return mux_first_f


@block
def _mux_stage(sel, key, src, prev, dst):
    @always_comb
    def mux_stage_f():
        dst.next = src if sel == key else prev

    return mux_stage_f


@block
def chain_mux(sel, srcs, dst, keys=None):
    """``dst = srcs[p]`` where ``sel == keys[p]`` (default ``keys[p] = p``); else ``srcs[0]``."""
    keys = list(range(len(srcs))) if keys is None else list(keys)
    n = len(srcs)
    if n == 1:
        return copy(srcs[0], dst)
    stages = [like(dst) for _ in range(n - 1)] + [dst]
    insts = [copy(srcs[0], stages[0])]
    for p in range(1, n):
        insts.append(_mux_stage(sel, keys[p], srcs[p], stages[p - 1], stages[p]))
    return insts


@block
def _add_stage(a, b, dst):
    @always_comb
    def add_f():
        dst.next = a + b

    return add_f


@block
def chain_sum(srcs, dst):
    """``dst = sum(srcs)`` (all the same unsigned width as ``dst``)."""
    if len(srcs) == 1:
        return copy(srcs[0], dst)
    stages = [like(dst) for _ in range(len(srcs) - 2)] + [dst]
    insts = [_add_stage(srcs[0], srcs[1], stages[0])]
    for p in range(2, len(srcs)):
        insts.append(_add_stage(stages[p - 2], srcs[p], stages[p - 1]))
    return insts


@block
def ram(clk, we, waddr, wdata, raddr, rdata, depth, rok=None, we_checked=False):
    """``depth`` words, one synchronous write port, one asynchronous read port, no reset.

    Address signals are exactly ``ceil(log2(depth))`` bits wide (at least 1); a
    read past ``depth`` (possible only when depth is not a power of two) returns 0 and a
    write past it is ignored. Range checks made once for many memories (Icarus compares
    bit by bit in a functor, and through a heap copy in a process):
    ``rok``, if given, is ``raddr < depth`` (also the write's check when ``waddr`` is
    ``raddr``); ``we_checked`` says ``we`` is already low for ``waddr >= depth``.
    """
    mem = [Signal(intbv(0, min=wdata.min, max=wdata.max)) for _ in range(depth)]
    full = (1 << len(raddr)) == depth

    if full or we_checked:

        @always(clk.posedge)
        def ram_w():
            if we:
                mem[waddr].next = wdata

    elif rok is not None and waddr is raddr:

        @always(clk.posedge)
        def ram_w():
            if we and rok:
                mem[waddr].next = wdata

    else:

        @always(clk.posedge)
        def ram_w():
            if we and waddr < depth:
                mem[waddr].next = wdata

    if full:

        @always_comb
        def ram_r():
            rdata.next = mem[raddr]

    elif rok is None:

        @always_comb
        def ram_r():
            rdata.next = mem[raddr] if raddr < depth else 0

    else:

        @always_comb
        def ram_r():
            rdata.next = mem[raddr] if rok else 0

    return ram_w, ram_r


@block
def rom(addr, data, table):
    """``data = table[addr]`` over every address: an initialised array in Verilog.

    MyHDL would convert the lookup to a case statement, which Icarus evaluates as a
    linear scan (a compare per entry, each through a heap copy): thousands of compares
    whenever the address moves. An array with constant contents and no write port is the
    same read-only memory for synthesis, and one indexed load for a simulator.
    """
    table = tuple(int(v) for v in table)
    if len(table) != 1 << len(addr):
        raise ValueError("rom: the table must cover every address")

    @always_comb
    def rom_f():
        data.next = table[addr]

    data.driven = "wire"
    addr.read = True
    sign = "signed " if data.min is not None and data.min < 0 else ""
    init = "".join(f"    ${{data}}_table[{k}] = {v};\n" for k, v in enumerate(table))
    # (MyHDL reads the template once this body has run: each instance gets its own table)
    rom.verilog_code = (
        f"reg {sign}[{len(data) - 1}:0] ${{data}}_table [0:{len(table) - 1}];\n"
        f"initial begin\n{init}end\n"
        "assign $data = ${data}_table[$addr];\n"
    )
    return rom_f
