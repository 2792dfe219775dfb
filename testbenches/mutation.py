"""A mutation campaign: how many single-bit design errors the quick scoreboard catches.

The flow is YosysHQ's mcy, reduced to what this testbench needs:

1. **Mutants.** Yosys reads the design (``prep``) and ``mutate -list N`` draws ``N``
   mutations spread evenly over the design's cells and source lines: a bit of a cell's
   port inverted (``inv``), tied to 0 or 1 (``const0``, ``const1``) or XORed with
   another bit of the same port (``cnot0``, ``cnot1``). One more Yosys run writes each
   mutant back to Verilog, and the unmutated design the same way (the *control*).
   Yosys mutates bits, not operators, so the campaign adds one class of its own, every
   instance of it: each comparison of a signal with a constant (``x > MAX``,
   ``x < (MIN)``, ``u < 1``) moved onto its boundary (``x >= MAX``, ...), a text edit
   of the design (mode ``boundary``). On a clamp that changes no value, only whether a
   value exactly on the bound counts as a saturation event.
2. **Simulation.** Each mutant runs through the quick scoreboard (one configuration, a
   few dozen learning steps on Icarus, every output and the whole learning state after
   every step compared with the fixed-point model). A run that fails is *killed*. The
   control must pass first, or no score is meaningful.
3. **Formal filter.** A mutant the scoreboard does not kill is either one the stimulus
   misses or one no stimulus can see (a bit that is never read, a mux input never
   selected). Yosys decides which, in two stages:

   a. *Every state.* The original and the mutant side by side (``equiv_make``, every
      signal of one paired with the same-named signal of the other), proved equal
      signal by signal (``equiv_simple``, then ``equiv_induct``: an induction over all
      of them at once). The mutated net itself is left unpaired, so the proof must go
      around it. If every paired signal is proven, the mutant is *equivalent*.
   b. *From reset.* What stage a leaves unproven is mostly state the design never
      reaches (a counter bit above an N = 2 core's range), which an induction from
      arbitrary states cannot exclude. Everything proven is merged, so only the
      unproven signals' cones remain (``equiv_miter``, a few hundred cells), and
      ``sat`` checks them for every input sequence over a stated number of cycles after
      reset (:func:`bounded_depth`: a clear and two learning steps). Equal throughout:
      *bounded*, removed from the score and counted apart; a difference: a survivor,
      with the input sequence that shows it (``work/cexNNNN.vcd``).

   A timeout leaves a survivor. A killed mutant is never submitted: it differs from the
   original by definition, so simulating first only saves proofs and changes no count.
4. **Properties.** Before the formal filter, a mutant of the core that the scoreboard
   does not kill is checked against the core's own safety properties (``trtrl rtl
   prove``, rtl/formal_core.py: every clamp exact, every saturation event counted, by
   induction over every state). A property that fails kills the mutant, counted apart
   (``killed_by``): such a mutant breaks the specification in a state the scoreboard's
   stimulus does not reach, or none does (a sensitivity never saturates in practice,
   but the clamp is still specified).

The score is killed / (mutants - equivalent - bounded); the report also gives it
with only the every-state proofs removed, and with only the scoreboard's kills.
Everything is written into one output folder: ``mutation.json`` (every mutant, its
verdict and where it sits in the design), ``mutation.md`` (the score, the survivors by
source line), ``mutants.txt`` (Yosys's list, replayable with ``mutate``), the design and
its manifest as mutated.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.report import atomic_folder, markdown_table, write_json
from trtrl.rtl.manifest import AXI_TOP, Manifest
from trtrl.testbenches.configs import TbConfig

# "bounded": equal to the original for a stated number of cycles after reset, not proven
# for all time; removed from the score like "equivalent", and counted apart
VERDICTS = ("killed", "equivalent", "bounded", "survived")
DEFAULT_MUTANTS = 100
DEFAULT_FORMAL_TIMEOUT = 600.0  # seconds of Yosys per surviving mutant, all rounds
PROOF_DEPTH = 1  # time steps equiv_simple and equiv_induct unroll (3 took 1.7x as long)
# Above this many cells in the unproven signals' cones the bounded check is not tried: a
# control cone has a few hundred and proves 100 cycles in seconds; a cone through the
# datapath (about 6,000 cells with the multipliers) ran out of the WebAssembly Yosys's
# 4 GB, or of 300 s, by cycle 20.
MAX_BOUNDED_CELLS = 2000
# rounds of the formal stage: a counterexample that differs only in internal signals (no
# output) unpairs them and proves again
MAX_ROUNDS = 8
REPORT_JSON = "mutation.json"
REPORT_MD = "mutation.md"
MUTANTS_TXT = "mutants.txt"


@dataclass
class Mutant:
    """One mutation as Yosys lists it, and what became of it."""

    index: int
    command: str  # the ``mutate -mode ...`` line
    mode: str
    cell: str
    port: str
    wire: str | None
    location: str | None  # file:line of the first source tag, in the mutated design
    source: str = ""  # that line of the design, stripped
    verdict: str | None = None
    killed_by: str = ""  # "scoreboard" or "properties"
    detail: str = ""
    sim_s: float = 0.0
    formal_s: float = 0.0
    # a ``boundary`` mutant: the character offset and the text its comparison becomes
    edit: tuple[int, int, str] | None = None

    @property
    def is_text(self) -> bool:
        return self.edit is not None

    @classmethod
    def parse(cls, index: int, line: str) -> Mutant:
        """A ``mutate -mode ...`` line of ``mutate -list``."""
        opts = dict(re.findall(r"-(\w+) (\S+)", line))
        if not line.startswith("mutate ") or "mode" not in opts:
            raise TrtrlError(f"mutate -list: unexpected line {line!r}")
        src = re.search(r"-src (\S+?):(\d+)\.", line)
        return cls(index=index, command=line, mode=opts["mode"], cell=opts.get("cell", ""),
                   port=opts.get("port", ""), wire=opts.get("wire"),
                   location=f"{src.group(1)}:{src.group(2)}" if src else None)


@dataclass
class Campaign:
    """What a mutation campaign needs: the design, its scoreboard and how hard to look."""

    verilog: Path
    manifest: Path
    tb: TbConfig  # the quick scoreboard's configuration (stimulus, steps)
    # more runs of the same design for a mutant the first does not kill (other stimulus,
    # e.g. another learning-rate shift); a mutant survives only if it passes them all
    more: tuple[TbConfig, ...] = ()
    mutants: int = DEFAULT_MUTANTS
    seed: int = 1
    jobs: int = 1
    formal: bool = True
    formal_timeout: float = DEFAULT_FORMAL_TIMEOUT
    boundary: bool = True  # add the boundary class (every comparison with a constant)
    # check the core's safety properties (rtl/formal_core.py) on what the scoreboard leaves
    properties: bool = True
    sim: str = "icarus"
    top: str | None = None


# -- Yosys ------------------------------------------------------------------------------
def _yosys(script: str, cwd: Path, log: str, timeout: float | None = None) -> int:
    """Run a Yosys script in ``cwd`` (saved as ``log + ".ys"``, its log ``cwd / log``); the
    return code, -1 if it ran past ``timeout``."""
    from trtrl.rtl.toolchain import run_yosys_script

    rc = run_yosys_script(script, cwd, f"{log}.ys", log, timeout)
    return -1 if rc is None else rc


def list_mutants(verilog: Path, top: str, count: int, seed: int, work: Path) -> list[Mutant]:
    """``count`` mutations of ``top`` drawn by Yosys; writes ``prep.il`` and the control
    Verilog ``control.v`` into ``work`` and the list into ``work / mutants.txt``.

    The design is read from a copy in ``work`` by its bare name, so the source tags and
    the cell names Yosys derives from them hold no machine path.
    """
    shutil.copyfile(verilog, work / verilog.name)
    script = (f"read_verilog {verilog.name}\nprep -top {top}\nwrite_rtlil prep.il\n"
              f"write_verilog -noattr control.v\n"
              f"mutate -list {count} -seed {seed} -o {MUTANTS_TXT}\n")
    if _yosys(script, work, "list.log") != 0:
        raise TrtrlError(f"mutate: Yosys could not read {verilog.name} (see {work}/list.log)")
    lines = [ln for ln in (work / MUTANTS_TXT).read_text().splitlines() if ln.strip()]
    return [Mutant.parse(i, ln) for i, ln in enumerate(lines)]


# a comparison of a signal with a constant, as MyHDL writes it: (x > 32767), (x < (-32768))
_COMPARE = re.compile(r"\((?P<v>[A-Za-z_]\w*) (?P<op>[<>]) (?P<c>\(-?\d+\)|-?\d+)\)")


def boundary_mutants(verilog: Path, first_index: int) -> list[Mutant]:
    """Every comparison of a signal with a constant in ``verilog``, moved onto its bound."""
    text = verilog.read_text()
    out = []
    for i, m in enumerate(_COMPARE.finditer(text)):
        line = text.count("\n", 0, m.start()) + 1
        new = f"({m['v']} {m['op']}= {m['c']})"
        out.append(Mutant(index=first_index + i, mode="boundary",
                          command=f"boundary {m.group(0)} -> {new} at {verilog.name}:{line}",
                          cell="", port="", wire=m["v"], location=f"{verilog.name}:{line}",
                          edit=(m.start(), m.end(), new)))
    return out


def mutant_file(index: int) -> str:
    return f"mutant{index:04d}.v"


def write_mutants(mutants: Sequence[Mutant], work: Path, design: Path) -> list[Mutant]:
    """Each mutant as Verilog, ``work/mutant0000.v`` etc.: Yosys's from ``work/prep.il``
    in one run, the boundary ones as text edits of ``design``.

    Returns the mutants Yosys cannot write back (an inverted enable of an asynchronous
    memory read port trips an assertion in its Verilog backend); the rest are written.
    """
    text = design.read_text()
    pending = []
    for m in mutants:
        if m.edit is None:
            pending.append(m)
            continue
        start, end, new = m.edit
        (work / mutant_file(m.index)).write_text(text[:start] + new + text[end:])
    unwritable: list[Mutant] = []
    while pending:
        lines = ["read_rtlil prep.il", "design -save original"]
        for m in pending:
            lines += ["design -load original", m.command,
                      f"write_verilog -noattr {mutant_file(m.index)}"]
        if _yosys("\n".join(lines) + "\n", work, "mutants.log") == 0:
            break
        # the mutant whose write failed is the last one Yosys applied
        applied = (work / "mutants.log").read_text().count("Executing MUTATE pass")
        if applied == 0:
            raise TrtrlError(f"mutate: Yosys could not apply the mutations (see "
                             f"{work}/mutants.log)")
        unwritable.append(pending[applied - 1])
        (work / mutant_file(pending[applied - 1].index)).unlink(missing_ok=True)  # a torso
        pending = pending[applied:]
    return unwritable


def equivalence_script(mutant: Mutant, top: str, blacklist: str) -> str:
    """Yosys script: the original (``prep.il``) and ``mutant`` paired signal by signal,
    proved by ``equiv_*``; the cones of what stays unproven become ``miterNNNN.il``."""
    # the gate first: prep -top would drop a gold module already read
    gate = ([f"read_verilog {mutant_file(mutant.index)}", f"prep -top {top}"]
            if mutant.is_text else ["read_rtlil prep.il", mutant.command])
    return "\n".join([
        *gate, f"rename {top} gate", "read_rtlil prep.il", f"rename {top} gold",
        "memory_map", "opt_clean", "async2sync",
        f"equiv_make -blacklist {blacklist} gold gate equiv", "hierarchy -top equiv",
        "equiv_struct", f"equiv_simple -seq {PROOF_DEPTH}", f"equiv_induct -seq {PROOF_DEPTH}",
        "equiv_status",
        # what is proven is merged (gold and gate share it); only the unproven signals'
        # cones remain, with an assertion that each pair is equal
        "equiv_remove", "equiv_miter -trigger -assert miter", "hierarchy -top miter",
        f"write_rtlil {miter_file(mutant.index)}", "",
    ])


def miter_file(index: int) -> str:
    return f"miter{index:04d}.il"


def bounded_script(index: int, reset: tuple[str, int] | None, depth: int, timeout: float,
                   cuts: Sequence[str] = (), same_start: Sequence[str] = (),
                   show: Sequence[str] = ()) -> str:
    """Yosys script: the miter's assertions from reset for ``depth`` clock cycles.

    The reset is held for the first two cycles (the bus shell registers it once more
    before the core) and the assertions count from the third. The registers start
    anywhere, as in hardware before its reset, but the original's and the mutant's copy
    of a register (``same_start``, base names) start equal: one chip powering up.
    ``cuts`` (``cutpoint`` selections) are registers both copies share, left free in
    every cycle. A counterexample is written as ``cexNNNN.vcd``: an input sequence
    under which the mutant differs, with both copies of each signal in ``show`` (base
    names; the VCD holds only registers and inputs otherwise).
    """
    hold = (f" -set-at 1 {reset[0]} {reset[1]} -set-at 2 {reset[0]} {reset[1]} -prove-skip 2"
            if reset else "")
    start = "".join(f" -set-at 1 \\{n}_gold \\{n}_gate" for n in same_start)
    shows = "".join(f" -show \\{n}_gold -show \\{n}_gate" for n in show)
    cut = "".join(f"cutpoint {c}\n" for c in cuts) + ("opt_clean\nstat\n" if cuts else "")
    return (f"read_rtlil {miter_file(index)}\n{cut}"
            f"sat -seq {depth} -prove-asserts{hold}{start} -timeout {int(timeout)} "
            f"-show-inputs{shows} -dump_vcd cex{index:04d}.vcd -verify miter\n")


@dataclass(frozen=True)
class Miter:
    """What the bounded check needs to know of ``miterNNNN.il``: its wires (name ->
    width), the wires registers drive, and how many cells it has."""

    wires: dict[str, int]
    registers: frozenset[str]
    cells: int

    @classmethod
    def read(cls, path: Path) -> Miter:
        text = path.read_text()
        wires = {m[2]: int(m[1] or 1) for m in re.finditer(
            r"^  wire (?:width (\d+) )?(?:(?:input|output|inout) \d+ )?(?:signed )?(\S+)$",
            text, re.M)}
        # every wire a register's output drives (a slice or a concatenation names several)
        regs = frozenset(w for m in re.finditer(
            r"^  cell \$\w*dff\w* \S+\n(?:    (?!connect \\Q ).*\n)*?    connect \\Q (.*)$", text,
            re.M)
            for w in re.findall(r"(?:^|[\s{])(\\\S+|\$\S+)", m[1]))
        return cls(wires, regs, len(re.findall(r"^  cell ", text, re.M)))

    def unproven_registers(self) -> list[str]:
        """Base names of the registers the mutant and the original each have a copy of."""
        return sorted(r[1:-5] for r in self.registers
                      if r.startswith("\\") and r.endswith("_gate"))

    def shared_wide_registers(self, min_width: int) -> list[str]:
        """``cutpoint`` selections of the registers both copies share (proven equal, so
        merged) at least ``min_width`` bits wide: the datapath's, never a counter."""
        paired = {r[:-5] for r in self.wires if r.endswith("_gate")}
        cut = {r for r in self.registers if r.startswith("\\") and r.endswith("_gold")
               and self.wires.get(r, 0) >= min_width and r[:-5] not in paired}
        out = []
        for r in sorted(cut):
            # a select pattern: [ and ] would be a character class, so any character there;
            # used only where it selects no wire but this one's kind
            pat = r[1:].replace("[", "?").replace("]", "?")
            hits = [w for w in self.wires if w.startswith("\\")
                    and fnmatch.fnmatchcase(w[1:], pat)]
            if all(h in cut for h in hits):
                out.append(f"w:{pat}")
        return out


def differing(vcd: Path) -> set[str]:
    """Base names of the signals whose original (``X_gold``) and mutant (``X_gate``) copy
    differ at some time of a counterexample ``vcd``."""
    from bisect import bisect_right

    from trtrl.testbenches.waves import VcdVar, read_vcd

    def at(var: VcdVar, t: int) -> int | None:
        i = bisect_right(var.times, t) - 1
        return var.values[i] if i >= 0 else None

    dump = read_vcd(vcd)
    differ = set()
    for path, gold in dump.vars.items():
        gate = dump.vars.get(path[:-5] + "_gate") if path.endswith("_gold") else None
        if gate is not None and any(at(gold, t) != at(gate, t)
                                    for t in sorted(set(gold.times) | set(gate.times))):
            differ.add(path.rsplit(".", 1)[-1][:-5].lstrip("\\"))
    return differ


def alias_classes(rtlil: Path) -> dict[str, frozenset[str]]:
    """Each wire that a whole-wire connection (``assign a = b``) makes another wire's
    alias, mapped to its class: every name of the same signal, itself included.

    A signal unpaired under one name stays paired under its alias otherwise, and the
    proof still compares it there.
    """
    parent: dict[str, str] = {}

    def find(n: str) -> str:
        while parent.setdefault(n, n) != n:
            n = parent[n]
        return n

    for a, b in re.findall(r"^  connect \\(\S+) \\(\S+)$", rtlil.read_text(), re.M):
        parent[find(a)] = find(b)
    classes: dict[str, set[str]] = {}
    for n in parent:
        classes.setdefault(find(n), set()).add(n)
    return {n: frozenset(c) for c in classes.values() for n in c}


def output_ports(verilog: Path) -> set[str]:
    """The output ports of a design (as Yosys or MyHDL write them)."""
    return set(re.findall(r"^\s*output\s+(?:reg\s+)?(?:signed\s+)?(?:\[[^\]]+\]\s*)?(\w+)",
                          verilog.read_text(), re.M))


@dataclass(frozen=True)
class Proof:
    """A formal verdict on a mutant the simulation did not kill."""

    equivalent: bool | None  # None: a timeout
    bounded: bool = False  # equal only for ``depth`` cycles after reset
    detail: str = ""


def prove_equivalent(mutant: Mutant, top: str, work: Path, timeout: float,
                     reset: tuple[str, int] | None, depth: int,
                     data_width: int | None = None, rounds: int = MAX_ROUNDS) -> Proof:
    """Is ``mutant`` equal to the original design in ``work``?

    First ``equiv_*`` over all states: a complete proof is unbounded. Signals it leaves
    unproven usually depend on states the design never reaches from reset (a counter
    bit above the configuration's range), so their cones are then checked from reset for
    ``depth`` cycles (bounded equivalence); a counterexample there makes the mutant a
    survivor with a witness. A cone through the datapath is checked with the shared
    registers of at least ``data_width`` bits left free (if given) (an over-approximation: equal
    stays proven, but a difference may then be unreachable, and the detail says so).

    Where the counterexample differs only in internal signals (no output port), those
    are unpaired and everything is proved again, up to ``rounds`` times: equal
    outputs are what counts (a pipeline register left unreset differs from reset on,
    but is overwritten before anything reads it).
    """
    deadline = time.perf_counter() + timeout
    ports = output_ports(work / "control.v")
    # the mutated net must not be a cut point of the proof: its two versions differ (a
    # boundary mutant changes a comparison, not the signal it reads)
    alias = alias_classes(work / "prep.il")

    def named(names: set[str]) -> set[str]:
        """``names`` and all their aliases."""
        return names.union(*(alias.get(n, ()) for n in names))

    unpaired = (named({mutant.wire}) - ports if mutant.wire and not mutant.is_text
                else set())
    internal: set[str] = set()  # unpaired because they differed (not outputs)
    blacklist = f"unpaired{mutant.index:04d}.txt"
    log, blog = f"equiv{mutant.index:04d}.log", f"bounded{mutant.index:04d}.log"
    also = ""
    for _ in range(rounds):
        (work / blacklist).write_text("".join(f"{n}\n" for n in sorted(unpaired)) or "\n")
        left = deadline - time.perf_counter()
        if left <= 0:
            return Proof(None, detail=f"out of time after {timeout:g} s{also}")
        rc = _yosys(equivalence_script(mutant, top, blacklist), work, log, left)
        if rc == -1:
            return Proof(None, detail=f"equiv_* timed out after {timeout:g} s{also}")
        equiv_log = (work / log).read_text()
        status = re.search(r"Of those cells (\d+) are proven and (\d+) are unproven",
                           equiv_log)
        if rc != 0 or status is None:
            raise TrtrlError(f"mutate: Yosys failed on the proof of mutant {mutant.index} "
                             f"(see {work / log})")
        also = (f"; internal signals {_names(internal)} differ but reach no output"
                if internal else "")
        unproven = int(status[2])
        if unproven == 0:
            return Proof(True, detail=f"proven equal to the original (equiv_* at depth "
                                      f"{PROOF_DEPTH}, all states){also}")
        miter = Miter.read(work / miter_file(mutant.index))
        if miter.cells > MAX_BOUNDED_CELLS and data_width is None:
            return Proof(False, detail=f"{unproven} signal(s) unproven by equiv_*; their cone "
                                       f"({miter.cells} cells) is too large for the bounded "
                                       f"check{also}")
        cuts = (miter.shared_wide_registers(data_width)
                if miter.cells > MAX_BOUNDED_CELLS and data_width else [])
        free = " with the datapath's registers free" if cuts else ""
        run_reset = reset if reset and f"input port {reset[0]}." in equiv_log else None
        left = max(1.0, deadline - time.perf_counter())
        unproven_names = set(re.findall(r"^  Unproven \$equiv \S+: \\(\S+)_gold ", equiv_log,
                                        re.M))
        # the unproven pairs the miter still names (shown in a counterexample)
        pairs = sorted(n for n in unproven_names
                       if f"\\{n}_gold" in miter.wires and f"\\{n}_gate" in miter.wires)
        script = bounded_script(mutant.index, run_reset, depth, left, cuts,
                                miter.unproven_registers(), pairs)
        rc = _yosys(script, work, blog, left + 30)
        text = (work / blog).read_text() if (work / blog).exists() else ""
        if rc == -1 or "TIMEOUT" in text:
            return Proof(None, detail=f"{unproven} signal(s) unproven by equiv_*; the bounded "
                                      f"check{free} timed out{also}")
        if rc == 0 and "SUCCESS" in text:
            return Proof(True, bounded=True,
                         detail=f"{unproven} signal(s) unproven by equiv_* are equal for "
                                f"{depth} cycles after reset{free}{also}")
        if "FAIL" not in text:
            # out of the WebAssembly Yosys's memory: a cone too large even with the cuts
            return Proof(None, detail=f"{unproven} signal(s) unproven by equiv_*; the bounded "
                                      f"check{free} did not finish ({miter.cells} cells, "
                                      f"see work/{blog}){also}")
        seen = named(differing(work / f"cex{mutant.index:04d}.vcd")) - unpaired
        if not seen and not named(unproven_names) & ports:
            # the failing assertion compares wires the counterexample does not hold; the
            # unproven pairs are all internal (no name of theirs an output), so unpair them
            seen = named(unproven_names) - unpaired
        outputs = sorted(seen & ports)
        if not seen or outputs:
            where = f" at the output {', '.join(outputs)}" if outputs else ""
            maybe = (" (with the datapath's registers free: it may not be reachable)"
                     if cuts else "")
            return Proof(False, detail=f"differs within {depth} cycles of reset{where}"
                                       f"{maybe} (counterexample work/cex"
                                       f"{mutant.index:04d}.vcd){also}")
        unpaired |= seen
        internal |= seen
    return Proof(False, detail=f"internal signals {_names(internal)} differ; after "
                               f"{rounds} round(s) of unpairing them no output is shown to "
                               f"differ or to be equal (counterexample work/cex"
                               f"{mutant.index:04d}.vcd)")


def _names(names: set[str], most: int = 4) -> str:
    shown = sorted(names)
    return ", ".join(shown[:most]) + (f" and {len(shown) - most} more" if len(shown) > most
                                      else "")


# -- one mutant -------------------------------------------------------------------------
def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def judge(camp: Campaign, top: str, mutant: Mutant, work: Path, builds: Path,
          reset: tuple[str, int] | None = None, depth: int = 0,
          data_width: int | None = None) -> Mutant:
    """Simulate ``mutant``; if it survives and ``camp.formal``, try to prove it equivalent
    (for all states, else for ``depth`` cycles after ``reset``)."""
    from trtrl.testbenches.runner import run_case

    t0 = time.perf_counter()
    for tb in (camp.tb, *camp.more):
        res = run_case(tb, camp.sim, verilog=work / mutant_file(mutant.index),
                       manifest=camp.manifest, top=top, tag=f"-mutant{mutant.index:04d}",
                       rerun_with_waves=False, build_root=builds)
        shutil.rmtree(builds / f"{tb.name}-mutant{mutant.index:04d}-{camp.sim}",
                      ignore_errors=True)
        if not res.passed:
            mutant.sim_s = time.perf_counter() - t0
            mutant.verdict, mutant.killed_by = "killed", "scoreboard"
            mutant.detail = f"{tb.name}: {_first_line(res.message)}"
            return mutant
    mutant.sim_s = time.perf_counter() - t0
    mutant.verdict = "survived"
    t0 = time.perf_counter()
    if camp.properties:
        failed = broken_properties(work / mutant_file(mutant.index), camp.manifest,
                                   work / f"props{mutant.index:04d}", camp.formal_timeout)
        if failed:
            mutant.formal_s = time.perf_counter() - t0
            mutant.verdict, mutant.killed_by = "killed", "properties"
            mutant.detail = f"properties: {failed}"
            return mutant
    if camp.formal:
        proof = prove_equivalent(mutant, top, work, camp.formal_timeout, reset, depth,
                                 data_width)
        if proof.equivalent:
            mutant.verdict = "bounded" if proof.bounded else "equivalent"
        mutant.detail = proof.detail
    mutant.formal_s = time.perf_counter() - t0
    return mutant


def broken_properties(verilog: Path, manifest: Path, out: Path, timeout: float) -> str:
    """The core's safety properties (rtl/formal_core.py) that ``verilog`` fails, as a
    line; '' if none fails (they prove, or a timeout, an induction that does not close or
    a core whose signals the properties cannot find: nothing shown either way)."""
    from trtrl.rtl.formal_core import prove_core

    out.mkdir(parents=True, exist_ok=True)
    try:
        proof = prove_core(verilog, Manifest.read(manifest), out, timeout=timeout)
    except TrtrlError:
        return ""
    if proof.proved or not proof.failed:
        return ""
    return (f"{', '.join(f'p_{n}' for n in proof.failed)} fail (counterexample "
            f"work/{out.name}/trace_core.vcd)")


# -- the campaign -----------------------------------------------------------------------
def score(mutants: Sequence[Mutant]) -> dict[str, Any]:
    """Counts per verdict and the score killed / (all - equivalent)."""
    counts = Counter(m.verdict for m in mutants)
    relevant = len(mutants) - counts["equivalent"] - counts["bounded"]
    # the score if only the unbounded proofs removed mutants: the bounded ones kept
    strict = len(mutants) - counts["equivalent"]
    by_scoreboard = sum(m.verdict == "killed" and m.killed_by != "properties" for m in mutants)
    return {"mutants": len(mutants), **{v: counts[v] for v in VERDICTS},
            "killed_by_properties": counts["killed"] - by_scoreboard,
            "score": counts["killed"] / relevant if relevant else None,
            "score_unbounded_only": counts["killed"] / strict if strict else None,
            "score_scoreboard_only": by_scoreboard / relevant if relevant else None}


def bounded_depth(man: Manifest) -> int:
    """Cycles the bounded check covers after reset: the reset, a clear, two learning
    steps and a read-out, so that a difference that shows in the first or the second
    step (with state the first left behind) is found."""
    return 3 + man.clear_cycles + 2 * man.cycles_per_step + man.read_latency


def data_width(man: Manifest) -> int:
    """The narrowest number format's width. Registers at least this wide hold numbers
    (or count to 2**32), never the schedule's counters and flags, so the bounded check
    may leave them free."""
    f = man.fixed
    return min(f.act.total, f.weight.total, f.sens.total)


def reset_of(man: Manifest) -> tuple[str, int]:
    """The design's reset port and its active level."""
    return ("aresetn", 0) if man.interface == AXI_TOP else ("rst", 1)


def run_campaign(camp: Campaign, out: Path,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the campaign; writes the report folder ``out`` (atomically) and returns the
    summary that ``mutation.json`` holds."""
    if not camp.verilog.is_file():
        raise TrtrlError(f"mutate: {camp.verilog}: no such file")
    man = Manifest.read(camp.manifest)
    top = camp.top or man.top
    if camp.mutants < 1:
        raise TrtrlError(f"mutate: --mutants must be at least 1, not {camp.mutants}")
    depth = bounded_depth(man)
    t_start = time.perf_counter()
    with atomic_folder(out) as tmp:
        work, builds = tmp / "work", tmp / "build"
        work.mkdir()
        design = tmp / camp.verilog.name
        shutil.copyfile(camp.verilog, design)
        shutil.copyfile(camp.manifest, tmp / camp.manifest.name)
        mutants = list_mutants(design, top, camp.mutants, camp.seed, work)
        if camp.boundary:
            mutants += boundary_mutants(design, len(mutants))
        lines = design.read_text().splitlines()
        for m in mutants:
            if m.location is not None:
                n = int(m.location.rsplit(":", 1)[1])
                m.source = lines[n - 1].strip()[:120] if 0 < n <= len(lines) else ""
        unwritable = write_mutants(mutants, work, design)
        mutants = [m for m in mutants if m not in unwritable]
        shutil.copyfile(work / MUTANTS_TXT, tmp / MUTANTS_TXT)
        from trtrl.testbenches.runner import run_case

        if camp.properties:
            from trtrl.rtl.formal_core import prove_core

            if man.interface == AXI_TOP:
                raise TrtrlError("mutate: the core's properties need the core (trtrl_array), "
                                 "not its AXI top (leave them out: --no-properties)")
            (work / "props_control").mkdir()
            proof = prove_core(work / "control.v", man, work / "props_control",
                               timeout=camp.formal_timeout)
            if not proof.proved:
                raise TrtrlError("mutate: the unmutated design does not prove the core's "
                                 f"properties ({', '.join(proof.failed) or 'no induction'}; "
                                 f"see {work}/props_control)")
        for tb in (camp.tb, *camp.more):
            control = run_case(tb, camp.sim, verilog=work / "control.v",
                               manifest=camp.manifest, top=top, tag="-control",
                               rerun_with_waves=False, build_root=builds)
            if not control.passed:
                raise TrtrlError("mutate: the unmutated design (as Yosys writes it back) "
                                 f"fails the scoreboard ({tb.name}): "
                                 f"{_first_line(control.message)}")
        done: list[Mutant] = []
        with ProcessPoolExecutor(max_workers=max(1, camp.jobs)) as pool:
            futures = [pool.submit(judge, camp, top, m, work, builds, reset_of(man), depth,
                                   data_width(man))
                       for m in mutants]
            for fut in as_completed(futures):
                done.append(fut.result())
                if progress is not None:
                    progress(len(done), len(mutants))
        done.sort(key=lambda m: m.index)
        summary = {
            "design": camp.verilog.name, "top": top,
            "scoreboard": {"config": camp.tb.name, "sim": camp.sim, "steps": camp.tb.steps,
                           "task": camp.tb.task, "lr_shift": camp.tb.lr_shift,
                           "more": [{"config": t.name, "steps": t.steps, "task": t.task,
                                     "lr_shift": t.lr_shift, "lr_steps": t.lr_steps,
                                     "reset_at": t.reset_at}
                                    for t in camp.more]},
            "seed": camp.seed, "formal": camp.formal, "properties": camp.properties,
            "proof_depth": PROOF_DEPTH,
            "bounded_depth": depth,
            "boundary": sum(m.is_text for m in done),
            # drawn by Yosys but not writable as Verilog: left out of every count
            "unwritable": [m.command for m in unwritable],
            **score(done),
            "by_mode": _by_mode(done),
            "seconds": {"total": round(time.perf_counter() - t_start, 1),
                        "simulation": round(sum(m.sim_s for m in done), 1),
                        "formal": round(sum(m.formal_s for m in done), 1),
                        "jobs": camp.jobs},
            "mutants_list": [_row(m) for m in done],
        }
        write_json(tmp / REPORT_JSON, summary)
        (tmp / REPORT_MD).write_text(report_markdown(summary))
        # the simulations' folders are large; a mutant reruns from work/mutantNNNN.v with
        # `trtrl regress --rtl` and the manifest beside the design
        shutil.rmtree(builds, ignore_errors=True)
    return summary


def _row(m: Mutant) -> dict[str, Any]:
    row = asdict(m)
    del row["edit"]
    row["sim_s"], row["formal_s"] = round(m.sim_s, 2), round(m.formal_s, 2)
    return row


def _by_mode(mutants: Sequence[Mutant]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for m in mutants:
        table.setdefault(m.mode, dict.fromkeys(VERDICTS, 0))[m.verdict or "survived"] += 1
    return dict(sorted(table.items()))


def _shifts(run: dict[str, Any]) -> str:
    steps = run.get("lr_steps")
    reset = ("" if run.get("reset_at") is None else
             f", a reset in the middle of step {run['reset_at']} and the core loaded again")
    if not steps:
        return f"at shift {run['lr_shift']}{reset}"
    return (f"at shifts {', '.join(map(str, steps[:3]))}, ... (one per step, up to "
            f"{max(steps)}){reset}")


def percent(x: float | None) -> str:
    """A score as the report and the command print it."""
    return "-" if x is None else f"{100 * x:.1f}%"


def report_markdown(summary: dict[str, Any]) -> str:
    """The campaign as a page: the score, the counts per mutation mode, the survivors."""
    s = summary
    pct = percent(s["score"])
    sb = s["scoreboard"]
    lines = [
        f"# Mutation campaign: {s['design']} (top {s['top']})", "",
        f"Scoreboard: configuration `{sb['config']}`, {sb['steps']} steps of the "
        f"`{sb['task']}` stimulus at learning-rate shift {sb['lr_shift']} on {sb['sim']}"
        + "".join(f"; then, for a mutant that passes, `{t['config']}` ({t['steps']} steps "
                  f"of `{t['task']}` {_shifts(t)})" for t in sb["more"])
        + f". Mutants: {s['mutants'] - s['boundary']} "
        f"drawn by Yosys `mutate -list` (seed {s['seed']}) and {s['boundary']} of the "
        "boundary class (every comparison with a constant moved onto its bound)."
        + "".join(f" Left out: `{c}`, which Yosys cannot write back as Verilog."
                  for c in s["unwritable"]), "",
        f"**Score: {pct}** ({s['killed']} killed of "
        f"{s['mutants'] - s['equivalent'] - s['bounded']} non-equivalent mutants"
        + (f", {s['killed_by_properties']} of them by the core's properties "
           f"(the scoreboard alone: {percent(s['score_scoreboard_only'])})"
           if s["properties"] else "; properties not checked") + "; "
        f"{s['equivalent']} proven equivalent in every state and {s['bounded']} equal for "
        f"{s['bounded_depth']} cycles after reset, both removed"
        + ("" if s["formal"] else "; formal filter off, so none removed") + f"). Removing "
        f"only the proofs for every state: {percent(s['score_unbounded_only'])}.", "",
        markdown_table(["mode", *VERDICTS],
                       [[mode, *(c[v] for v in VERDICTS)] for mode, c in s["by_mode"].items()]),
    ]
    survivors = [m for m in s["mutants_list"] if m["verdict"] == "survived"]
    lines += [f"## Survivors ({len(survivors)})", ""]
    if survivors:
        lines.append(markdown_table(
            ["#", "location", "source", "mode", "cell port", "net", "formal"],
            [[m["index"], m["location"] or "-", f"`{m['source']}`" if m["source"] else "-",
              m["mode"], f"{m['cell']} {m['port']}", m["wire"] or "-", m["detail"]]
             for m in survivors]))
    else:
        lines.append("None.\n")
    t = s["seconds"]
    lines += ["", f"Time: {t['total']} s on {t['jobs']} job(s) (simulation {t['simulation']} s, "
              f"formal {t['formal']} s, summed over mutants).", ""]
    return "\n".join(lines)
