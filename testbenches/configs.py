"""The regression's configurations: the matrix, seeded random draws, one-line descriptions.

A :class:`TbConfig` names a configuration of the array (sizes, formats) plus its
stimulus (task, steps, learning) and how much to check (read-back period); the
matrix :data:`CONFIGS` and :func:`random_configs` are what ``trtrl regress`` and the
pytest runner in ``test_trtrl_array.py`` run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trtrl.pymodel.errors import ConfigError, TrtrlError
from trtrl.pymodel.fixed.formats import FixedConfig, FixedFormat
from trtrl.rtl.config import TOP
from trtrl.rtl.manifest import Manifest

SIMULATORS = ("icarus", "verilator")
# The project's default formats (pymodel/fixed/formats.py): a configuration that names no
# format tests the configuration the README advertises.
_DEFAULT_FIXED = FixedConfig()


@dataclass(frozen=True)
class TbConfig:
    """One regression configuration: array size, formats, stimulus and how much to check.

    ``task`` is ``random`` (small random network with a smooth target), ``saturate``
    (large weights and targets, so clamps fire), ``bounds`` or ``sens_bounds`` (directed
    starts on the error and weight, or the sensitivity, bounds), ``freq`` (frequency
    doubler) or ``mackey`` (Mackey-Glass). ``checkpoint_every`` steps the weights and all
    sensitivities are read back (0: only after the last step).
    """

    name: str
    n: int
    m: int
    k: int
    steps: int
    task: str = "random"
    act: FixedFormat = _DEFAULT_FIXED.act
    weight: FixedFormat = _DEFAULT_FIXED.weight
    sens: FixedFormat = _DEFAULT_FIXED.sens
    acc_bits: int | None = None  # None: sized for the network (FixedConfig.sized_for)
    lut_bits: int = _DEFAULT_FIXED.lut_bits
    activation: str = "tanh"
    lr_shift: int | None = None  # None: from the case's learning rate
    checkpoint_every: int = 1
    seed: int = 1
    slow: bool = False
    sims: tuple[str, ...] = SIMULATORS
    compare_float: bool = False  # also report (and bound) the MSE against the float model
    # learning on/off per step (length ``steps``); None: learn on every step
    learn_steps: tuple[bool, ...] | None = None
    # the learning-rate shift per step (length ``steps``; the core's testbench only);
    # None: ``lr_shift`` on every step
    lr_steps: tuple[int, ...] | None = None
    # the step during which ``rst`` is pulsed (the core's testbench only): the step starts,
    # the core is reset half-way through it and reloaded, and the run goes on from that
    # step's sample against a fresh model; None: reset at power-up only
    reset_at: int | None = None
    top: str = TOP  # the generated top level: the core alone, or AXI_TOP (its bus shell)
    lanes: int | None = None  # P, the core's lanes; None: the generator's default

    def fixed(self) -> FixedConfig:
        base = FixedConfig(act=self.act, weight=self.weight, sens=self.sens,
                           acc_bits=self.acc_bits, lut_bits=self.lut_bits,
                           activation=self.activation)
        return base.sized_for(self.m + 1 + self.n, self.k)

    @classmethod
    def from_manifest(cls, man: Manifest, name: str, steps: int, **options: Any) -> TbConfig:
        """The configuration of a generated (or user's) array: sizes and formats as built."""
        f = man.fixed
        return cls(name=name, n=man.n, m=man.m, k=man.k, steps=steps, act=f.act,
                   weight=f.weight, sens=f.sens, acc_bits=f.acc_bits, lut_bits=f.lut_bits,
                   activation=f.activation, lanes=man.details.get("lanes"), **options)


_F = FixedFormat.parse

# The matrix. The core's own run (test_trtrl_array.py), by default: tiny on both
# simulators, faults on Icarus (test_faults.py); the rest is marked slow. The same matrix
# runs through the AXI top (test_trtrl_axi.py, DEFAULT_MATRIX says which by default).
CONFIGS: dict[str, TbConfig] = {
    c.name: c
    for c in (
        TbConfig("tiny", n=2, m=1, k=1, steps=40),
        # fewer lanes than neurons: three row groups, the last one half padding
        TbConfig("lanes2", n=5, m=1, k=2, steps=30, lanes=2),
        TbConfig("k_eq_n", n=3, m=1, k=3, steps=30, slow=True),
        TbConfig("m0", n=3, m=0, k=1, steps=30, slow=True),
        TbConfig("narrow", n=3, m=2, k=2, steps=40, act=_F("10.8"), weight=_F("10.6"),
                 sens=_F("10.6"), lut_bits=8, task="saturate", slow=True),
        TbConfig("wide", n=3, m=1, k=2, steps=30, act=_F("24.22"), weight=_F("24.18"),
                 sens=_F("24.18"), lut_bits=12, slow=True),
        TbConfig("sigmoid", n=3, m=1, k=1, steps=30, activation="sigmoid", slow=True),
        # slow: N = 15 on Verilator is in the default run through the AXI top (the
        # 6,000-step freq15_learn, test_trtrl_axi.py), which holds this core
        TbConfig("freq15", n=15, m=1, k=1, steps=60, task="freq", checkpoint_every=20,
                 sims=("verilator",), slow=True),
        TbConfig("freq15_icarus", n=15, m=1, k=1, steps=60, task="freq", checkpoint_every=20,
                 sims=("icarus",), slow=True),
        TbConfig("mackey25", n=25, m=1, k=1, steps=100, task="mackey", checkpoint_every=50,
                 slow=True),
        # N = K = 1, format P = A: the directed start lands sensitivities and their inner
        # sums on P's bounds and pushes the inner sums past both (stimulus.py)
        TbConfig("sens_bounds", n=1, m=2, k=1, steps=20, task="sens_bounds", sens=_F("16.14"),
                 lr_shift=4, slow=True),
        # the paper's example: N = 100, K = 10 on the default 10 lanes (ten row groups)
        TbConfig("paper100", n=100, m=1, k=10, steps=100, checkpoint_every=50,
                 sims=("verilator",), slow=True),
        # lr 2**-5: the rate the default formats were chosen at (pymodel/fixed/formats.py);
        # see testbenches/README.md, "Learning-curve margin", for 2**-4
        TbConfig("freq15_learn", n=15, m=1, k=1, steps=6000, task="freq", lr_shift=5,
                 checkpoint_every=1000, sims=("verilator",), slow=True, compare_float=True),
    )
}

# The fault configuration: the hand-written faults (test_faults.py) and the mutation
# campaign (`trtrl mutate`) run this quick scoreboard. W has one integer bit (range +-2),
# so weights reach their clamp within a few steps, and the large rate drives the
# sensitivities into theirs; the `bounds` task starts with values exactly on the weight
# and error bounds (testbenches/stimulus.py).
FAULT_CFG = TbConfig("fault_tiny", n=2, m=1, k=1, steps=40, task="bounds",
                     weight=_F("16.14"), sens=_F("16.13"), lr_shift=1, sims=("icarus",))


# -- seeded random configurations ---------------------------------------------------------
# Formats the draws pick from: narrow ones that saturate, the old 16.12 pair, the project
# defaults and wide ones. (act, weight, sens, lut_bits); a draw whose formats the
# activation cannot use (FixedConfig refuses them) takes the next format of the list.
RANDOM_FORMATS: tuple[tuple[str, str, str, int], ...] = (
    ("10.8", "10.6", "10.6", 8),
    ("12.10", "12.8", "12.8", 8),
    ("16.14", "16.12", "16.12", 10),
    (str(_DEFAULT_FIXED.act), str(_DEFAULT_FIXED.weight), str(_DEFAULT_FIXED.sens),
     _DEFAULT_FIXED.lut_bits),
    ("24.22", "24.18", "24.18", 12),
)
DEFAULT_TB_SEED = 1234
RANDOM_DRAWS = 3  # default run: Icarus only
RANDOM_DRAWS_FULL = 12  # --full: both simulators


def random_config(seed: int, sims: tuple[str, ...] = SIMULATORS) -> TbConfig:
    """A small configuration drawn from ``numpy.random.default_rng(seed)``, named ``rand-s<seed>``.

    N in 1..4, M in 0..2, K in 1..N, P (lanes) in 1..N, tanh or sigmoid, formats from
    :data:`RANDOM_FORMATS`, task random or saturate, ``lr_shift`` in 1..8, learning
    switched on/off per step (each step off with probability 1/4, or every step on/off
    for a whole run now and then), 20..30 steps, a full read-back after every step.
    Only the seed matters: the same seed gives the same configuration whatever the base
    seed of the run was.
    """

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    m = int(rng.integers(0, 3))
    k = int(rng.integers(1, n + 1))
    activation = ("tanh", "sigmoid")[int(rng.integers(0, 2))]
    task = ("random", "saturate")[int(rng.integers(0, 2))]
    lr_shift = int(rng.integers(1, 9))
    steps = int(rng.integers(20, 31))
    mode = int(rng.integers(0, 8))  # 0: never learn, 1: always, else per step
    if mode == 0:
        learn = np.zeros(steps, dtype=bool)
    elif mode == 1:
        learn = np.ones(steps, dtype=bool)
    else:
        learn = rng.random(steps) >= 0.25
    first = int(rng.integers(0, len(RANDOM_FORMATS)))
    lanes = int(rng.integers(1, n + 1))  # drawn last: the earlier draws are as they were
    for i in range(len(RANDOM_FORMATS)):
        act, weight, sens, lut_bits = RANDOM_FORMATS[(first + i) % len(RANDOM_FORMATS)]
        cfg = TbConfig(f"rand-s{seed}", n=n, m=m, k=k, steps=steps, task=task, act=_F(act),
                       weight=_F(weight), sens=_F(sens), lut_bits=lut_bits,
                       activation=activation,
                       lr_shift=lr_shift, checkpoint_every=1, seed=seed, sims=sims,
                       learn_steps=tuple(bool(v) for v in learn), lanes=lanes)
        try:
            cfg.fixed()
        except ConfigError:
            continue
        return cfg
    raise TrtrlError(f"random_config({seed}): no format of RANDOM_FORMATS fits")  # not reached


def random_configs(base_seed: int, full: bool) -> list[TbConfig]:
    """The draws of a run: seeds ``base_seed, base_seed + 1, ...`` (3, or 12 with --full)."""
    count = RANDOM_DRAWS_FULL if full else RANDOM_DRAWS
    sims = SIMULATORS if full else ("icarus",)
    return [random_config(base_seed + i, sims) for i in range(count)]


def describe(cfg: TbConfig) -> str:
    """One line naming a configuration's sizes, formats, task and learning."""
    learn = ("every step" if cfg.learn_steps is None or all(cfg.learn_steps) else
             "never" if not any(cfg.learn_steps) else
             f"{sum(cfg.learn_steps)}/{len(cfg.learn_steps)} steps")
    lanes = f" lanes={cfg.lanes}" if cfg.lanes is not None else ""
    return (f"N={cfg.n} M={cfg.m} K={cfg.k}{lanes} {cfg.activation} A={cfg.act} W={cfg.weight} "
            f"P={cfg.sens} lut_bits={cfg.lut_bits} task={cfg.task} lr_shift={cfg.lr_shift} "
            f"steps={cfg.steps} learn {learn}")
