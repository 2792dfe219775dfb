"""Word-length sweep: final MSE of fixed-point TRTRL vs bits (8..24), both tasks of the paper.

The tasks are the frequency doubler and Mackey-Glass prediction of the paper (Budik &
Elhanany, 2006), as ``pymodel/tasks.py`` builds them.

Every format is scaled together from the defaults (``pymodel/fixed/formats.py``): at a
word length of ``B`` bits each format keeps its integer bits and gets ``B - 16`` more (or
fewer) fraction bits, so ``A = B.(B-2)`` and, with the default ``W = 18.14``,
``W = (B+2).(B-2)``; the table keeps its default ``lut_bits`` (capped so its bins are no
finer than the accumulator LSB) and the accumulator is as wide as the network needs.

"Final MSE" is measured after training: the network learns online for ``--steps`` steps,
then runs 1000 more (``TEST_STEPS``) with learning off (state carried on), and the MSE of those
errors is reported. Freezing the weights makes the number insensitive to the occasional
burst of online learning at a large rate; the float64 TRTRL is evaluated the same way
with ``lr = 2**-lr_shift`` (the fixed model's rate) and drawn as a horizontal line.
Rates: ``2**-5`` for the doubler, ``2**-6`` for Mackey-Glass (``TASK_LR_SHIFT``).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtrl.pymodel.errors import TrtrlError
from trtrl.pymodel.fixed import FixedConfig, FixedFormat, FixedTRTRL, default_config, quantize_case
from trtrl.pymodel.models import make_model
from trtrl.pymodel.paths import user_path
from trtrl.pymodel.tasks import freq_doubler_case, mackey_glass_case

BITS_FULL = list(range(8, 25))
BITS_QUICK = [8, 10, 12, 16, 20, 24]
TASKS = ("freq-doubler", "mackey-glass")
DEFAULT_STEPS = 10000
QUICK_STEPS = 2000
TEST_STEPS = 1000
# Learning rates 2**-shift: the doubler's own 0.05 (2**-4) makes online learning bursty in
# the float model too, so its final MSE would be noise; 2**-5 is smooth (see formats.py).
TASK_LR_SHIFT = {"freq-doubler": 5, "mackey-glass": 6}


@dataclass
class Result:
    """One point of the sweep."""

    task: str
    bits: int
    cfg: FixedConfig | None  # None: the float64 model
    mse: float
    sat: int
    lr_shift: int
    seed: int
    steps: int


def scaled_config(bits: int, activation: str = "tanh", base: FixedConfig | None = None,
                  columns: int = 1) -> FixedConfig:
    """The default formats moved to a ``bits``-bit word (see the module docstring)."""
    base = base or default_config(activation)
    delta = bits - base.act.total

    def move(fmt: FixedFormat) -> FixedFormat:
        return FixedFormat(fmt.total + delta, max(fmt.frac + delta, 0))

    act, weight, sens = move(base.act), move(base.weight), move(base.sens)
    probe = FixedConfig(act=act, weight=weight, sens=sens, acc_bits=64, lut_bits=2,
                        lut_range=base.lut_range, activation=activation)
    # Bins no finer than the accumulator LSB: lut_shift >= 0.
    lut_bits = min(base.lut_bits, weight.frac + act.frac + base.lut_range + 1)
    acc_bits = probe.min_acc_bits(columns)
    return FixedConfig(act=act, weight=weight, sens=sens, acc_bits=acc_bits, lut_bits=lut_bits,
                       lut_range=base.lut_range, activation=activation)


def make_case(task: str, steps: int, seed: int) -> Any:
    """The task's case with ``steps`` training plus ``TEST_STEPS`` test steps."""
    if task == "freq-doubler":
        return freq_doubler_case(steps, seed=seed)
    if task == "mackey-glass":
        return mackey_glass_case(steps, seed=seed)
    raise TrtrlError(f"task: unknown {task!r}")


def fixed_train_test_mse(case: Any, cfg: FixedConfig, lr_shift: int, train_steps: int
                         ) -> tuple[float, int]:
    """Train ``train_steps`` online, then MSE of the remaining steps with learning off.

    Returns ``(mse, saturation events)``; the MSE is in the task's scaled units (floats
    only here, outside the bit-accurate steps).
    """
    x_q, d_q, w0_q = quantize_case(case, cfg)
    model = FixedTRTRL(w0_q, x_q.shape[1], d_q.shape[1], cfg, lr_shift, learn=True)
    model.run(x_q[:train_steps], d_q[:train_steps], weights_every=0)
    model.learn = False
    e = model.run(x_q[train_steps:], d_q[train_steps:], weights_every=0)["e"]
    return float(np.mean((e / 2.0**cfg.act.frac) ** 2)), int(model.sat_count)


def float_train_test_mse(case: Any, lr: float, train_steps: int) -> float:
    """The float64 TRTRL evaluated exactly like :func:`fixed_train_test_mse`."""
    model = make_model("trtrl", case.w0, case.m, case.k, lr, case.activation)
    model.run(case.x[:train_steps], case.d[:train_steps], weights_every=0)
    model.lr = 0.0
    e = model.run(case.x[train_steps:], case.d[train_steps:], weights_every=0)["e"]
    return float(np.mean(np.asarray(e) ** 2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", required=True, type=user_path, metavar="DIR",
                        help="report folder (written atomically; replaced if it exists)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{len(BITS_QUICK)} word lengths, {QUICK_STEPS} training steps")
    parser.add_argument("--seed", type=int, default=0, help="task seed (initial weights)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default {DEFAULT_STEPS}, --quick {QUICK_STEPS})")


def sweep(steps: int, seed: int, bits_list: list[int], progress: bool = True) -> list[Result]:
    """Float reference and every word length, for both tasks."""
    from tqdm import tqdm

    results: list[Result] = []
    jobs = [(task, bits) for task in TASKS for bits in [0, *bits_list]]
    bar = tqdm(jobs, desc="precision sweep", unit="run", disable=not progress)
    cases = {task: make_case(task, steps + TEST_STEPS, seed) for task in TASKS}
    for task, bits in bar:
        case = cases[task]
        lr_shift = TASK_LR_SHIFT[task]
        bar.set_postfix_str(f"{task} {'float' if bits == 0 else f'{bits} bits'}")
        if bits == 0:
            mse = float_train_test_mse(case, 2.0**-lr_shift, steps)
            results.append(Result(task, 0, None, mse, 0, lr_shift, seed, steps))
            continue
        cfg = scaled_config(bits, case.activation, columns=case.w0.shape[1])
        mse, sat = fixed_train_test_mse(case, cfg, lr_shift, steps)
        results.append(Result(task, bits, cfg, mse, sat, lr_shift, seed, steps))
    return results


HEADERS = ["task", "bits", "fmt_A", "fmt_W", "fmt_P", "acc_bits", "lut_bits", "lut_range",
           "lr_shift", "seed", "train_steps", "test_steps", "mse", "mse_float", "ratio",
           "sat_events"]


def _rows(results: list[Result]) -> list[list[Any]]:
    ref = {r.task: r.mse for r in results if r.cfg is None}
    rows = []
    for r in results:
        if r.cfg is None:
            continue
        c = r.cfg
        rows.append([r.task, r.bits, str(c.act), str(c.weight), str(c.sens), c.acc_bits,
                     c.lut_bits, c.lut_range, r.lr_shift, r.seed, r.steps, TEST_STEPS, r.mse,
                     ref[r.task], r.mse / ref[r.task], r.sat])
    return rows


def _plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, task in enumerate(TASKS):
        pts = [r for r in results if r.task == task and r.cfg is not None]
        ref = next(r.mse for r in results if r.task == task and r.cfg is None)
        color = f"C{i}"
        ax.plot([r.bits for r in pts], [max(r.mse, 1e-12) for r in pts], "o-", color=color,
                label=f"{task} fixed point")
        ax.axhline(ref, color=color, ls="--", label=f"{task} float64")
    ax.set_yscale("log")
    ax.set_xlabel("word length B (A = B.(B-2), W and P scaled alike)")
    ax.set_ylabel("test MSE after training")
    ax.set_title("Fixed-point TRTRL: MSE vs word length")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(results: list[Result], rows: list[list[Any]], args_text: str) -> str:
    lines = [
        "# Fixed-point TRTRL: precision sweep",
        "",
        f"Command: `trtrl experiment precision {args_text}`",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        f"Seeds: task seed {results[0].seed} for both tasks (initial weights"
        " `np.random.default_rng(seed)`); no other randomness.",
        "",
    ]
    default = default_config()
    lines += [f"Defaults scaled: A {default.act}, W {default.weight}, P {default.sens}, "
              f"lut_bits {default.lut_bits}.", ""]
    for task in TASKS:
        ref = next(r for r in results if r.task == task and r.cfg is None)
        lines.append(f"- {task}: float64 TRTRL test MSE {ref.mse:.4g} (lr = 2**-{ref.lr_shift}, "
                     f"{ref.steps} training steps, {TEST_STEPS} test steps)")
    lines += ["", "| task | bits | A | W | P | lut_bits | MSE | / float | sat events |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[6]} | {r[12]:.4g} | "
                     f"{r[14]:.3g} | {r[15]} |")
    lines += ["", "![MSE vs word length](precision.png)", ""]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    steps = args.steps if args.steps is not None else (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    if steps < 1:
        raise TrtrlError(f"steps: must be >= 1, got {steps}")
    bits_list = BITS_QUICK if args.quick else BITS_FULL
    results = sweep(steps, args.seed, bits_list)
    rows = _rows(results)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise TrtrlError(f"out: {out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        with (tmp / "precision.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADERS)
            writer.writerows(rows)
        _plot(results, tmp / "precision.png")
        args_text = f"-o {out}" + (" --quick" if args.quick else "") + \
            f" --seed {args.seed} --steps {steps}"
        (tmp / "precision.md").write_text(_markdown(results, rows, args_text))
        os.chmod(tmp, 0o755)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ratio = {r[0]: r[14] for r in rows if r[1] == default_config().act.total}
    print(f"wrote {out}/precision.{{csv,md,png}}; MSE/float at 16 bits: "
          + ", ".join(f"{k} {v:.3g}" for k, v in ratio.items()))
    return 0
