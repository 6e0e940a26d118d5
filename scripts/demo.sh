#!/usr/bin/env bash
# README's demo command: install into .venv and run the demo.
#
#   bash scripts/demo.sh                 # run notebooks/quickstart.ipynb headlessly, print what it recorded
#   bash scripts/demo.sh --lab           # install JupyterLab too and open the quickstart in it
#   bash scripts/demo.sh --lab --check   # start JupyterLab, check it serves the notebook and a kernel, stop (CI)
#
# Other arguments go to `python -m ecs_notebook.notebook.demo` (e.g. --out DIR). ECS_NOTEBOOK_VENV names another
# virtualenv to use instead of .venv. Nothing is installed when that environment already runs this
# checkout with what the demo needs (a second run starts at once).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${ECS_NOTEBOOK_VENV:-.venv}
extras=notebook
needs="nbclient, ipykernel"
for arg in "$@"; do
    if [ "$arg" = --lab ]; then
        extras=notebook,lab
        needs="nbclient, ipykernel, jupyterlab"
    fi
done
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
ready=$("$VENV/bin/python" - "$needs" <<'PY' 2>/dev/null || true
import os, sys
try:
    import ecs_notebook
    for name in sys.argv[1].split(", "):
        __import__(name)
except ImportError:
    sys.exit()
here = os.path.realpath(os.getcwd())
print("yes" if os.path.realpath(os.path.dirname(os.path.dirname(ecs_notebook.__file__))) == here else "")
PY
)
if [ "$ready" != yes ]; then
    echo "Installing ecs_notebook[$extras] into $VENV ..."
    "$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
fi
exec "$VENV/bin/python" -m ecs_notebook.notebook.demo "$@"
