# shellcheck shell=bash
# Sourced by helm.sh and actionlint.sh: build a Go command once from the Go module proxy with `go install` and
# cache it outside the repo, then run it.
#
#   go_tool_ensure <name> <module-package> <version> [ldflags]
#     -> sets GO_TOOL_BIN to ${MILLRACE_CACHE:-$HOME/.cache/millrace}/<name>/<version>/<name>
#
# Progress goes to stderr only: stdout belongs to the tool (e.g. `helm template` output that a caller parses).
# Fast path (already built): no go, no lock, no output. Concurrent first runs serialise on a lock in the cache;
# the binary is installed into a temporary directory and renamed, so an interrupted build never leaves a
# half-written binary behind. A `.stamp` file beside it records what was built.

_go_tool_start=$SECONDS
go_tool_log() { printf '[%s +%ds] %s\n' "${GO_TOOL_NAME:-go-tool}" "$((SECONDS - _go_tool_start))" "$*" >&2; }
go_tool_die() { go_tool_log "ERROR: $*"; exit 1; }

# The go command: from PATH, else the usual install location.
go_tool_go() {
  if command -v go >/dev/null 2>&1; then go "$@"
  elif [[ -x /usr/local/go/bin/go ]]; then /usr/local/go/bin/go "$@"
  else go_tool_die "go is not on PATH (needed once to build ${GO_TOOL_NAME:-the tool} from the Go module proxy)"
  fi
}

# go_tool_cached <name> <version>: true (and GO_TOOL_BIN set) when a finished build is in the cache.
go_tool_cached() {
  local dir="${MILLRACE_CACHE:-$HOME/.cache/millrace}/$1/$2"
  GO_TOOL_BIN="$dir/$1"
  [[ -x "$GO_TOOL_BIN" && -f "$dir/.stamp" ]]
}

go_tool_ensure() {
  local name="$1" pkg="$2" version="$3" ldflags="${4:-}"
  GO_TOOL_NAME="$name"
  local dir="${MILLRACE_CACHE:-$HOME/.cache/millrace}/$name/$version"
  local stamp="pkg=$pkg@$version ldflags=$ldflags"
  GO_TOOL_BIN="$dir/$name"
  if [[ -x "$GO_TOOL_BIN" && -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" ]]; then
    return 0
  fi

  mkdir -p "$dir"
  exec 8>"$dir/.lock"
  if ! flock -n 8; then
    go_tool_log "another run is building $name $version (lock $dir/.lock); waiting for it"
    flock 8
  fi
  if [[ -x "$GO_TOOL_BIN" && -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" ]]; then
    exec 8>&-
    return 0
  fi

  go_tool_log "building $pkg@$version with $(go_tool_go version | cut -d' ' -f3) into $dir (once; a few minutes on 2 cores)"
  local tmp
  tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  # A module-less install: go.mod/go.work of the current directory are ignored (`pkg@version` form).
  # CGO off: a static binary that needs no C toolchain. -trimpath as the upstream release builds.
  if ! (cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath" go_tool_go install ${ldflags:+-ldflags "$ldflags"} "$pkg@$version" >&2); then
    rm -rf "$tmp"
    go_tool_die "go install $pkg@$version failed (see above)"
  fi
  local built="$tmp/${pkg##*/}"
  [[ -x "$built" ]] || { rm -rf "$tmp"; go_tool_die "go install produced no $built"; }
  mv -f "$built" "$GO_TOOL_BIN"
  rm -rf "$tmp"
  printf '%s' "$stamp" >"$dir/.stamp"
  go_tool_log "built $GO_TOOL_BIN"
  exec 8>&-
}
