"""X and Z in a waveform dump: the signals of a design that are not 0/1 after a time.

The testbench checks the DUT's outputs for X/Z as it samples them; this scans a whole
VCD (every signal Icarus dumps, internal ones included) from a given time on, so the
design's "no X after reset and the weight load" property (rtl/README.md) is tested
where no output shows it yet. Memories are not in the dump, only what is read from them.
"""

from __future__ import annotations

from pathlib import Path

from trtrl.testbenches.waves import read_vcd


def unresolved_signals(dump: Path, after_ns: float) -> dict[str, float]:
    """Every variable with an X or Z bit at or after ``after_ns``, with the first such time (ns).

    A variable counts from the value it holds at ``after_ns`` (a value set earlier and
    still X counts at ``after_ns``).
    """
    vcd = read_vcd(Path(dump))
    unit_ns = vcd.timescale_s * 1e9
    start = round(after_ns / unit_ns)
    found: dict[str, float] = {}
    for path, var in vcd.vars.items():
        if var.times and var.times[0] <= start and var.value_at(start) is None:
            found[path] = after_ns
            continue
        for t, v in zip(var.times, var.values, strict=True):
            if t >= start and v is None:
                found[path] = t * unit_ns
                break
    return found
