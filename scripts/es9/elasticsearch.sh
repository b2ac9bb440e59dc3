#!/usr/bin/env bash
# bin/elasticsearch of a home assembled by scripts/es9/assemble.
#
#   bin/elasticsearch [-d] [-q] [-p PIDFILE] [-E key=value]...
#
# Runs the launcher (lib/tools/launcher, in place of the unpublished server-cli), which starts
# the server JVM. Without -d it runs in the foreground. With -d the launcher is detached into its
# own session (it must outlive this script: it holds the server's stdin, whose closing stops the
# server); this script returns 0 once the server reports ready, or 1 with the end of the
# launcher's output if it dies first. The server writes its own PID to PIDFILE.
#
# Environment: ES_JAVA_HOME (Java 21+), ES_PATH_CONF, ES_JAVA_OPTS, ES_TMPDIR, and
# ES_LAUNCHER_LOG (where the detached launcher's output goes; default $ES_HOME/logs/launcher.log).
set -eo pipefail

script=$0
while [ -h "$script" ]; do script=$(readlink "$script"); done
ES_HOME=$(cd "$(dirname "$script")/.." && pwd)
ES_PATH_CONF=$(cd "${ES_PATH_CONF:-$ES_HOME/config}" && pwd)

if [ -n "${ES_JAVA_HOME:-}" ]; then java="$ES_JAVA_HOME/bin/java"
elif [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"
else java=$(command -v java || true); fi
[ -n "$java" ] && [ -x "$java" ] || { echo "could not find java (set ES_JAVA_HOME)" >&2; exit 1; }
v=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
if [ "${v%%.*}" -lt 21 ] 2>/dev/null; then
  echo "Elasticsearch 9.x needs Java 21+, found $v at $java" >&2; exit 1
fi

daemonize=false
for a in "$@"; do case "$a" in -d|--daemonize) daemonize=true ;; esac; done

# A small heap is plenty for the launcher; the server's options come from jvm.options.
launch=("$java" -Xms4m -Xmx64m -XX:+UseSerialGC
  -Des.path.home="$ES_HOME" -Des.path.conf="$ES_PATH_CONF"
  -cp "$ES_HOME/lib/*:$ES_HOME/lib/tools/launcher" EsMiniLauncher "$@")

export HOSTNAME=${HOSTNAME:-$(hostname)}
cd "$ES_HOME"
if [ "$daemonize" = false ]; then
  exec "${launch[@]}"
fi

out=${ES_LAUNCHER_LOG:-$ES_HOME/logs/launcher.log}
mkdir -p "$(dirname "$out")"
ready_dir=$(mktemp -d "${TMPDIR:-/tmp}/es-ready.XXXXXX")
trap 'rm -rf "$ready_dir"' EXIT
export ES_LAUNCHER_READY_FILE="$ready_dir/ready"
setsid nohup "${launch[@]}" </dev/null >"$out" 2>&1 &
launcher=$!
while true; do
  [ -f "$ES_LAUNCHER_READY_FILE" ] && exit 0
  if ! kill -0 "$launcher" 2>/dev/null; then
    echo "Elasticsearch failed to start; the end of $out:" >&2
    tail -n 50 "$out" >&2
    exit 1
  fi
  sleep 0.5
done
