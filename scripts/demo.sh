#!/usr/bin/env bash
# README's demo command: install into .venv and run the demo script.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet -e '.[notebook]'
.venv/bin/python -m ecs_notebook.demo "$@"
