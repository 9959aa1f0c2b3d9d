#!/usr/bin/env bash
# Installs everything Crime Gun Atlas needs on a fresh Debian/Ubuntu machine, and nothing twice:
#   system packages (PostgreSQL + PostGIS; Chromium, which renders chart exports and briefings on the
#   server; chromedriver with --browser, for the browser tests; with --bench also GDAL's ogr2ogr,
#   which the loading benchmark measures the loader against),
#   then a virtualenv in .venv with the project installed in editable mode.
# Safe to re-run: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --bench) want_browser=1; want_bench=1 ;;
    *) echo "usage: $0 [--browser] [--bench]" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

missing=()
# PostgreSQL server binaries and the PostGIS extension files (any installed major version).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || missing+=(postgresql-postgis)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "$want_browser" = 1 ]; then
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
if [ "$want_bench" = 1 ]; then
  command -v ogr2ogr >/dev/null 2>&1 || missing+=(gdal-bin)
fi
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  say "Installing system packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: need root to install ${missing[*]}; run: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's postgresql package starts a system cluster on 5432; the project runs its own.
fi

stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  say "Creating the virtualenv in .venv"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "Installing Crime Gun Atlas and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
