#!/usr/bin/env bash
# Set up everything Tributary needs on a fresh machine, idempotently:
# a Python >= 3.11 with venv (from Debian if missing), the virtualenv in .venv,
# the pinned Python packages, Debian's chromium (for the browser tests) and the
# web client's npm packages. Re-running it does nothing when all is current.
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

# The browser tests drive Debian's chromium (Playwright never downloads a browser here).
if ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium
fi

# The web client's one npm dependency, the Firebase JS SDK, bundled for the page.
FRONTEND="$ROOT/frontend"
npm_wanted="$(cat "$FRONTEND/package.json" "$FRONTEND/package-lock.json" "$FRONTEND/firebase-entry.js" | sha256sum | cut -d' ' -f1)"
NPM_STAMP="$FRONTEND/node_modules/.installed"
if [ ! -f "$NPM_STAMP" ] || [ "$(cat "$NPM_STAMP")" != "$npm_wanted" ] || [ ! -f "$FRONTEND/vendor/firebase.js" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    say "installing the web client's npm packages and bundling the Firebase SDK"
    (cd "$FRONTEND" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build) >&2
    echo "$npm_wanted" > "$NPM_STAMP"
fi
