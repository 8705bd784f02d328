#!/usr/bin/env bash
# Helm v3, built once from the Go module proxy and cached outside the repo, then run with the given arguments:
#
#   bash test/k8s/tools/helm.sh lint helm/millrace
#   bash test/k8s/tools/helm.sh template millrace helm/millrace --namespace millrace-system
#
# The binary lives at ${MILLRACE_CACHE:-$HOME/.cache/millrace}/helm/<version>/helm. The first run builds it
# with `go install helm.sh/helm/v3/cmd/helm@<version>` (a few minutes on 2 cores; progress on stderr), with
# the ldflags of helm's own Makefile: the version string, and the default Kubernetes version of `helm
# template` / `helm lint` (client-go's minor + 1.x, as upstream release binaries have). Later runs exec it
# at once. stdout is helm's alone.
#
# `bash test/k8s/tools/helm.sh --provision-only` builds (if needed) and prints the binary's path.
#
# Environment:
#   MILLRACE_CACHE          cache root (default $HOME/.cache/millrace)
#   MILLRACE_HELM_VERSION   helm version (default below: the newest v3.x on the Go module proxy when pinned)
set -euo pipefail

HELM_VERSION="${MILLRACE_HELM_VERSION:-v3.22.0}"
[[ "$HELM_VERSION" == v3.* ]] || { echo "helm.sh: MILLRACE_HELM_VERSION must be a v3.x version (got $HELM_VERSION)" >&2; exit 2; }

# shellcheck source=SCRIPTDIR/go-tool.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

helm_ldflags() {
  # What helm's Makefile passes: the version, and k8sVersionMajor/Minor derived from its client-go (v0.M.x ->
  # 1.(M)), which become the default .Capabilities.KubeVersion of `helm template` and the API deprecation
  # baseline of `helm lint`.
  local gomod minor
  gomod="$(go_tool_go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -n "$gomod" && -f "$gomod" ]] || go_tool_die "cannot download helm.sh/helm/v3@$HELM_VERSION from the Go module proxy"
  minor="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -1)"
  [[ -n "$minor" ]] || go_tool_die "cannot find k8s.io/client-go in $gomod"
  local p=helm.sh/helm/v3
  printf '%s' "-s -w -X $p/internal/version.version=$HELM_VERSION -X $p/internal/version.gitTreeState=clean"
  printf '%s' " -X $p/pkg/lint/rules.k8sVersionMajor=1 -X $p/pkg/lint/rules.k8sVersionMinor=$minor"
  printf '%s' " -X $p/pkg/chartutil.k8sVersionMajor=1 -X $p/pkg/chartutil.k8sVersionMinor=$minor"
}

# Fast path (no go, no network): a finished build of this version; its ldflags derive from the version alone.
GO_TOOL_NAME=helm
if ! go_tool_cached helm "$HELM_VERSION"; then
  ldflags="$(helm_ldflags)" # a plain assignment, so that a failure stops the script (set -e)
  go_tool_ensure helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$ldflags"
fi

if [[ "${1:-}" == "--provision-only" ]]; then
  echo "$GO_TOOL_BIN"
  exit 0
fi
exec "$GO_TOOL_BIN" "$@"
