#!/usr/bin/env bash
# Provision a reference Apache Kafka 4.x broker from Maven Central (no other download).
#
#   test/tools/kafka-ref/provision.sh            # newest resolvable 4.x release
#   KAFKA_VERSION=4.3.1 test/tools/kafka-ref/provision.sh
#
# Result: ${MILLRACE_CACHE:-$HOME/.cache/millrace}/kafka-<ver>/libs/*.jar (broker, tools, clients,
# a log4j2 binding). Idempotent: an existing complete install is reused without touching the network
# when KAFKA_VERSION is given. The last line printed on stdout is `KAFKA_HOME=<dir>`; the file
# <cache>/kafka-current holds the same directory for tools that do not pass a version.
#
# Needs: java (17+), mvn. Maven Central is the only host contacted (through mvn).
set -euo pipefail

CACHE="${MILLRACE_CACHE:-$HOME/.cache/millrace}"
MAJOR_RANGE_LOW="4.0.0"
MAJOR_RANGE_HIGH="5.0.0"   # exclusive
MAX_FALLBACKS=4

log() { printf '[kafka-ref/provision] %s\n' "$*" >&2; }
die() { printf '[kafka-ref/provision] ERROR: %s\n' "$*" >&2; exit 1; }

command -v java >/dev/null || die "java not found on PATH. Install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)."
command -v mvn >/dev/null || die "mvn not found on PATH. Install Maven (Debian: apt-get install maven)."

mkdir -p "$CACHE"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/millrace-kafka-provision.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

MVN=(mvn -B -ntp -q)
if [[ -n "${MAVEN_REPO_LOCAL:-}" ]]; then MVN+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL"); fi

is_complete() { [[ -f "$CACHE/kafka-$1/.complete" && -d "$CACHE/kafka-$1/libs" ]]; }

finish() {
  local ver="$1" home="$CACHE/kafka-$1"
  printf '%s\n' "$home" > "$CACHE/kafka-current.tmp.$$" && mv -f "$CACHE/kafka-current.tmp.$$" "$CACHE/kafka-current"
  log "Kafka $ver ready: $(find "$home/libs" -name '*.jar' | wc -l) jars, $(du -sh "$home/libs" | cut -f1) in $home/libs"
  printf 'KAFKA_HOME=%s\n' "$home"
  exit 0
}

# Resolve the newest kafka_2.13 version in [low, high) through Maven's own version-range resolution.
resolve_latest() {
  local high="$1" dir="$WORK/resolve"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.millrace</groupId><artifactId>kafka-ref-resolve</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>[$MAJOR_RANGE_LOW,$high)</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>
    </dependency>
  </dependencies>
</project>
EOF
  rm -f "$dir/list.txt"
  if ! (cd "$dir" && "${MVN[@]}" dependency:list -DexcludeTransitive=true -DoutputFile="$dir/list.txt" >"$dir/mvn.log" 2>&1); then
    cat "$dir/mvn.log" >&2
    return 1
  fi
  sed -n 's/.*org\.apache\.kafka:kafka_2\.13:jar:\([^:]*\):.*/\1/p' "$dir/list.txt" | head -n1
}

# Copy the runtime closure of the broker + tools into $2 (a libs dir). Returns non-zero on failure,
# leaving the Maven log in $WORK/fetch-<ver>.log.
fetch_version() {
  local ver="$1" libs="$2" dir="$WORK/fetch-$1"
  mkdir -p "$dir" "$libs"
  cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.millrace</groupId><artifactId>kafka-ref</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$ver</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$ver</version></dependency>
  </dependencies>
</project>
EOF
  log "fetching org.apache.kafka:kafka_2.13:$ver + kafka-tools:$ver runtime closure (mvn dependency:copy-dependencies)..."
  (cd "$dir" && "${MVN[@]}" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" \
     >"$WORK/fetch-$ver.log" 2>&1) || return 1

  # Kafka's poms carry slf4j-api and log4j-core but no binding between them (the release tarball adds
  # one). Pick the binding matching the resolved slf4j major version and the resolved log4j version.
  local slf4j log4j binding
  slf4j="$(find "$libs" -name 'slf4j-api-*.jar' -printf '%f\n' | sed 's/^slf4j-api-\(.*\)\.jar$/\1/' | head -n1)"
  log4j="$(find "$libs" -name 'log4j-api-*.jar' -printf '%f\n' | sed 's/^log4j-api-\(.*\)\.jar$/\1/' | head -n1)"
  [[ -n "$log4j" ]] || log4j="${LOG4J_VERSION:-2.25.4}"
  if [[ "$slf4j" == 1.* ]]; then binding=log4j-slf4j-impl; else binding=log4j-slf4j2-impl; fi
  log "adding logging binding org.apache.logging.log4j:$binding:$log4j (slf4j-api ${slf4j:-?})"
  (cd "$dir" && "${MVN[@]}" dependency:copy -Dartifact="org.apache.logging.log4j:$binding:$log4j" \
     -DoutputDirectory="$libs" >>"$WORK/fetch-$ver.log" 2>&1) || return 1
  # log4j-core is needed by the binding; make sure it is there even if a future pom drops it.
  if ! compgen -G "$libs/log4j-core-*.jar" >/dev/null; then
    (cd "$dir" && "${MVN[@]}" dependency:copy -Dartifact="org.apache.logging.log4j:log4j-core:$log4j" \
       -DoutputDirectory="$libs" >>"$WORK/fetch-$ver.log" 2>&1) || return 1
  fi
}

install_version() {
  local ver="$1" stage="$CACHE/.kafka-$1.partial.$$"
  rm -rf "$stage"
  if ! fetch_version "$ver" "$stage/libs"; then
    rm -rf "$stage"
    return 1
  fi
  java -cp "$stage/libs/*" kafka.tools.StorageTool version >/dev/null 2>&1 \
    || java -cp "$stage/libs/*" kafka.tools.StorageTool --help >/dev/null 2>&1 \
    || log "warning: could not run kafka.tools.StorageTool from the fetched jars (see start logs if the broker fails)"
  printf '%s\n' "$ver" > "$stage/VERSION"
  (cd "$stage/libs" && ls -1) > "$stage/jars.txt"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$stage/.complete"
  rm -rf "$CACHE/kafka-$ver"
  mv "$stage" "$CACHE/kafka-$ver"
}

START=$(date +%s)

if [[ -n "${KAFKA_VERSION:-}" ]]; then
  if is_complete "$KAFKA_VERSION"; then
    log "Kafka $KAFKA_VERSION already provisioned in $CACHE/kafka-$KAFKA_VERSION (skipping download)"
    finish "$KAFKA_VERSION"
  fi
  log "provisioning Kafka $KAFKA_VERSION into $CACHE/kafka-$KAFKA_VERSION"
  install_version "$KAFKA_VERSION" || {
    tail -n 30 "$WORK/fetch-$KAFKA_VERSION.log" >&2 || true
    die "could not fetch Kafka $KAFKA_VERSION from Maven Central (Maven log above). Check the version exists (mvn dependency:get -Dartifact=org.apache.kafka:kafka_2.13:$KAFKA_VERSION) and that Maven Central is reachable."
  }
  log "done in $(( $(date +%s) - START ))s"
  finish "$KAFKA_VERSION"
fi

high="$MAJOR_RANGE_HIGH"
for attempt in $(seq 1 "$MAX_FALLBACKS"); do
  log "resolving the newest org.apache.kafka:kafka_2.13 in [$MAJOR_RANGE_LOW,$high) on Maven Central..."
  if ! ver="$(resolve_latest "$high")" || [[ -z "$ver" ]]; then
    newest_cached="$(find "$CACHE" -maxdepth 2 -name .complete -path '*/kafka-4.*' -printf '%h\n' 2>/dev/null \
      | sed 's#.*/kafka-##' | sort -V | tail -n1)"
    if [[ -n "$newest_cached" ]]; then
      log "warning: could not resolve versions from Maven Central; using the newest cached Kafka $newest_cached"
      finish "$newest_cached"
    fi
    die "could not resolve a Kafka 4.x version from Maven Central and nothing is cached. Check network access to Maven Central (mvn -X output above), or set KAFKA_VERSION."
  fi
  if is_complete "$ver"; then
    log "Kafka $ver (newest resolvable 4.x) already provisioned in $CACHE/kafka-$ver (skipping download)"
    finish "$ver"
  fi
  marker="$CACHE/.kafka-$ver.incomplete"
  if [[ -n "$(find "$marker" -mmin -1440 2>/dev/null)" ]]; then
    log "Kafka $ver was found incompletely published less than a day ago ($(cat "$marker")); trying the previous release"
    high="$ver"
    continue
  fi
  log "newest candidate: Kafka $ver (attempt $attempt/$MAX_FALLBACKS)"
  if install_version "$ver"; then
    log "done in $(( $(date +%s) - START ))s"
    finish "$ver"
  fi
  # Maven words a missing artifact differently on a first miss and on a cached miss.
  missing="$(grep -oE 'Could not find artifact [^ ]*|[^ ]+ was not found in [^ ]*' "$WORK/fetch-$ver.log" | head -n1 || true)"
  if [[ -z "$missing" ]]; then
    tail -n 30 "$WORK/fetch-$ver.log" >&2 || true
    die "fetching Kafka $ver failed for a reason other than a missing artifact (Maven log above). Retry, or pin an older release with KAFKA_VERSION=<ver>."
  fi
  log "warning: Kafka $ver is incompletely published on Maven Central ($missing); falling back to the previous release"
  printf '%s\n' "$missing" > "$marker"
  high="$ver"
done
die "no complete Kafka 4.x release found after $MAX_FALLBACKS attempts; pin one with KAFKA_VERSION=<ver>."
