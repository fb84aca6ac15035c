#!/usr/bin/env bash
# Installs what the test suite needs and is safe to run again (`npm run test:setup`):
#   - Debian packages for the external-client tests: awscli (AWS CLI v2 at /usr/bin/aws), rclone,
#     s3cmd, python3-boto3 (boto3 for /usr/bin/python3) and curl, each only when missing;
#   - the engines of the scale-out tests, started by `npm test` itself when a test needs them:
#     postgresql (a throwaway cluster per run) and ceph-mon, ceph-osd, radosgw, ceph-common (a
#     single-node Ceph: one monitor, one in-memory OSD, one S3 gateway);
#   - node_modules through `npm ci`, when it is missing or older than package-lock.json;
#   - Node.js 22 and 24 from the npm registry's `node` package, for the test command's smoke group.
# With CI=true every failure is fatal; elsewhere a step that cannot run (say, not root) warns and
# the client tests that need it skip with a message.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case "${CI:-}" in
  '' | false | 0) STRICT=0 ;;
  *) STRICT=1 ;;
esac
[ "$STRICT" = 1 ] && set -e

log() { printf 'test:setup: %s\n' "$*"; }
fail() {
  if [ "$STRICT" = 1 ]; then
    printf 'test:setup: error: %s\n' "$*" >&2
    exit 1
  fi
  printf 'test:setup: warning: %s\n' "$*" >&2
}

# --- Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(awscli rclone s3cmd python3-boto3 curl ca-certificates chromium postgresql ceph-mon ceph-osd radosgw ceph-common)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${APT_PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
  done
else
  fail "dpkg-query not found: install ${APT_PACKAGES[*]} with this system's package manager"
fi

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      fail "need root (or passwordless sudo) to apt-get install ${missing[*]}"
      SUDO=(false)
    fi
  fi
  if [ "${SUDO[0]:-}" != false ]; then
    export DEBIAN_FRONTEND=noninteractive
    if ! "${SUDO[@]}" apt-get update -q; then
      fail 'apt-get update failed'
    elif ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
      fail "apt-get install ${missing[*]} failed"
    fi
  fi
else
  log "Debian packages present: ${APT_PACKAGES[*]}"
fi

# --- node_modules ----------------------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install: older than the lockfile = stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log 'running npm ci'
  npm ci || fail 'npm ci failed'
else
  log 'node_modules is up to date'
fi

# --- Node.js 22 and 24 for the smoke group -------------------------------------------------------
# `npm test` also runs a smoke group on each LTS line skep supports (22 and 24), whichever runs the
# main suite, each taken from the npm registry's `node` package into .cache/node-lts/<major>
# (scripts/node-lts.mjs; nodejs.org is not needed).
for major in 22 24; do
  if node scripts/node-lts.mjs "$major" >/dev/null; then
    log "Node.js $major for the smoke group: $(node scripts/node-lts.mjs "$major")"
  else
    fail "could not install Node.js $major from the npm registry (npm install node@$major)"
  fi
done

# --- What the client tests will find -----------------------------------------------------------
# The second AWS CLI / boto3 generation (pyenv's python3 with aws-cli v1 and boto3 1.4x) comes
# with the machine image, not from apt; the tests look for it on PATH and in $PYENV_ROOT/shims.
PYENV_SHIMS="${PYENV_ROOT:-$HOME/.pyenv}/shims"
report() {
  local label=$1 path=$2
  shift 2
  local version
  if [ -n "$path" ] && [ -x "$path" ] && version=$("$path" "$@" 2>&1); then
    log "  $label: $path (${version%%$'\n'*})"
  else
    log "  $label: not found"
    if [ "$STRICT" = 1 ]; then
      printf 'test:setup: error: %s is required in CI\n' "$label" >&2
      exit 1
    fi
  fi
}
other_on_path() {
  # First $1 on PATH or in pyenv's shims that is not Debian's /usr/bin one.
  local dir
  local IFS=:
  for dir in $PATH $PYENV_SHIMS; do
    if [ -x "$dir/$1" ] && [ "$(readlink -f "$dir/$1")" != "$(readlink -f "/usr/bin/$1")" ]; then
      echo "$dir/$1"
      return
    fi
  done
}
log 'clients:'
report 'aws (Debian, v2)' /usr/bin/aws --version
report 'aws (pyenv, v1)' "$(other_on_path aws)" --version
report 'boto3 (Debian python3)' /usr/bin/python3 -c 'import boto3; print("boto3", boto3.__version__)'
report 'boto3 (pyenv python3)' "$(other_on_path python3)" -c 'import boto3; print("boto3", boto3.__version__)'
report rclone "$(command -v rclone)" version
report s3cmd "$(command -v s3cmd)" --version
report curl "$(command -v curl)" --version
log 'engines:'
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
report 'postgres (initdb)' "${PG_BIN:+$PG_BIN/initdb}" --version
report 'ceph-mon' "$(command -v ceph-mon)" --version
report 'ceph-osd' "$(command -v ceph-osd)" --version
report 'radosgw' "$(command -v radosgw)" --version
exit 0
