#!/usr/bin/env bash
# Makes the Python virtualenv the export tests read Joules' files back with: the real `tensorboard`
# package (its EventAccumulator parses the event files `joules report --to tensorboard` writes).
# Same pattern as setup-python.sh: idempotent, found by its marker and reused, in a cache folder
# outside the repository keyed by the requirements, never the system site-packages; pip installs
# offline from the configured wheel index.
#
#   JOULES_PY_CACHE   cache root (default: $HOME/.cache/joules-python)
#
# Prints PYTHON=<path of the venv's python> on stdout; progress goes to stderr.
set -euo pipefail

REQS="tensorboard"
PY=${JOULES_PY_BASE:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
KEY="export-py${PYVER}-$(printf '%s' "$REQS" | sha1sum | cut -c1-12)-v1"
ROOT="${JOULES_PY_CACHE:-${HOME:?}/.cache/joules-python}"
V="$ROOT/$KEY"
MARKER="$V/.complete"

log() { printf 'setup-export-python: %s\n' "$*" >&2; }

if [[ ! -f "$MARKER" ]]; then
  mkdir -p "$ROOT"
  # Build in a temporary folder, then rename: a half-made environment is never reused.
  TMP="$V.tmp.$$"
  rm -rf "$TMP"
  log "creating $V ($REQS)"
  "$PY" -m venv "$TMP"
  "$TMP/bin/python" -m pip install --quiet --retries 0 $REQS >&2
  "$TMP/bin/python" -c 'from tensorboard.backend.event_processing import event_accumulator; import tensorboard; print("tensorboard", tensorboard.__version__)' >&2
  rm -rf "$V"
  mv "$TMP" "$V"
  touch "$MARKER"
fi
printf 'PYTHON=%s\n' "$V/bin/python"
