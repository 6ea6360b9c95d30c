#!/usr/bin/env bash
# Fails if sync-core includes gRPC or protobuf headers, directly or through
# another header. DESIGN.md: the engine knows nothing of the wire.
#
#   no_rpc_in_sync_core_test.sh SYNC_CORE_SOURCE_DIR BUILD_DIR NINJA
#
# 1. No source or header under sync-core/ names such a header.
# 2. The compiler's own dependency records (ninja -t deps) for every
#    object of the engine's layers (fieldsync_base ... fieldsync_sync) lists
#    no such header, so an indirect include is caught.
# (The link dependencies are checked when CMake configures: sync-core/CMakeLists.txt.)
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: no_rpc_in_sync_core_test.sh SYNC_CORE_SOURCE_DIR BUILD_DIR NINJA" >&2
  exit 2
fi
src=$1 build=$2 ninja=$3
pattern='grpc|google/protobuf|\.pb\.h'

direct=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]([^>\"]*(${pattern}))" "$src" || true)
if [ -n "$direct" ]; then
  echo "FAIL: sync-core includes gRPC/protobuf headers:"
  echo "$direct"
  exit 1
fi

deps=$("$ninja" -C "$build" -t deps 2>/dev/null | awk '
  /^[^ \t].*: #deps/ { inside = ($1 ~ /^sync-core\/CMakeFiles\/fieldsync_[a-z]+\.dir\//) ; if (inside) objects++ ; next }
  inside && NF { print }
  END { print "OBJECTS " objects+0 > "/dev/stderr" }' 2> "$build/.no_rpc_objects")
objects=$(awk '{print $2}' "$build/.no_rpc_objects")
rm -f "$build/.no_rpc_objects"
if [ "${objects:-0}" -lt 10 ]; then
  echo "FAIL: found dependency records for only ${objects:-0} sync-core objects; build the sync-core libraries first"
  exit 1
fi
indirect=$(echo "$deps" | grep -E "$pattern" || true)
if [ -n "$indirect" ]; then
  echo "FAIL: sync-core objects depend on gRPC/protobuf headers:"
  echo "$indirect" | sort -u | head -20
  exit 1
fi
echo "ok: $objects sync-core objects, none includes a gRPC or protobuf header"
