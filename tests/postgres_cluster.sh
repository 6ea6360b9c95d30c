#!/usr/bin/env bash
# The ctest fixture `postgres_cluster` (tests/CMakeLists.txt): one private
# PostgreSQL cluster (tools/lib/postgres.sh) for every test labelled
# postgres in a ctest run.
#   postgres_cluster.sh setup FILE    starts it; writes its socket directory to FILE
#   postgres_cluster.sh cleanup FILE  stops it and removes FILE
# The cluster's watchdog follows ctest (this script's parent): a ctest killed
# before its cleanup runs still leaves nothing behind.
set -euo pipefail
script="$(cd "$(dirname "$0")/.." && pwd)/tools/lib/postgres.sh"
file=${2:?usage: postgres_cluster.sh setup|cleanup FILE}
stop_recorded() {
  # A cluster postgres.sh refuses to stop (one of an older layout, its DIR
  # not root's) is left as it is, said once; the new one has its own DIR.
  if [ -f "$file" ]; then
    bash "$script" stop "$(cat "$file")" || echo "warning: left the cluster in $(cat "$file")" >&2
    rm -f "$file"
  fi
}
case "$1" in
  setup)
    stop_recorded  # one a killed run left
    start=$(date +%s%N)
    dir=$(bash "$script" start --watch "$PPID")
    echo "$dir" >"$file"
    echo "private PostgreSQL cluster in $dir, started in $(( ($(date +%s%N) - start) / 1000000 )) ms"
    ;;
  cleanup) stop_recorded ;;
  *) echo "usage: $0 setup|cleanup FILE" >&2; exit 2 ;;
esac
