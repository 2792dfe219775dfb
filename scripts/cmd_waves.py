"""`trtrl waves DUMP.vcd`: draw chosen signals of a step window as a PNG, in decimal.

Packed vectors of the interface (``s_x``, ``s_d``, ``r_y``, ``r_e``) are split into
their elements and shown as fixed-point values (format A from the manifest); ``m_rdata``
and ``m_wdata`` as format W; counters as integers; one-bit signals as logic traces. Name
an element with ``r_y[3]``. The core's internal signals go by their names in the
generated Verilog (``testbenches/waves.py`` lists those it knows, for the folded core:
``st``, ``u``, ``Er``, ``Eaddr``, ``fr``, ``fj``, ``a7_y``, ``a7_fp``, ``a7_e``,
``lane0_wd``, ``lane0_e7_p``, ``lane0_w3_w``, ...): the state ``st`` by name, the known
fixed-point ones in decimal with their format (W, A, P or a sum of fractions). Steps are
located by the ``r_valid`` pulses of the dump (step ``s`` ends at pulse ``s``); the
window runs from the end of step ``--from - 1`` to just after the end of step ``--to``,
and dashed lines mark the ends of steps ``--from`` to ``--to``. For GTKWave, open the
``.gtkw`` save file the testbench writes beside a dump.

A dump of the AXI top (``trtrl_axi``) has its own names: the streams' ``s_axis_*`` and
``m_axis_*``, AXI4-Lite's ``s_axil_*``, and the core's ports below the shell as
``core_<port>`` (``core_busy``, ``core_r_y``), its internals with the instance's prefix
(``trtrl_array0_st``; ``st`` finds it too). There a step ends when the last beat of its
result packet is taken (``m_axis_tvalid & m_axis_tready & m_axis_tlast`` at a rising
``aclk``); ``TDATA`` is drawn as format A (the words are sign-extended format-A values)
with a dot at every beat taken.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig
from trtrl.pymodel.paths import user_path
from trtrl.rtl.config import AXI_TOP, MANIFEST_FILE
from trtrl.rtl.manifest import Manifest

# the handshakes, the controller's state by name and the slot's column, the results
DEFAULT_SIGNALS = "s_valid,s_ready,busy,st,Eaddr,r_valid,r_y,r_e,step_count"
# what a user of the AXI top sees: both streams' handshakes, the results, the core busy,
# and inside the core its state and the column of its update slot
AXI_DEFAULT_SIGNALS = ("s_axis_tvalid,s_axis_tready,s_axis_tlast,core_busy,st,Eaddr,"
                       "m_axis_tvalid,m_axis_tready,m_axis_tlast,m_axis_tdata")
A_VECTORS = ("s_x", "s_d", "r_y", "r_e")
W_WORDS = ("m_rdata", "m_wdata")
STREAM_DATA = ("s_axis_tdata", "m_axis_tdata")  # format-A words sign-extended to TDATA
CORE_PREFIX = "core_"  # the core's ports below the AXI shell (rtl/shell.py, flattened)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("waves", help="plot signals of a waveform dump (VCD) over a step window",
                       description=__doc__)
    p.add_argument("dump", type=user_path, help="waveform file (.vcd; FST is not readable here)")
    p.add_argument("--signals", default=None,
                   help=f"comma-separated names, NAME[e] for one element (default "
                   f"{DEFAULT_SIGNALS}; for the AXI top {AXI_DEFAULT_SIGNALS}; those the "
                   "dump lacks are left out)")
    p.add_argument("--from", dest="first", type=int, default=0, help="first step (default 0)")
    p.add_argument("--to", dest="last", type=int, default=None, help="last step (default first+4)")
    p.add_argument("--manifest", default=None, type=user_path,
                   help="trtrl_array.json or trtrl_axi.json for the formats (default: found "
                   "from the dump's folder)")
    p.add_argument("-o", "--out", default=None, type=user_path,
                   help="PNG to write (default DUMP-STEPS.png)")
    p.set_defaults(handler=main)


def _find_manifest(dump: Path, given: Path | None) -> Manifest | None:
    """``--manifest``, else the one beside the dump or the one its testbench config names."""
    if given:
        return Manifest.read(given)
    for name in (MANIFEST_FILE, f"{AXI_TOP}.json"):
        if (dump.parent / name).is_file():
            return Manifest.read(dump.parent / name)
    tb_config = dump.parent / "tb_config.json"
    if tb_config.is_file():
        named = json.loads(tb_config.read_text()).get("manifest")
        if named and Path(named).is_file():
            return Manifest.read(named)
    return None


def _parse_signal(spec: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"\s*([\w.$]+)\s*(?:\[(\d+)\])?\s*", spec)
    if not m:
        raise TrtrlError(f"--signals: cannot read {spec!r} (NAME or NAME[element])")
    return m.group(1), int(m.group(2)) if m.group(2) else None


def main(args: argparse.Namespace) -> int:
    facts = plot_window(Path(args.dump), args.signals, args.first, args.last, args.manifest,
                        Path(args.out) if args.out else None)
    print(f"wrote {facts['png']} (steps {facts['first']}..{facts['last']}, "
          f"t = {facts['t0_ns']:.0f} .. {facts['t1_ns']:.0f} ns)")
    return 0


def plot_window(dump: Path, signals: str | None = None, first: int = 0,
                last: int | None = None, manifest_path: Path | None = None,
                out: Path | None = None) -> dict[str, Any]:
    """Draw steps ``first``..``last`` of ``dump``; return what the picture shows.

    The window runs from the end of step ``first - 1`` (where step ``first`` begins) to
    a little after the end of step ``last``; each step's end is marked "step s done",
    for ``first``..``last`` only, so the marks agree with the title. ``signals`` (comma
    separated) defaults to :data:`DEFAULT_SIGNALS`, or :data:`AXI_DEFAULT_SIGNALS` for a
    dump of the AXI top. The facts' ``rows``: each row's label and the names on its y
    axis (a state's names), top to bottom.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from trtrl.pymodel.fixed.words import to_signed
    from trtrl.testbenches.waves import (
        axi_step_times,
        beats,
        core_signal,
        is_axi_dump,
        read_vcd,
        read_vcd_names,
        rising_edges,
        state_names,
        top_scope,
    )

    dump = Path(dump)
    if not dump.is_file():
        raise TrtrlError(f"{dump}: no such file")
    header = read_vcd_names(dump) if dump.suffix != ".fst" else set()
    axi = is_axi_dump(header)
    defaulted = signals is None
    if signals is None:
        signals = AXI_DEFAULT_SIGNALS if axi else DEFAULT_SIGNALS
    specs = [_parse_signal(s) for s in signals.split(",") if s.strip()]
    # the default's internals (st, Eaddr) are the core's: a stand-in has none
    if defaulted and header:
        specs = [s for s in specs if core_signal(header, s[0])[0] in header]
    if not specs:
        raise TrtrlError("--signals: give at least one signal")
    manifest = _find_manifest(dump, manifest_path)
    fixed = manifest.fixed if manifest else FixedConfig()
    a_fmt = (fixed.act.total, fixed.act.frac)
    w_fmt = (fixed.weight.total, fixed.weight.frac)
    top = top_scope(dict.fromkeys(header, 0)) if axi else ""
    handshakes = [f"{top}{s}_{n}" for s in ("s_axis", "m_axis")
                  for n in ("tvalid", "tready", "tlast")]
    clock = [top + "aclk"] + handshakes if axi else ["r_valid", "clk"]
    # the core's signals by their bare-core names, also below the AXI shell
    found = {n: core_signal(header, n) for n, _ in specs}
    fracs = {"A": a_fmt[1], "W": w_fmt[1], "P": fixed.sens.frac}
    names = sorted({path for path, _ in found.values()} | set(clock))
    vcd = read_vcd(dump, names)
    ends = axi_step_times(dump, top).ends if axi else rising_edges(vcd.find("r_valid"))
    taken: dict[str, list[int]] = {}  # the beats of each stream, for TDATA's dots
    if axi:
        edges = rising_edges(vcd.vars[top + "aclk"])
        taken = {f"{s}_tdata": [t for t, _ in beats(vcd, top, s, edges)]
                 for s in ("s_axis", "m_axis")}
    first = max(0, first)
    last = first + 4 if last is None else last
    if last < first:
        raise TrtrlError(f"--to {last} is before --from {first}")
    if not ends:
        t0, t1 = 0, vcd.end_time
    else:
        if first >= len(ends):
            raise TrtrlError(f"--from {first}: the dump has {len(ends)} steps (0..{len(ends) - 1})")
        last = min(last, len(ends) - 1)
        t0 = ends[first - 1] if first > 0 else 0
        t1 = ends[last] + (ends[last] - t0) // max(1, 4 * (last - first + 1))
    scale_ns = vcd.timescale_s / 1e-9
    fig, axes = plt.subplots(len(specs), 1, figsize=(12, 1.1 + 1.3 * len(specs)), sharex=True,
                             squeeze=False)
    for ax, (name, elem) in zip(axes[:, 0], specs, strict=True):
        path, kind = found[name]
        var = vcd.find(path)
        # changes inside the window, plus the value at its start
        pts = [(t0, var.value_at(t0))] + [(t, v) for t, v in zip(var.times, var.values, strict=True)
                                         if t0 < t <= t1]
        pts.append((t1, pts[-1][1]))
        ts = [t * scale_ns for t, _ in pts]
        short = var.name
        shown = short if "." in name else name  # the name asked for (st, not trtrl_array0_st)
        # the core's ports below the AXI shell are the array's, named core_<port>
        base = short[len(CORE_PREFIX):] if short.startswith(CORE_PREFIX) else short
        if var.width == 1:
            ax.step(ts, [v if v is not None else 0.5 for _, v in pts], where="post", color="k")
            ax.set_ylim(-0.2, 1.2)
            ax.set_yticks([0, 1])
            label = shown
        elif base in A_VECTORS or base in W_WORDS:
            total, frac = a_fmt if base in A_VECTORS else w_fmt
            count = var.width // total if base in A_VECTORS else 1
            elems = [elem] if elem is not None else list(range(min(count, 8)))
            for e in elems:
                if e >= count:
                    raise TrtrlError(f"{name}[{e}]: {name} has {count} elements")
                vals = [to_signed(v >> (e * total), total) / (1 << frac) if v is not None
                        else float("nan") for _, v in pts]
                ax.step(ts, vals, where="post", label=f"{shown}[{e}]")
            if len(elems) > 1:
                ax.legend(loc="upper left", fontsize=7, ncol=min(len(elems), 8))
            label = f"{shown}{f'[{elem}]' if elem is not None else ''}\n({total}.{frac})"
        elif kind == "state":  # the controller's state, by name
            states = state_names(header)
            ax.step(ts, [v if v is not None else float("nan") for _, v in pts], where="post",
                    color="tab:purple")
            ax.set_yticks(range(len(states)), states, fontsize=7)
            ax.set_ylim(-0.5, len(states) - 0.5)
            label = f"{name}\n(state)"
        elif kind is not None and kind.isupper():  # a fixed-point quantity of the core
            frac = sum(fracs[c] for c in kind)
            ax.step(ts, [to_signed(v, var.width) / (1 << frac) if v is not None
                         else float("nan") for _, v in pts], where="post")
            label = f"{name}\n({kind}: /2^{frac})"
        elif short in STREAM_DATA:
            total, frac = a_fmt

            def real(v: int | None, width: int = var.width, frac: int = frac) -> float:
                return to_signed(v, width) / (1 << frac) if v is not None else float("nan")

            # the bus between beats in grey, each beat taken as a dot (at the clock edge
            # that takes it, with the value it held before that edge)
            ax.step(ts, [real(v) for _, v in pts], where="post", color="0.6", lw=0.8)
            got = [t for t in taken.get(short, []) if t0 < t <= t1]
            ax.plot([t * scale_ns for t in got], [real(var.value_at(t - 1)) for t in got],
                    ".", color="tab:blue", ms=4, label="beat taken")
            if got:
                ax.legend(loc="upper left", fontsize=7)
            label = f"{short}\n({total}.{frac})"
        else:
            ax.step(ts, [v if v is not None else float("nan") for _, v in pts], where="post")
            label = shown
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        for s, t in enumerate(ends):
            if first <= s <= last:
                ax.axvline(t * scale_ns, color="tab:red", ls="--", lw=0.7)
                if ax is axes[0, 0]:
                    ax.annotate(f"step {s} done", (t * scale_ns, 1.02),
                                xycoords=("data", "axes fraction"), fontsize=7,
                                color="tab:red", ha="center")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("simulation time (ns)")
    fig.suptitle(f"{dump.name}: steps {first}..{last}", y=0.995)
    fig.tight_layout()
    out = out if out is not None else dump.with_name(f"{dump.stem}-steps{first}-{last}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    # what each row shows: its label and the names on its y axis (a state's names)
    rows = [{"label": ax.get_ylabel(), "yticks": [t.get_text() for t in ax.get_yticklabels()]}
            for ax in axes[:, 0]]
    plt.close(fig)
    tmp.replace(out)
    return {"png": str(out), "first": first, "last": last, "t0_ns": t0 * scale_ns,
            "t1_ns": t1 * scale_ns, "rows": rows, "marked_steps": [s for s in range(len(ends))
                                                    if first <= s <= last]}
