"""Testbench options: ``--waves`` records a waveform of every cocotb run; ``--tb-seed``
(or ``TRTRL_TB_SEED``) is the base seed of the random configurations ``rand-s<seed>``.

Without it a run records none, but a failing run is repeated once with waveforms on
(see :func:`testbenches.runner.run_case`), so every failure leaves a dump behind.
"""

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trtrl testbenches")
    group.addoption("--waves", action="store_true",
                    help="dump waveforms of every cocotb run (VCD; TRTRL_WAVES_FORMAT=fst for FST)")
    group.addoption("--tb-seed", default=None,
                    help="base seed of the random configurations rand-s<seed> "
                         "(default: TRTRL_TB_SEED, else 1234)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--waves", default=False):
        os.environ["TRTRL_WAVES"] = "1"  # also reaches xdist workers started after this
