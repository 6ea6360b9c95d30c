#!/usr/bin/env python3
"""Clang's thread-safety analysis over the hub's sources.

    thread_safety_test.py BUILD_DIR SOURCE_ROOT [CLANGXX]

Compiles every source of hub/ (and the in-process hub of the tests) with
clang++ -fsyntax-only -Wthread-safety -Werror=thread-safety, with the flags
the build gave it (BUILD_DIR/compile_commands.json; the build may use gcc,
which has no such analysis). A member ABSL_GUARDED_BY a mutex touched
without holding it, a function ABSL_EXCLUSIVE_LOCKS_REQUIRED called without
the lock, or locks taken against their ABSL_ACQUIRED_AFTER order fail the
test, with clang's message. Every other warning is off: this check is about
locks only.

First a canary, a guarded member read without its lock, must be refused:
that proves the analysis runs with these flags and headers (so a check that
silently analysed nothing cannot pass). CLANGXX defaults to clang++.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ANALYSIS = ["-fsyntax-only", "-Wno-everything", "-Wthread-safety",
            "-Werror=thread-safety"]

CANARY = r'''
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
class Canary {
 public:
  int Read() { return n_; }  // no lock: the analysis must refuse this
 private:
  absl::Mutex mu_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
};
int main() { Canary c; return c.Read(); }
'''


def flags_of(entry):
    """The compiler's flags of a compile_commands entry, without the
    compiler (and launcher), the output and the source."""
    args = entry.get("arguments") or shlex.split(entry["command"])
    first = next(i for i, a in enumerate(args) if a.startswith("-"))
    out, skip = [], False
    for a in args[first:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == entry["file"]:
            continue
        out.append(a)
    return out


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: thread_safety_test.py BUILD_DIR SOURCE_ROOT [CLANGXX]", file=sys.stderr)
        return 2
    build, root = sys.argv[1], os.path.realpath(sys.argv[2])
    clang = sys.argv[3] if len(sys.argv) == 4 else "clang++"
    try:
        subprocess.run([clang, "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        print(f"FAIL: {clang} not found: this check needs clang (Debian package clang, "
              "as the fuzz targets do)")
        return 1
    db_path = os.path.join(build, "compile_commands.json")
    try:
        with open(db_path) as f:
            db = json.load(f)
    except OSError as e:
        print(f"FAIL: cannot read {db_path} ({e}): configure the build first")
        return 1

    hub = os.path.join(root, "hub") + os.sep
    extra = {os.path.join(root, "tests", "support", "in_process_hub.cc")}
    entries = {}
    for e in db:
        path = os.path.realpath(os.path.join(e["directory"], e["file"]))
        if path.startswith(hub) or path in extra:
            entries[path] = e
    if len(entries) < 20:
        print(f"FAIL: only {len(entries)} hub sources in {db_path}; expected the hub's ~45")
        return 1

    # The canary, with the flags of a hub source (its include paths).
    some = next(iter(sorted(entries)))
    with tempfile.TemporaryDirectory() as tmp:
        canary = os.path.join(tmp, "canary.cc")
        with open(canary, "w") as f:
            f.write(CANARY)
        r = subprocess.run([clang] + flags_of(entries[some]) + ANALYSIS + [canary],
                           cwd=entries[some]["directory"], capture_output=True, text=True)
        if r.returncode == 0 or "-Wthread-safety" not in r.stderr:
            print("FAIL: the canary (a guarded member read without its lock) was not refused: "
                  "the analysis does not run with these flags\n" + r.stderr)
            return 1

    def analyse(path):
        e = entries[path]
        r = subprocess.run([clang] + flags_of(e) + ANALYSIS + [path], cwd=e["directory"],
                           capture_output=True, text=True)
        return path, r.returncode, r.stderr

    failed = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for path, rc, err in pool.map(analyse, sorted(entries)):
            if rc != 0:
                failed += 1
                print(f"FAIL: {os.path.relpath(path, root)}\n{err}")
    if failed:
        print(f"{failed} of {len(entries)} hub sources fail clang's thread-safety analysis")
        return 1
    print(f"ok: {len(entries)} hub sources pass clang's thread-safety analysis "
          "(and the canary is refused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
