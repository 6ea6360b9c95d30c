// An in-memory SQLite VFS for the simulation (tests/sim/world.h): every
// file a real SQLite file of bytes, held in this process under its path,
// with the locks and the WAL's shared memory of several connections (the
// hub opens a writer, readers and a registry connection on one file), so
// that the product code runs unchanged on it. Installed as SQLite's default
// VFS in the simulation's binary only, it takes away the system calls
// (fcntl locks, pread/pwrite: about a third of a schedule on /dev/shm).
//
// A crash is honest: Snapshot() copies the bytes of a machine's files at
// the moment it dies, every connection is then closed, and Restore() puts
// back exactly those bytes (the WAL with what it held, the shared memory
// gone), so that SQLite reopens from what a killed process leaves behind:
// a transaction not committed at that moment is lost. CrashAfterWrites()
// takes that snapshot inside a call, at a chosen write to the files.
#ifndef FIELDSYNC_TESTS_SIM_MEM_VFS_H_
#define FIELDSYNC_TESTS_SIM_MEM_VFS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fieldsync::sim::memvfs {

// Registers the VFS as SQLite's default (once; later calls do nothing).
void Install();

// The files whose path begins with `prefix`, by path (shared memory aside).
using Files = std::map<std::string, std::string>;
Files Snapshot(const std::string& prefix);
// Makes the files under `prefix` exactly `files`: others are removed. No
// connection may hold one of them open.
void Restore(const std::string& prefix, const Files& files);
// The machine whose files are under `prefix` dies now, after its files
// were snapshot: until Restore() or RemoveAll() of them, its connections
// change nothing (writes are dropped, an exclusive lock is refused), so
// that closing them leaves the files as the killed process did, without
// the checkpoint a clean close of the last connection runs (work the
// Restore() after it would throw away).
void Kill(const std::string& prefix);
// Removes every file under `prefix` (none may be open).
void RemoveAll(const std::string& prefix);
// Bytes held under `prefix`.
uint64_t Bytes(const std::string& prefix);
// Connections open on files under `prefix`.
int OpenHandles(const std::string& prefix);

// Arms a crash inside a call: just before the `n`th write (or truncation)
// from now to a file under `prefix`, the files under `prefix` are
// snapshot; TakeCrash(prefix) returns that snapshot (and disarms), or
// nothing if the call wrote fewer than `n` times. Crashes of several
// prefixes (machines) may be armed at once.
void CrashAfterWrites(const std::string& prefix, int n);
std::optional<Files> TakeCrash(const std::string& prefix);

}  // namespace fieldsync::sim::memvfs

#endif  // FIELDSYNC_TESTS_SIM_MEM_VFS_H_
