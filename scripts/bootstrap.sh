#!/usr/bin/env bash
# Set up everything Tributary needs on a fresh machine, idempotently:
# a Python >= 3.11 with venv (from Debian if missing), the virtualenv in .venv,
# and the pinned Python packages. Re-running it does nothing when all is current.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed"

say() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    say "installing Debian packages: $*"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

PYTHON="$(find_python || true)"
if [ -z "$PYTHON" ]; then
    apt_install python3 python3-venv python3-pip
    PYTHON="$(find_python)"
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv in .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi

wanted="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
    say "installing Python packages (pinned by constraints.txt; the first time takes a few minutes)"
    log="$VENV/pip-install.log"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
        "$VENV/bin/python" -m pip install -c "$ROOT/constraints.txt" -e "$ROOT[train,gcp,dev]"; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        say "pip install failed; the full log is $log"
        exit 1
    fi
    echo "$wanted" > "$STAMP"
fi
