"""Small MyHDL building blocks that convert to lint-clean Verilog.

Verilator ``-Wall`` refuses implicit width changes, so every widening goes through
:func:`sext` / :func:`zext` (an explicit ``$signed`` assignment under a one-line
Verilator waiver, or a replication), every narrowing is a slice after a saturation, and
multiplexers over processing elements are chains of compare-with-constant stages (no
lists of signals indexed by a variable except inside :func:`ram`, whose memory is
private).
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, intbv

from trtrl.rtl.config import SIGN_EXTENSIONS


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


# How :func:`sext` is written in Verilog (the same wiring either way; Yosys builds the
# same netlist). "signed": ``assign dst = $signed(src);``, the assignment sign-extends.
# "concat": ``{{k{src[msb]}}, src}``, which Icarus evaluates as a tree of one-bit
# concatenations fed k times by the sign bit, so a sign change re-sends the word up to k
# times: the array simulates about twice as fast with "signed" (``trtrl bench sim``).
@block
def _sext_concat(src, dst, ext, msb):
    @always_comb
    def sext_f():
        dst.next = src

    dst.driven = "wire"
    return sext_f


_sext_concat.verilog_code = "assign $dst = {{$ext{$src[$msb]}}, $src};"


@block
def _sext_signed(src, dst):
    @always_comb
    def sext_f():
        dst.next = src

    dst.driven = "wire"
    return sext_f


# The widening is the point here, so Verilator's width warning is waived for this one
# assignment only ("$$" is a literal "$" in MyHDL's template).
_sext_signed.verilog_code = (
    "/* verilator lint_off WIDTHEXPAND */\n"
    "assign $dst = $$signed($src);\n"
    "/* verilator lint_on WIDTHEXPAND */"
)


@block
def _zext(src, dst, ext):
    @always_comb
    def zext_f():
        dst.next = src

    dst.driven = "wire"
    return zext_f


_zext.verilog_code = "assign $dst = {{$ext{1'b0}}, $src};"


@block
def sext(src: Signal, dst: Signal, form: str = "signed"):
    """``dst`` = ``src`` sign-extended (``len(dst) >= len(src)``), written as ``form``.

    ``form`` is one of :data:`SIGN_EXTENSIONS`: only the Verilog text differs.
    """
    ext = len(dst) - len(src)
    if ext < 0:
        raise ValueError("sext: destination narrower than source")
    if form not in SIGN_EXTENSIONS:
        raise ValueError(f"sext: unknown form {form!r} (one of {', '.join(SIGN_EXTENSIONS)})")
    if ext == 0:
        return copy(src, dst)
    if form == "concat":
        return _sext_concat(src, dst, ext, len(src) - 1)
    return _sext_signed(src, dst)


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
        if sel == key:
            dst.next = src
        else:
            dst.next = prev

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
def _rot_stage(sel, a, b, dst):
    @always_comb
    def rot_stage_f():
        if sel:
            dst.next = b
        else:
            dst.next = a

    return rot_stage_f


@block
def rotate(srcs, dsts, amount, sign):
    """``dsts[p] = srcs[(p + sign * amount) mod P]`` for every ``p`` (``amount < P``).

    ceil(log2 P) stages of 2:1 multiplexers: stage ``k`` rotates by ``2**k mod P`` when bit
    ``k`` of ``amount`` is set, and the rotations add up to ``amount``. A P:1 multiplexer
    per word would take P times the wires (every source to every destination)."""
    n = len(srcs)
    nb = max(1, (n - 1).bit_length())
    amt_full_unused = like(amount)  # bits from nb up are 0 (amount < P)
    bits = [Signal(bool(0)) for _ in range(nb)]

    @always_comb
    def rotate_amount():
        amt_full_unused.next = amount

    insts = [rotate_amount]
    for k in range(nb):
        insts.append(_bit(amt_full_unused, k, bits[k]))
    prev = list(srcs)
    for k in range(nb):
        nxt = list(dsts) if k == nb - 1 else [like(dsts[0]) for _ in range(n)]
        step = (1 << k) % n
        for p in range(n):
            insts.append(_rot_stage(bits[k], prev[p], prev[(p + sign * step) % n], nxt[p]))
        prev = nxt
    return insts


@block
def _bit(word, k, dst):
    @always_comb
    def bit_f():
        dst.next = word[k]

    return bit_f


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
def ram(clk, we, waddr, wdata, raddr, rdata, depth):
    """``depth`` words, one synchronous write port, one asynchronous read port, no reset.

    Address signals are exactly ``ceil(log2(depth))`` bits wide (at least 1); a
    read past ``depth`` (possible only when depth is not a power of two) returns 0.
    """
    mem = [Signal(intbv(0, min=wdata.min, max=wdata.max)) for _ in range(depth)]
    full = (1 << len(raddr)) == depth

    if full:

        @always(clk.posedge)
        def ram_w():
            if we:
                mem[waddr].next = wdata

        @always_comb
        def ram_r():
            rdata.next = mem[raddr]

    else:

        @always(clk.posedge)
        def ram_w():
            if we and waddr < depth:
                mem[waddr].next = wdata

        @always_comb
        def ram_r():
            if raddr < depth:
                rdata.next = mem[raddr]
            else:
                rdata.next = 0

    return ram_w, ram_r


@block
def rom(addr, data, table):
    """``data = table[addr]`` (a case statement in Verilog)."""
    table = tuple(int(v) for v in table)

    @always_comb
    def rom_f():
        data.next = table[addr]

    return rom_f
