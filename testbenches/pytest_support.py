"""What the pytest runners of the testbenches share: the random draws' base seed and the
record of a run (JUnit properties, and the per-test JSON the regression summary reads)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from trtrl.testbenches.configs import DEFAULT_TB_SEED


def tb_seed(config: pytest.Config) -> int:
    """Base seed of the random draws: ``--tb-seed``, else ``TRTRL_TB_SEED``, else fixed."""
    value = config.getoption("--tb-seed", default=None)
    if value is None:
        value = os.environ.get("TRTRL_TB_SEED") or DEFAULT_TB_SEED
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"--tb-seed / TRTRL_TB_SEED: expected an integer, "
                                f"got {value!r}") from None


def waves_option(request: pytest.FixtureRequest) -> bool | None:
    """``--waves`` given: dump every run; else None (the runner's default, ``TRTRL_WAVES``)."""
    return bool(request.config.getoption("--waves", default=False)) or None


def record(request: pytest.FixtureRequest, res: Any) -> None:
    """Attach the run's numbers to the JUnit XML and to the regression summary."""
    for key in ("steps", "cycles_per_step", "sim_cycles_per_s", "steps_per_s", "build_s",
                "wall_s", "waves"):
        request.node.user_properties.append((key, getattr(res, key)))
    out = os.environ.get("TRTRL_REGRESS_OUT")
    if out:
        path = Path(out) / "results" / f"{res.test}-{res.sim}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res.to_json(), indent=1))


__all__ = ["record", "tb_seed", "waves_option"]
