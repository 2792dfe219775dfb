"""Safety properties of the core: no stored quantity wraps, every clamp is exact.

The fixed-point model clamps five quantities (``pymodel/fixed/model.py``): f'(y), a
sensitivity's inner sum, a sensitivity, the error and the updated weight. The core
(``rtl/folded.py``) computes each one wide and saturates it into its format, with
tricks for speed: the weight update adds in only ``W.total + 2`` bits beside a flag for
a gradient too wide; a sensitivity's saturation decides from flags computed one stage
earlier, beside the rounding adder. Any slip there is a wrap: a value past the bound
stored as its low bits. Each :class:`Clamp` states, for every lane and the activation
unit, that the clamped value is the exact value saturated into the format (computed
here in its own words: wide enough that nothing wraps, rounding as ``(v + half) >>>
shift``) and that the clamp's saturation event (``sat_count``) is raised exactly when
the exact value lies outside the format. Each :class:`Count` states how the events
are counted: a lane's count is the number of its clamps that saturated in the slot, the
controller's the sum of the lanes' and the activation unit's, and ``sat_count`` adds it
and stops at its maximum (cleared by a reset or a clear).

The properties are written into a copy of the core's module (its signals are internal),
as named wires ``p_<clamp>`` with one assertion each, and proved by temporal induction
(``sat -tempinduct``): every pipeline stage involved is loaded every cycle, so each
property depends only on the previous cycle and the proof holds for every reachable
state, unbounded. The core's memories are left out of the problem (their read data is
any value in any cycle), which only makes the claim stronger.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedFormat
from trtrl.rtl.manifest import Manifest

PROPS_FILE = "trtrl_array_props.v"
MAX_INDUCTION = 4  # induction lengths tried; 1 is enough when every stage loads each cycle


@dataclass(frozen=True)
class Clamp:
    """One clamp of the core: ``dst`` must be ``exact`` saturated to ``lo .. hi``, and
    ``ev`` high exactly when ``exact`` is outside."""

    name: str
    quantity: str  # the model's clamp (funcov.CLAMPS)
    dst: str
    ev: str | None  # None: no clamp, ``dst`` is ``exact`` (a wide intermediate)
    exact: str  # Verilog expression of the exact value, of width ``bits``
    bits: int
    lo: int | None
    hi: int | None
    past: tuple[tuple[str, int], ...] = ()  # signals (name, width) it reads a cycle late


@dataclass(frozen=True)
class Count:
    """An event counter of the core: ``dst`` must equal ``expr`` (``bits`` wide, unsigned),
    its value in the property's own words."""

    name: str
    dst: str
    expr: str
    bits: int
    states: str  # what it states, in words
    past: tuple[tuple[str, int], ...] = ()  # unsigned signals (name, width) read a cycle late


def _q(name: str) -> str:
    """The previous cycle's value of ``name`` (a register :func:`props_verilog` adds)."""
    return f"p_q_{name}"


def _width(text: str, name: str) -> int:
    # MyHDL declares it signed; a netlist Yosys writes back may not (read as signed here)
    m = re.search(rf"^\s*(?:reg|wire|output) (?:signed )?(?:\[(\d+):0\] )?{name};", text, re.M)
    if m is None:
        raise TrtrlError(f"prove --core: the core has no signal {name} (the generator "
                         "changed its names; rtl/formal_core.py follows rtl/folded.py)")
    return int(m[1]) + 1 if m[1] is not None else 1


def _rounded(src: str, shift: int) -> str:
    """``src`` rounded half up by ``shift`` bits, one bit wider (no carry is lost)."""
    if shift == 0:
        return _q(src)
    return f"(({_q(src)} + {1 << (shift - 1)}) >>> {shift})"


def clamps(man: Manifest, text: str) -> list[Clamp]:
    """The core's clamps, for ``man``'s lanes and formats, checked against ``text`` (the
    core's Verilog: every signal named must be there, with its width)."""
    f = man.fixed
    lanes = int(man.details.get("lanes", man.n))
    out = []

    def clamp(name: str, q: str, dst: str, ev: str | None, exact: str, bits: int,
              fmt: FixedFormat | None, past: tuple[str, ...]) -> None:
        _width(text, dst)
        if ev is not None and not re.search(rf"^\s*(?:reg|wire) {ev};", text, re.M):
            raise TrtrlError(f"prove --core: the core has no event {ev}")
        out.append(Clamp(name, q, dst, ev, exact, bits, fmt.min if fmt else None,
                         fmt.max if fmt else None,
                         tuple((sig, _width(text, sig)) for sig in past)))

    for i in range(lanes):
        acc, prod = _width(text, f"lane{i}_e2_acc"), _width(text, f"lane{i}_e5_p")
        clamp(f"lane{i}_p_inner", "p_inner", f"lane{i}_e4_sat_dst", f"lane{i}_n_ev4",
              _rounded(f"lane{i}_e2_acc", f.weight.frac), acc + 1, f.sens,
              (f"lane{i}_e2_acc",))
        clamp(f"lane{i}_p", "p", f"lane{i}_pnew", f"lane{i}_pev",
              _rounded(f"lane{i}_e5_p", f.act.frac), prod + 1, f.sens, (f"lane{i}_e5_p",))
        wold, dw = f"lane{i}_wold_sx_dst", f"lane{i}_w1_gr"
        clamp(f"lane{i}_w", "w", f"lane{i}_w3_n", f"lane{i}_w3_evn",
              f"({_q(wold)} + {_q(dw)})", max(_width(text, wold), _width(text, dw)) + 1,
              f.weight, (wold, dw))
    clamp("fp", "fp", "a7_sat", "a7_sev", "$signed(a6_fr)", _width(text, "a6_fr"), f.act, ())
    clamp("e", "e", "a5_e", "a5_eev", _q("a4_ed"), _width(text, "a4_ed"), f.act, ("a4_ed",))
    # the error's wide value, d - y, must itself be exact (no clamp, no event)
    clamp("e_diff", "e", "a4_ed", None, f"({_q('dn')} - {_q('a3_y')})",
          max(_width(text, "dn"), _width(text, "a3_y")) + 1, None, ("dn", "a3_y"))
    return out


def counts(man: Manifest, text: str) -> list[Count]:
    """The core's event counters (rtl/folded.py ``lane_out``, ``events``, ``sat_count``),
    checked against ``text``."""
    from trtrl.rtl.config import COUNTER_BITS
    from trtrl.rtl.folded import F_CLEAR

    lanes = int(man.details.get("lanes", man.n))
    out = []
    # a lane: one event per clamp that saturated in a valid slot (inner sum, p, weight)
    for i in range(lanes):
        terms = [(f"lane{i}_e4_ev", f"lane{i}_cnt4", f"lane{i}_lv4"),
                 (f"lane{i}_e7_ev", f"lane{i}_lv7"),
                 (f"lane{i}_w3_ev", f"lane{i}_w_upd", f"lane{i}_lv12")]
        dst = f"lane{i}_ev_out"
        bits = _width(text, dst) + 1
        out.append(Count(f"lane{i}_events", dst,
                         " + ".join(f"{{{bits - 1}'d0, {' & '.join(map(_q, term))}}}"
                                    for term in terms), bits,
                         f"{dst} is the number of lane {i}'s clamps that saturated in the slot",
                         tuple(sorted((t, _width(text, t)) for term in terms for t in term))))
    # the activation unit: f'(y)'s event, and the error's for an output neuron
    bits = _width(text, "evl") + 1
    out.append(Count("slot_events", "evl",
                     f"a7_v ? {{{bits - 1}'d0, a7_fev}} + {{{bits - 1}'d0, a7_eev && "
                     f"a7_i < {man.k}}} : {bits}'d0", bits,
                     "evl is the number of the activation unit's saturations in a valid slot "
                     f"(the error's only for an output neuron, i < K = {man.k})"))
    srcs = ["evl", *(f"lane{i}_ev_out" for i in range(lanes))]
    out.append(Count("event_sum", "ev32",
                     " + ".join(f"{{{COUNTER_BITS}'d0, {_q(s_)}}}" for s_ in srcs),
                     COUNTER_BITS + 1, "ev32 is the sum of the lanes' and the activation "
                     "unit's counts a cycle earlier",
                     tuple((s_, _width(text, s_)) for s_ in srcs)))
    top = (1 << COUNTER_BITS) - 1
    wide = f"({{1'b0, {_q('sat_count')}}} + {{1'b0, {_q('ev32')}}})"
    out.append(Count("sat_count", "sat_count",
                     f"{_q('st')} == {int(F_CLEAR)} ? {COUNTER_BITS + 1}'d0 : {wide} > {top} ? "
                     f"{COUNTER_BITS + 1}'d{top} : {wide}", COUNTER_BITS + 1,
                     "sat_count adds the events of the cycle before and stops at "
                     f"{top}; a clear sets it to 0",
                     (("sat_count", COUNTER_BITS), ("ev32", COUNTER_BITS),
                      ("st", _width(text, "st")))))
    return out


def props_verilog(text: str, cl: list[Clamp], cn: list[Count] = ()) -> str:
    """The core's Verilog with the properties inside its module (before ``endmodule``)."""
    lines = ["", "// ---- no-wrap properties (rtl/formal_core.py) ----",
             "reg p_past_valid = 1'b0;", "always @(posedge clk) p_past_valid <= 1'b1;",
             "reg p_q_rst = 1'b1;", "always @(posedge clk) p_q_rst <= rst;",
             "wire p_live = p_past_valid && !p_q_rst;"]
    for sig, w in sorted({p for c in cl for p in c.past}):
        lines += [f"reg signed [{w - 1}:0] {_q(sig)};",
                  f"always @(posedge clk) {_q(sig)} <= {sig};"]
    signed = {sig for c in cl for sig, _ in c.past}
    for sig, w in sorted({p for c in cn for p in c.past}):
        if sig in signed:
            raise TrtrlError(f"prove --core: {sig} is read both signed and unsigned")
        lines += [f"reg [{w - 1}:0] {_q(sig)};", f"always @(posedge clk) {_q(sig)} <= {sig};"]
    for c in cn:
        lines += [f"wire [{c.bits - 1}:0] p_x_{c.name} = {c.expr};",
                  f"wire p_{c.name} = !p_live || {{{c.bits}'d0, {c.dst}}} == p_x_{c.name};",
                  f"always @* assert (p_{c.name});"]
    for c in cl:
        b = c.bits
        if c.ev is None:
            lines += [f"wire signed [{b - 1}:0] p_x_{c.name} = {c.exact};",
                      f"wire p_{c.name} = !p_live || $signed({c.dst}) == p_x_{c.name};",
                      f"always @* assert (p_{c.name});"]
            continue
        lines += [
            f"wire signed [{b - 1}:0] p_x_{c.name} = {c.exact};",
            f"wire p_out_{c.name} = p_x_{c.name} > {c.hi} || p_x_{c.name} < ({c.lo});",
            f"wire signed [{b - 1}:0] p_s_{c.name} = p_x_{c.name} > {c.hi} ? {c.hi} : "
            f"p_x_{c.name} < ({c.lo}) ? ({c.lo}) : p_x_{c.name};",
            f"wire p_{c.name} = !p_live || ($signed({c.dst}) == p_s_{c.name} && "
            f"{c.ev} == p_out_{c.name});",
            f"always @* assert (p_{c.name});",
        ]
    end = text.rstrip().rfind("endmodule")
    if end < 0:
        raise TrtrlError("prove --core: no endmodule in the core's Verilog")
    return text[:end] + "\n".join(lines) + "\n\n" + text[end:]


def describe(c: Clamp) -> str:
    """What the property of ``c`` states, in a line."""
    late = "; p_q_X: X a cycle earlier" if c.past else ""
    if c.ev is None:
        return f"{c.dst} is exact: {c.exact} in {c.bits} bits{late}"
    return (f"{c.dst} is {c.exact} ({c.bits} bits{late}) saturated to {c.lo} .. {c.hi}, "
            f"and its event {c.ev} is 1 exactly when it saturates")


def prove_script(top: str, names: list[str]) -> str:
    shows = " ".join(f"-show p_{n}" for n in names)
    return "\n".join([
        f"read_verilog -formal -sv {PROPS_FILE}", f"prep -top {top}",
        "memory -nomap", "async2sync",
        f"sat -tempinduct -prove-asserts -maxsteps {MAX_INDUCTION} -ignore_unknown_cells "
        f"-dump_vcd trace_core.vcd {shows} {top}", "",
    ])


@dataclass
class CoreProof:
    proved: bool
    steps: int  # induction length that closed the proof
    failed: list[str]
    seconds: float
    clamps: dict[str, str]  # property -> what it states


def prove_core(verilog: Path, man: Manifest, out: Path, timeout: float = 1800.0) -> CoreProof:
    """Prove the no-wrap properties of the core ``verilog`` (top ``man.top``) by induction;
    writes ``trtrl_array_props.v``, ``prove_core.ys``, ``prove_core.log`` into ``out`` and
    on a failure ``trace_core.vcd``."""
    from trtrl.rtl.toolchain import run_yosys_script

    text = verilog.read_text()
    cl, cn = clamps(man, text), counts(man, text)
    (out / PROPS_FILE).write_text(props_verilog(text, cl, cn))
    described = {c.name: describe(c) for c in cl} | {c.name: c.states for c in cn}
    t0 = time.perf_counter()
    rc = run_yosys_script(prove_script(man.top, list(described)), out, "prove_core.ys",
                          "prove_core.log", timeout)
    if rc is None:
        raise TrtrlError(f"prove --core: Yosys took more than {timeout:g} s")
    seconds = time.perf_counter() - t0
    log = (out / "prove_core.log").read_text()
    done = re.search(r"Induction step proven: SUCCESS!", log)
    if rc == 0 and done:
        steps = len(re.findall(r"Induction step failed", log)) + 1
        return CoreProof(True, steps, [], seconds, described)
    if "FAIL!" in log or "Reached maximum number of time steps" in log:
        bad = sorted({m[1] for m in re.finditer(r"\\p_(\w+)\s+0\b", log) if m[1] in described})
        return CoreProof(False, 0, bad, seconds, described)
    raise TrtrlError(f"prove --core: Yosys failed (see {out / 'prove_core.log'})")
