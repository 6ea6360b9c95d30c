# Shared by tools/test and tools/demo: install what is missing, configure, build.
# Sourced, not run. Runs as root on Debian 12 (as CI and a fresh machine do);
# elsewhere it tells you what to install.

FIELDSYNC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIELDSYNC_BUILD=${FIELDSYNC_BUILD:-$FIELDSYNC_ROOT/build}

# Debian 12 packages the build and the tests need (see ../shared/docs/TOOLCHAIN.md);
# clang and its libFuzzer runtime build the fuzz targets (tests/fuzz).
FIELDSYNC_PACKAGES=(
  cmake ninja-build g++ pkg-config ccache openssl libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libsqlite3-dev libsodium-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev libicu-dev libzxcvbn-dev libcli11-dev nlohmann-json3-dev
  sqlite3 python3 procps   # used by the tests and the demo (sqlite3, JSON, pgrep)
  faketime                 # a laptop's clock days off (tests/clock_tls_test.sh)
  libcpp-httplib-dev       # fieldnode console's HTTP server (a compiled library in Debian 12, linked via pkg-config)
  chromium chromium-driver python3-selenium  # the console's browser test (label browser)
  postgresql-15 libpq-dev  # the hub's PostgreSQL store (hub/pg/) and its private test cluster (tools/lib/postgres.sh)
)

fieldsync_say() { printf '\n==> %s\n' "$*"; }

# Installs the missing packages; does nothing (and never calls apt) when all are there.
fieldsync_install_packages() {
  local missing=() installed
  # One dpkg-query for all (one a package took ~2 s in all).
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${FIELDSYNC_PACKAGES[@]}" 2>/dev/null |
              sed -n 's/ install ok installed$//p') || true  # non-zero if one is unknown
  for p in "${FIELDSYNC_PACKAGES[@]}"; do
    [[ $'\n'$installed$'\n' == *$'\n'$p$'\n'* ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    fieldsync_say "all ${#FIELDSYNC_PACKAGES[@]} Debian packages present"
    return 0
  fi
  fieldsync_say "installing missing Debian packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo=sudo; else
      echo "error: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
      return 1
    fi
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# As root: the system user the tests' private PostgreSQL runs as
# (tools/lib/postgres.sh; never a shared account such as nobody).
fieldsync_install_pg_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  bash "$FIELDSYNC_ROOT/tools/lib/postgres.sh" user >/dev/null
}

# Configures (first time) and builds everything with Ninja on two cores.
fieldsync_build() {
  fieldsync_say "configuring and building in $FIELDSYNC_BUILD"
  cmake -S "$FIELDSYNC_ROOT" -B "$FIELDSYNC_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$FIELDSYNC_BUILD" -j2
}
