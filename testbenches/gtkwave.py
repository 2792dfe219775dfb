"""GTKWave headless: load a save file under Xvfb, report what it shows, take a screenshot.

:func:`probe` opens a save file (``gtkwave -S SCRIPT FILE.gtkw``: the dump is found
through the file's own ``[dumpfile]``) and has GTKWave's Tcl interface list every trace
(name, flags, value at the primary marker), the visible time window and the named
markers. :func:`screenshot` shows the same file in a real window on a virtual X
display and captures it as a PNG (``python -m trtrl.testbenches.gtkwave FILE.gtkw OUT.png``,
used by ``make images``). Both need ``gtkwave`` and ``Xvfb``
(``apt-get install gtkwave xvfb``) and, for the screenshot, ImageMagick's ``import``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from trtrl.pymodel.errors import TrtrlError

TIMEOUT_S = 120.0
# Marker letters A..Z and the Tcl that prints what GTKWave loaded, one fact a line.
_PROBE_TCL = r"""
set n [gtkwave::getTotalNumTraces]
puts "TRTRL traces $n"
for {set i 0} {$i < $n} {incr i} {
  set name [gtkwave::getTraceNameFromIndex $i]
  set flags [gtkwave::getTraceFlagsFromIndex $i]
  set value [gtkwave::getTraceValueAtMarkerFromIndex $i]
  puts "TRTRL trace $i [format %x $flags] {$name} {$value}"
}
puts "TRTRL window [gtkwave::getWindowStartTime] [gtkwave::getWindowEndTime]"
puts "TRTRL marker [gtkwave::getMarker]"
puts "TRTRL wavewidth [gtkwave::getWaveWidth]"
foreach m {A B C D E F G H I J K L M N O P Q R S T U V W X Y Z} {
  puts "TRTRL named $m [gtkwave::getNamedMarker $m]"
}
puts "TRTRL dump [gtkwave::getDumpFileName]"
puts "TRTRL end"
gtkwave::/File/Quit
"""
# A timer script (-R) runs inside GTK's main loop: its first output means the window is up.
_READY_TCL = 'puts "TRTRL ready"\nflush stdout\n'
# Keep a user's ~/.gtkwaverc out of it; the splash screen would cover the window.
_RC = "splash_disable 1\n"


def available() -> bool:
    """Whether ``gtkwave`` and ``Xvfb`` are installed."""
    return bool(shutil.which("gtkwave") and shutil.which("Xvfb"))


@contextlib.contextmanager
def xvfb(width: int = 1700, height: int = 1100) -> Iterator[str]:
    """A virtual X display for the block; yields its ``DISPLAY`` (a free one, -displayfd)."""
    if not shutil.which("Xvfb"):
        raise TrtrlError("Xvfb is not installed (apt-get install xvfb)")
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{width}x{height}x24", "-nolisten",
         "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        with os.fdopen(r) as f:
            number = f.readline().strip()
        if not number:
            raise TrtrlError("Xvfb did not start")
        yield f":{number}"
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate ``proc``; kill it if it has not gone after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _env(display: str, home: Path) -> dict[str, str]:
    env = dict(os.environ, DISPLAY=display, HOME=str(home))
    env.pop("GTKWAVE_EDITOR", None)
    return env


@dataclass
class Trace:
    """One row of GTKWave's signal pane."""

    name: str
    flags: int
    value: str


@dataclass
class Probe:
    """What GTKWave showed for a save file."""

    traces: list[Trace] = field(default_factory=list)
    window: tuple[int, int] = (0, 0)
    marker: int = -1
    wave_width: int = 0  # pixels of the wave pane
    named: dict[str, int] = field(default_factory=dict)
    dump: str = ""
    returncode: int = 0
    log: str = ""

    def trace(self, name: str) -> Trace:
        for t in self.traces:
            if t.name == name:
                return t
        raise KeyError(name)


def _parse(out: str) -> Probe:
    p = Probe()
    for line in out.splitlines():
        if not line.startswith("TRTRL "):
            continue
        kind, _, rest = line[6:].partition(" ")
        if kind == "trace":
            m = re.fullmatch(r"(\d+) ([0-9a-f]+) \{(.*)\} \{(.*)\}", rest)
            if m:
                p.traces.append(Trace(m.group(3), int(m.group(2), 16), m.group(4)))
        elif kind == "window":
            a, b = rest.split()
            p.window = (int(a), int(b))
        elif kind == "marker":
            p.marker = int(rest)
        elif kind == "wavewidth":
            p.wave_width = int(rest)
        elif kind == "named":
            letter, t = rest.split()
            if int(t) >= 0:
                p.named[letter] = int(t)
        elif kind == "dump":
            p.dump = rest
    return p


def probe(gtkw: Path, timeout: float = TIMEOUT_S) -> Probe:
    """Load ``gtkw`` in GTKWave under Xvfb and return what it displays."""
    gtkw = Path(gtkw).resolve()
    if not available():
        raise TrtrlError("gtkwave and Xvfb are needed (apt-get install gtkwave xvfb)")
    with tempfile.TemporaryDirectory(prefix="trtrl-gtkwave-") as tmp, xvfb() as display:
        script = Path(tmp) / "probe.tcl"
        script.write_text(_PROBE_TCL)
        rc = Path(tmp) / "gtkwaverc"
        rc.write_text(_RC)
        # cwd elsewhere: the dump must be found through the save file's relative path
        proc = subprocess.run(["gtkwave", "-r", str(rc), "-S", str(script), str(gtkw)],
                              cwd=tmp, env=_env(display, Path(tmp)), capture_output=True,
                              text=True, timeout=timeout)
    result = _parse(proc.stdout)
    result.returncode = proc.returncode
    result.log = proc.stdout + proc.stderr
    return result


def _dumpfile(gtkw: Path) -> str:
    m = re.search(r'^\[dumpfile\] "([^"]+)"', Path(gtkw).read_text(), re.M)
    if not m or not (Path(gtkw).parent / m.group(1)).is_file():
        raise TrtrlError(f"{gtkw}: its [dumpfile] is not beside it")
    return m.group(1)


def screenshot(gtkw: Path, png: Path, settle_s: float = 2.0, timeout: float = TIMEOUT_S,
               scroll_rows: int = 0) -> Path:
    """Show ``gtkw`` in GTKWave on a virtual display and write the window as ``png``.

    ``scroll_rows``: scroll the signal list down by that many rows first.
    """
    from trtrl.testbenches.waves import WINDOW_SIZE

    gtkw, png = Path(gtkw).resolve(), Path(png)
    if not available() or not shutil.which("import"):
        raise TrtrlError("gtkwave, Xvfb and ImageMagick are needed "
                         "(apt-get install gtkwave xvfb imagemagick)")
    w, h = WINDOW_SIZE
    with tempfile.TemporaryDirectory(prefix="trtrl-gtkwave-") as tmp, \
            xvfb(w, h) as display:
        ready = Path(tmp) / "ready.tcl"
        scroll = f"gtkwave::setTraceScrollbarRowValue {scroll_rows}\n" if scroll_rows else ""
        ready.write_text(scroll + _READY_TCL)
        rc = Path(tmp) / "gtkwaverc"
        rc.write_text(_RC)
        env = _env(display, Path(tmp))
        log = Path(tmp) / "gtkwave.log"
        # from the save file's folder, the dump by the save file's relative name: the
        # window title shows that name, not a path of this machine
        dump = _dumpfile(gtkw)
        with open(log, "w") as logf:
            proc = subprocess.Popen(["gtkwave", "-r", str(rc), "-R", str(ready), "-P", "300",
                                     dump, gtkw.name], cwd=gtkw.parent, env=env, stdout=logf,
                                    stderr=subprocess.STDOUT)
        try:
            t_end = time.monotonic() + timeout
            while "TRTRL ready" not in log.read_text():
                if proc.poll() is not None or time.monotonic() > t_end:
                    raise TrtrlError(f"gtkwave did not come up: {log.read_text()[-500:]}")
                time.sleep(0.2)
            time.sleep(settle_s)  # let it paint
            png.parent.mkdir(parents=True, exist_ok=True)
            tmp_png = png.with_name(png.stem + ".tmp.png")
            subprocess.run(["import", "-display", display, "-window", "root", "-crop",
                            f"{w}x{h}+0+0", "+repage", "-strip", str(tmp_png)],
                           check=True, env=env, timeout=60)
            tmp_png.replace(png)
        finally:
            _stop(proc)
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trtrl.testbenches.gtkwave", description=__doc__)
    ap.add_argument("gtkw", help="GTKWave save file (its [dumpfile] names the dump)")
    ap.add_argument("png", nargs="?", help="screenshot to write; without it, print the probe")
    ap.add_argument("--scroll", type=int, default=0, help="scroll down by ROWS first")
    args = ap.parse_args(argv)
    try:
        if args.png:
            print(f"wrote {screenshot(Path(args.gtkw), Path(args.png), scroll_rows=args.scroll)}")
        else:
            p = probe(Path(args.gtkw))
            for t in p.traces:
                print(f"{t.flags:9x}  {t.name} = {t.value}")
            print(f"window {p.window} ({p.wave_width} px), marker {p.marker}, "
                  f"named {p.named}, dump {p.dump}")
    except TrtrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
