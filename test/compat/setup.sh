#!/usr/bin/env bash
# Installs every third-party client the compatibility suite (test/compat) uses, from the package
# registries only, idempotently (a second run changes nothing and makes no network request):
#
#   Debian:        kcat (librdkafka 2.0.2), python3-kafka (kafka-python 2.0.2) and its codec modules
#                  python3-snappy, python3-lz4, python3-zstandard; maven / a JDK only if missing
#   Maven Central: org.apache.kafka:kafka-clients $KAFKA_CLIENTS_VERSION + org.slf4j:slf4j-simple,
#                  copied to <cache>/java/libs; test/compat/clients/java/CompatClient.java compiled
#                  into <cache>/java/classes
#   Go proxy:      franz-go as pinned by test/compat/clients/franz/go.{mod,sum}, built into
#                  <cache>/franz/franz-compat
#
# <cache> is ${MILLRACE_CACHE:-$HOME/.cache/millrace}/compat (outside the repo). Builds are stamped with
# the sha256 of their sources; the tests refuse a stale build. Node clients (kafkajs, @platformatic/kafka)
# come from the project's own npm install.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MILLRACE_CACHE:-$HOME/.cache/millrace}/compat"
KAFKA_CLIENTS_VERSION="${KAFKA_CLIENTS_VERSION:-4.0.2}"
SLF4J_VERSION="1.7.36" # the slf4j-api line kafka-clients 4.0 depends on
APT_PACKAGES=(kcat python3-kafka python3-snappy python3-lz4 python3-zstandard)
START=$SECONDS

log() { printf '[compat/setup +%ss] %s\n' "$((SECONDS - START))" "$*"; }
die() { printf '[compat/setup] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null || die "not root and no sudo: install ${APT_PACKAGES[*]} with apt-get yourself"
  SUDO=(sudo)
fi

# ---------------------------------------------------------------- Debian packages
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
command -v java >/dev/null && command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]} > 0)); then
  log "apt: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  log "apt: ${APT_PACKAGES[*]} already installed"
fi
kcat_version="$(kcat -V 2>&1 | grep -o 'Version [0-9.]*\|librdkafka [0-9.]*' | tr '\n' ' ' || true)"
log "kcat: ${kcat_version:-version unknown}"
py_kafka="$(/usr/bin/python3 -c 'import kafka, snappy, lz4, zstandard; print(kafka.__version__)' 2>&1)" \
  || die "Debian's python3 cannot import kafka-python and its codecs: $py_kafka"
log "kafka-python: $py_kafka (/usr/bin/python3)"

# ---------------------------------------------------------------- Java client (Maven Central)
JAVA_DIR="$CACHE/java"
LIBS="$JAVA_DIR/libs"
want_libs="kafka-clients $KAFKA_CLIENTS_VERSION + slf4j-simple $SLF4J_VERSION"
if [[ -f "$LIBS/.complete" && "$(cat "$LIBS/.complete")" == "$want_libs" ]]; then
  log "java: $want_libs already in $LIBS"
else
  log "java: fetching $want_libs from Maven Central (mvn dependency:copy-dependencies)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cat > "$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.millrace</groupId><artifactId>compat-java-client</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$KAFKA_CLIENTS_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  mvn_args=(-B -ntp -q)
  [[ -n "${MAVEN_REPO_LOCAL:-}" ]] && mvn_args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
  rm -rf "$LIBS.partial"
  if ! (cd "$work" && mvn "${mvn_args[@]}" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.partial" >"$work/mvn.log" 2>&1); then
    tail -n 30 "$work/mvn.log" >&2
    die "could not fetch $want_libs from Maven Central (log above)"
  fi
  printf '%s\n' "$want_libs" > "$LIBS.partial/.complete"
  rm -rf "$LIBS" "$JAVA_DIR/classes"
  mkdir -p "$JAVA_DIR"
  mv "$LIBS.partial" "$LIBS"
  log "java: $(find "$LIBS" -name '*.jar' | wc -l) jars in $LIBS"
fi
java_src="$HERE/clients/java/CompatClient.java"
java_stamp="$(cat "$java_src" | sha256sum | cut -d' ' -f1)"
if [[ -f "$JAVA_DIR/classes/.source-sha256" && "$(cat "$JAVA_DIR/classes/.source-sha256")" == "$java_stamp" ]]; then
  log "java: CompatClient already compiled"
else
  log "java: compiling CompatClient.java"
  rm -rf "$JAVA_DIR/classes.partial"
  mkdir -p "$JAVA_DIR/classes.partial"
  javac -nowarn -Xlint:none -cp "$LIBS/*" -d "$JAVA_DIR/classes.partial" "$java_src"
  printf '%s\n' "$java_stamp" > "$JAVA_DIR/classes.partial/.source-sha256"
  rm -rf "$JAVA_DIR/classes"
  mv "$JAVA_DIR/classes.partial" "$JAVA_DIR/classes"
fi
log "java: $(java -version 2>&1 | head -n1)"

# ---------------------------------------------------------------- franz-go (Go module proxy)
command -v go >/dev/null || die "go not found on PATH (the franz-go client needs a Go toolchain; go.mod says which)"
FRANZ_SRC="$HERE/clients/franz"
FRANZ_DIR="$CACHE/franz"
franz_stamp="$(cat "$FRANZ_SRC/go.mod" "$FRANZ_SRC/go.sum" "$FRANZ_SRC/main.go" | sha256sum | cut -d' ' -f1)"
if [[ -x "$FRANZ_DIR/franz-compat" && -f "$FRANZ_DIR/.source-sha256" && "$(cat "$FRANZ_DIR/.source-sha256")" == "$franz_stamp" ]]; then
  log "franz-go: franz-compat already built"
else
  log "franz-go: go build ($(sed -n 's#^\s*github.com/twmb/franz-go \(v[^ ]*\).*#franz-go \1#p' "$FRANZ_SRC/go.mod"), $(go version | cut -d' ' -f3))"
  mkdir -p "$FRANZ_DIR"
  # -mod=readonly: go.mod/go.sum are committed and must already be complete; modules come from GOPROXY.
  (cd "$FRANZ_SRC" && GOFLAGS=-mod=readonly go build -trimpath -o "$FRANZ_DIR/franz-compat.partial" .) \
    || die "go build of $FRANZ_SRC failed"
  mv "$FRANZ_DIR/franz-compat.partial" "$FRANZ_DIR/franz-compat"
  printf '%s\n' "$franz_stamp" > "$FRANZ_DIR/.source-sha256"
fi

log "done: clients ready in $CACHE"
