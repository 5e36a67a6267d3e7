#!/usr/bin/env bash
# Makes the Python virtualenv of the CPU smoke run and of the Python package's tests: torch + numpy
# (CPU wheels), pytest, the frameworks the `joules` package integrates with (tqdm, Hugging Face
# transformers + accelerate, Lightning), ipykernel + jupyter_client for notebook runs, and wandb
# where it installs (OPTIONAL: its dependencies may be missing from an offline index; the tests
# that need it are skipped then). Idempotent: a finished environment is found by its marker and
# reused. It lives in a cache folder outside the repository, keyed by the requirements, never in
# the system site-packages.
#
#   JOULES_PY_CACHE   cache root (default: $HOME/.cache/joules-python)
#
# Prints PYTHON=<path of the venv's python> on stdout; progress goes to stderr.
set -euo pipefail

REQS="torch numpy pytest tqdm transformers accelerate lightning ipykernel jupyter_client nbclient nbformat tensorboard"
OPTIONAL="wandb"
PY=${JOULES_PY_BASE:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
KEY="py${PYVER}-$(printf '%s' "$REQS $OPTIONAL" | sha1sum | cut -c1-12)-v1"
ROOT="${JOULES_PY_CACHE:-${HOME:?}/.cache/joules-python}"
V="$ROOT/$KEY"
MARKER="$V/.complete"

log() { printf 'setup-python: %s\n' "$*" >&2; }

if [[ ! -f "$MARKER" ]]; then
  mkdir -p "$ROOT"
  # Build in a temporary folder, then rename: a half-made environment is never reused.
  TMP="$V.tmp.$$"
  rm -rf "$TMP"
  log "creating $V ($REQS)"
  "$PY" -m venv "$TMP"
  # Prefer a CPU-only torch wheel (no CUDA libraries to pull in) when pip's configuration offers
  # one (these machines: /opt/wheels); otherwise whatever `pip install torch` resolves to.
  CPU_TORCH=$("$TMP/bin/python" -m pip download --retries 0 --no-deps --quiet -d "$TMP/dl" 'torch==2.13.0+cpu' >&2 2>/dev/null && ls "$TMP"/dl/torch-*.whl 2>/dev/null | head -1 || true)
  if [[ -n "$CPU_TORCH" ]]; then
    # The CPU wheel first, so that what depends on torch below finds it satisfied.
    "$TMP/bin/python" -m pip install --quiet --retries 0 "$CPU_TORCH" numpy >&2
    "$TMP/bin/python" -m pip install --quiet --retries 0 ${REQS#torch numpy } >&2
  else
    "$TMP/bin/python" -m pip install --quiet --retries 0 $REQS >&2
  fi
  rm -rf "$TMP/dl"
  for opt in $OPTIONAL; do
    "$TMP/bin/python" -m pip install --quiet --retries 0 "$opt" >&2 2>"$TMP/optional.log" || log "optional $opt not installed (see $V/optional.log)"
  done
  "$TMP/bin/python" -c 'import torch, numpy, pytest, tqdm, transformers, accelerate, lightning, ipykernel, jupyter_client; print(torch.__version__, transformers.__version__, lightning.__version__)' >&2
  rm -rf "$V"
  mv "$TMP" "$V"
  # venv scripts hold absolute paths; the python binary itself works after the move.
  touch "$MARKER"
fi
printf 'PYTHON=%s\n' "$V/bin/python"
