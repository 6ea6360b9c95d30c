#!/usr/bin/env bash
# ctest's test_pki_setup (tests/CMakeLists.txt): the TLS files the sync tests'
# hubs use in this run, made once into DIR. Made beside it and renamed into
# place, so that a test sees either the whole set or no directory (then it
# makes its own: harness::CopyRunPki).
#   tests/test_pki_setup.sh DIR MAKE_CERTS
set -euo pipefail
dir=$1 make_certs=$2
rm -rf "$dir.new"
"$make_certs" "$dir.new" >/dev/null
rm -rf "$dir"
mv "$dir.new" "$dir"
