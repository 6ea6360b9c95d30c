#!/usr/bin/env python3
"""Clang's thread-safety analysis over the hub's sources.

    thread_safety_test.py BUILD_DIR SOURCE_ROOT [CLANGXX]
        the check (ctest's hub_thread_safety): every hub source passes
    thread_safety_test.py --one BUILD_DIR SOURCE_ROOT SOURCE [CLANGXX]
        one source, for the build (tests/CMakeLists.txt: a step per source)

Compiles every source of hub/ (and the in-process hub of the tests) with
clang++ -fsyntax-only -Wthread-safety -Werror=thread-safety, with the flags
the build gave it (BUILD_DIR/compile_commands.json; the build may use gcc,
which has no such analysis). A member ABSL_GUARDED_BY a mutex touched
without holding it, a function ABSL_EXCLUSIVE_LOCKS_REQUIRED called without
the lock, or locks taken against their ABSL_ACQUIRED_AFTER order fail the
check, with clang's message. Every other warning is off: this check is about
locks only.

A source that passed leaves BUILD_DIR/thread_safety/<path>.ok (the flags it
was analysed with) and <path>.ok.d (every header it read, clang's -MD). The
build analyses each hub source as a step of its own, which Ninja reruns when
the source or a header it reads changes, so a built tree has them all. The
check takes a source's earlier result only when that mark is newer than the
source and every header it lists and the flags are the same; any other
source is analysed again, here.

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


def hub_entries(build, root):
    """{absolute source path: compile_commands entry} of the hub's sources,
    or a message saying why there are none."""
    db_path = os.path.join(build, "compile_commands.json")
    try:
        with open(db_path) as f:
            db = json.load(f)
    except (OSError, ValueError) as e:
        return None, f"cannot read {db_path} ({e}): configure the build first"
    hub = os.path.join(root, "hub") + os.sep
    extra = {os.path.join(root, "tests", "support", "in_process_hub.cc")}
    entries = {}
    for e in db:
        path = os.path.realpath(os.path.join(e["directory"], e["file"]))
        if path.startswith(hub) or path in extra:
            entries[path] = e
    if len(entries) < 20:
        return None, f"only {len(entries)} hub sources in {db_path}; expected the hub's ~45"
    return entries, None


def mark_of(build, root, path):
    return os.path.join(build, "thread_safety", os.path.relpath(path, root) + ".ok")


def depfile_paths(text):
    """The prerequisites of a make-style depfile (clang -MD)."""
    text = text.replace("\\\n", " ")
    _, _, deps = text.partition(": ")
    out, cur, esc = [], "", False
    for ch in deps:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch.isspace():
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def still_good(mark, flags):
    """Whether the mark of an earlier pass holds for these flags: it exists,
    names the same flags, and nothing it read is newer than it."""
    try:
        when = os.stat(mark).st_mtime_ns
        with open(mark) as f:
            if json.load(f) != flags:
                return False
        with open(mark + ".d") as f:
            deps = depfile_paths(f.read())
        if not deps:
            return False
        return all(os.stat(d).st_mtime_ns <= when for d in deps)
    except (OSError, ValueError):
        return False


def analyse(clang, build, root, path, entry):
    """Runs the analysis on one source; on success writes its mark (after
    the depfile, so that a mark never stands without one). Returns
    (return code, clang's messages)."""
    flags = flags_of(entry)
    mark = mark_of(build, root, path)
    os.makedirs(os.path.dirname(mark), exist_ok=True)
    for stale in (mark, mark + ".d"):
        try:
            os.remove(stale)
        except FileNotFoundError:
            pass
    r = subprocess.run([clang] + flags + ANALYSIS + ["-MD", "-MF", mark + ".d", "-MT", mark, path],
                       cwd=entry["directory"], capture_output=True, text=True)
    if r.returncode == 0:
        with open(mark + ".tmp", "w") as f:
            json.dump(flags, f)
        os.replace(mark + ".tmp", mark)
    return r.returncode, r.stderr


def ready(build, root, clang):
    """The hub's sources and their compile entries, or None after saying
    why the analysis cannot run (no clang, no compile_commands.json)."""
    try:
        subprocess.run([clang, "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        print(f"FAIL: {clang} not found: this check needs clang (Debian package clang, "
              "as the fuzz targets do)")
        return None
    entries, why = hub_entries(build, root)
    if entries is None:
        print(f"FAIL: {why}")
    return entries


def one(build, root, source, clang):
    """The build's step for one source."""
    entries = ready(build, root, clang)
    if entries is None:
        return 1
    path = os.path.realpath(source)
    if path not in entries:
        print(f"FAIL: {source} is not a hub source of {build}/compile_commands.json")
        return 1
    rc, err = analyse(clang, build, root, path, entries[path])
    if rc != 0:
        print(f"FAIL: {os.path.relpath(path, root)} fails clang's thread-safety analysis\n{err}")
        return 1
    return 0


def check(build, root, clang):
    """ctest's check over every hub source."""
    entries = ready(build, root, clang)
    if entries is None:
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

    stale = [p for p in sorted(entries)
            if not still_good(mark_of(build, root, p), flags_of(entries[p]))]

    def run(path):
        return (path,) + analyse(clang, build, root, path, entries[path])

    failed = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for path, rc, err in pool.map(run, stale):
            if rc != 0:
                failed += 1
                print(f"FAIL: {os.path.relpath(path, root)}\n{err}")
    if failed:
        print(f"{failed} of {len(entries)} hub sources fail clang's thread-safety analysis")
        return 1
    print(f"ok: {len(entries)} hub sources pass clang's thread-safety analysis "
          f"({len(stale)} analysed now, {len(entries) - len(stale)} by the build unchanged since; "
          "the canary is refused)")
    return 0


def main():
    args = sys.argv[1:]
    if args and args[0] == "--one":
        if len(args) not in (4, 5):
            print("usage: thread_safety_test.py --one BUILD_DIR SOURCE_ROOT SOURCE [CLANGXX]",
                  file=sys.stderr)
            return 2
        return one(args[1], os.path.realpath(args[2]), args[3],
                   args[4] if len(args) == 5 else "clang++")
    if len(args) not in (2, 3):
        print("usage: thread_safety_test.py BUILD_DIR SOURCE_ROOT [CLANGXX]", file=sys.stderr)
        return 2
    return check(args[0], os.path.realpath(args[1]), args[2] if len(args) == 3 else "clang++")


if __name__ == "__main__":
    sys.exit(main())
