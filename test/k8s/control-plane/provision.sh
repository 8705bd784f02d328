#!/usr/bin/env bash
# Builds (once) the binaries of the test Kubernetes control plane from the Go module proxy and caches them
# outside the repo:
#
#   ${MILLRACE_CACHE:-$HOME/.cache/millrace}/k8s/<k8s-version>/bin/{kube-apiserver,kube-controller-manager,kubectl,etcd}
#
# `go install k8s.io/kubernetes/cmd/...@vX` does not work (k8s.io/kubernetes replaces its staging modules
# with ./staging/... paths), so each build goes through a small wrapper module that requires
# k8s.io/kubernetes and replaces every staging module with its published v0.Y.Z twin. etcd is built the
# same way from go.etcd.io/etcd/server/v3.
#
# Idempotent: when all four binaries and a matching stamp exist it prints "cached" and exits at once.
# Concurrent runs serialise on a lock in the cache. Binaries are written under a temporary name and
# renamed, so an interrupted build never leaves a half binary behind.
#
# The last line on stdout of a successful run is `bin: <dir>` (the directory holding the binaries).
#
# Environment:
#   MILLRACE_CACHE          cache root (default $HOME/.cache/millrace)
#   MILLRACE_K8S_VERSION    Kubernetes version (default v1.36.3; falls back to the newest v1.35.x if it
#                           does not build)
#   MILLRACE_ETCD_VERSION   etcd version (default v3.6.16, the newest v3.6.x on the proxy when pinned)
#   MILLRACE_K8S_NO_FALLBACK=1  fail instead of falling back to v1.35.x
set -euo pipefail

K8S_VERSION="${MILLRACE_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${MILLRACE_ETCD_VERSION:-v3.6.16}"
FALLBACK_SERIES="v1.35."
CACHE_ROOT="${MILLRACE_CACHE:-$HOME/.cache/millrace}/k8s"
# Bump when the recipe below changes in a way that must invalidate cached binaries.
RECIPE=1
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd)

START=$SECONDS
log() { printf '[provision +%4ds] %s\n' "$((SECONDS - START))" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

stamp_text() { printf 'k8s=%s etcd=%s recipe=%s\n' "$1" "$ETCD_VERSION" "$RECIPE"; }

# is_cached <k8s-version>: all binaries present and the stamp matches.
is_cached() {
  local bin="$CACHE_ROOT/$1/bin" b
  for b in "${BINARIES[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
  [[ -f "$bin/.stamp" ]] && [[ "$(cat "$bin/.stamp")" == "$(stamp_text "$1")" ]]
}

# A previous run that had to fall back records which version it used instead.
fallback_of() {
  local f="$CACHE_ROOT/$K8S_VERSION/fallback"
  [[ -f "$f" ]] && cat "$f"
  return 0
}

cached_dir() {
  if is_cached "$K8S_VERSION"; then echo "$CACHE_ROOT/$K8S_VERSION/bin"; return 0; fi
  local fb; fb="$(fallback_of)"
  if [[ -n "$fb" && -z "${MILLRACE_K8S_NO_FALLBACK:-}" ]] && is_cached "$fb"; then
    echo "$CACHE_ROOT/$fb/bin"; return 0
  fi
  return 1
}

# Fast path: no go, no lock.
if dir="$(cached_dir)"; then
  log "cached: $dir"
  echo "bin: $dir"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH (needed once to build the control plane binaries)"
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another provision run holds $CACHE_ROOT/.lock; waiting for it"
  flock 9
fi
# It may have finished the job while we waited.
if dir="$(cached_dir)"; then
  log "cached: $dir"
  echo "bin: $dir"
  exit 0
fi

# Leftovers of builds that were killed (the binaries themselves are only ever renamed into place).
rm -rf "$CACHE_ROOT"/*/bin/.build.* "$CACHE_ROOT"/*/bin/.etcd.tmp "$CACHE_ROOT"/*/bin/.stamp.tmp

export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
log "go: $(go env GOVERSION), GOPROXY=$(go env GOPROXY), GOMODCACHE=$(go env GOMODCACHE), $(nproc) cores"

# run_logged <log-file> <label> <cmd...>: runs a long command with its output in a log file, printing a
# heartbeat (elapsed time, packages compiled so far, the latest one) every 30 s.
run_logged() {
  local logfile="$1" label="$2"; shift 2
  local t0=$SECONDS
  : >"$logfile"
  "$@" >>"$logfile" 2>&1 &
  local pid=$! rc=0 n=0
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null || true" EXIT INT TERM
  while kill -0 "$pid" 2>/dev/null; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      n=$(grep -c '' "$logfile" || true)
      log "  $label: still running after $((SECONDS - t0))s ($n lines in $logfile; last: $(tail -n 1 "$logfile" | cut -c1-100))"
    fi
  done
  wait "$pid" || rc=$?
  trap - EXIT INT TERM
  if [[ $rc -ne 0 ]]; then
    log "  $label FAILED after $((SECONDS - t0))s (exit $rc); last lines of $logfile:"
    tail -n 30 "$logfile" | sed 's/^/    /' >&2
    return "$rc"
  fi
  log "  $label done in $((SECONDS - t0))s"
}

# install_from <tmp-dir> <bin-dir> <names...>: atomically moves freshly built binaries into place.
install_from() {
  local tmp="$1" bin="$2" b; shift 2
  for b in "$@"; do
    [[ -x "$tmp/$b" ]] || die "build did not produce $tmp/$b"
    mv -f "$tmp/$b" "$bin/$b"
  done
}

# build_kubernetes <version>: kube-apiserver, kube-controller-manager and kubectl into <cache>/<version>/bin.
build_kubernetes() {
  local v="$1"
  local minor="${v#v1.}"; minor="${minor%%.*}"
  local patch="${v#v1.*.}"
  local staging_version="v0.$minor.$patch"
  local dir="$CACHE_ROOT/$v" bin="$CACHE_ROOT/$v/bin" src="$CACHE_ROOT/$v/src/kubernetes"
  mkdir -p "$bin" "$src"

  if [[ -x "$bin/kube-apiserver" && -x "$bin/kube-controller-manager" && -x "$bin/kubectl" && -f "$bin/.k8s-stamp" \
        && "$(cat "$bin/.k8s-stamp")" == "$v recipe=$RECIPE" ]]; then
    log "kubernetes $v: binaries already built"
    return 0
  fi

  log "kubernetes $v: downloading k8s.io/kubernetes@$v (module zip, a few hundred MB the first time)"
  local gomod
  gomod="$(cd "$src" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$gomod" && -f "$gomod" ]] || { log "kubernetes $v: could not download k8s.io/kubernetes@$v"; return 1; }
  local godirective
  godirective="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n 1)"
  # Every `k8s.io/<x> => ./staging/...` replacement of k8s.io/kubernetes's own go.mod.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*$#\1#p' "$gomod")"
  [[ -n "$staging" ]] || { log "kubernetes $v: found no staging replacements in $gomod"; return 1; }
  log "kubernetes $v: go $godirective, $(wc -w <<<"$staging") staging modules pinned to $staging_version"

  {
    echo "// Generated by test/k8s/control-plane/provision.sh: builds Kubernetes $v from the module proxy."
    echo "module millrace.local/k8s-build"
    echo
    echo "go ${godirective:-1.26}"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo "replace ("
    local m
    for m in $staging; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >"$src/go.mod"
  # Keeps `go mod tidy`/`go build` aware of the packages we build.
  cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  rm -f "$src/go.sum"

  local ldflags="-s -w"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=$v"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$v"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"

  log "kubernetes $v: resolving the module graph (downloads dependencies)"
  run_logged "$dir/mod.log" "resolve modules" \
    bash -c "cd '$src' && go mod download -x 2>&1 && go list -deps -tags tools k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl >/dev/null" \
    || return 1

  local tmp; tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  log "kubernetes $v: compiling kube-apiserver, kube-controller-manager, kubectl (tens of minutes on 2 cores; log: $dir/build.log)"
  if ! run_logged "$dir/build.log" "go build kubernetes" \
      bash -c "cd '$src' && exec go build -v -trimpath -ldflags '$ldflags' -o '$tmp/' k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl"; then
    rm -rf "$tmp"
    return 1
  fi
  install_from "$tmp" "$bin" kube-apiserver kube-controller-manager kubectl
  rm -rf "$tmp"
  echo "$v recipe=$RECIPE" >"$bin/.k8s-stamp"
  log "kubernetes $v: $("$bin/kubectl" version --client 2>/dev/null | head -n 1)"
}

# build_etcd <bin-dir>
build_etcd() {
  local bin="$1"
  local src="$CACHE_ROOT/etcd-$ETCD_VERSION/src"
  if [[ -x "$bin/etcd" && -f "$bin/.etcd-stamp" && "$(cat "$bin/.etcd-stamp")" == "$ETCD_VERSION recipe=$RECIPE" ]]; then
    log "etcd $ETCD_VERSION: already built"
    return 0
  fi
  # Another Kubernetes version's cache may already hold this etcd.
  local other
  for other in "$CACHE_ROOT"/*/bin/etcd; do
    [[ -x "$other" && "$other" != "$bin/etcd" ]] || continue
    if [[ -f "$(dirname "$other")/.etcd-stamp" && "$(cat "$(dirname "$other")/.etcd-stamp")" == "$ETCD_VERSION recipe=$RECIPE" ]]; then
      log "etcd $ETCD_VERSION: copying from $other"
      cp "$other" "$bin/.etcd.tmp" && mv -f "$bin/.etcd.tmp" "$bin/etcd"
      echo "$ETCD_VERSION recipe=$RECIPE" >"$bin/.etcd-stamp"
      return 0
    fi
  done
  mkdir -p "$src" "$bin"
  cat >"$src/go.mod" <<EOF
// Generated by test/k8s/control-plane/provision.sh: builds etcd $ETCD_VERSION from the module proxy.
module millrace.local/etcd-build

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  rm -f "$src/go.sum"
  local tmp; tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  log "etcd $ETCD_VERSION: compiling (log: $CACHE_ROOT/etcd-$ETCD_VERSION/build.log)"
  if ! run_logged "$CACHE_ROOT/etcd-$ETCD_VERSION/build.log" "go build etcd" \
      bash -c "cd '$src' && go mod download 2>&1 && exec go build -v -trimpath -ldflags '-s -w' -o '$tmp/etcd' go.etcd.io/etcd/server/v3"; then
    rm -rf "$tmp"
    return 1
  fi
  install_from "$tmp" "$bin" etcd
  rm -rf "$tmp"
  echo "$ETCD_VERSION recipe=$RECIPE" >"$bin/.etcd-stamp"
  log "etcd $ETCD_VERSION: $("$bin/etcd" --version 2>/dev/null | head -n 1)"
}

newest_fallback() {
  (cd "$CACHE_ROOT" && GOFLAGS= go list -m -versions k8s.io/kubernetes) | tr ' ' '\n' \
    | grep -E "^${FALLBACK_SERIES//./\\.}[0-9]+$" | sort -t. -k3,3n | tail -n 1
}

log "provisioning Kubernetes $K8S_VERSION + etcd $ETCD_VERSION into $CACHE_ROOT"
used="$K8S_VERSION"
if ! build_kubernetes "$K8S_VERSION"; then
  [[ -z "${MILLRACE_K8S_NO_FALLBACK:-}" ]] || die "Kubernetes $K8S_VERSION did not build (fallback disabled)"
  fb="$(newest_fallback)"
  [[ -n "$fb" ]] || die "Kubernetes $K8S_VERSION did not build and no ${FALLBACK_SERIES}x is on the proxy"
  log "Kubernetes $K8S_VERSION did not build; falling back to $fb"
  build_kubernetes "$fb" || die "Kubernetes $fb did not build either"
  echo "$fb" >"$CACHE_ROOT/$K8S_VERSION/fallback"
  used="$fb"
fi
bin="$CACHE_ROOT/$used/bin"
build_etcd "$bin" || die "etcd $ETCD_VERSION did not build"
stamp_text "$used" >"$bin/.stamp.tmp" && mv -f "$bin/.stamp.tmp" "$bin/.stamp"
log "done: $bin"
echo "bin: $bin"
