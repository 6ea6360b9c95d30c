// A fault-injecting SQLite VFS for crash-safety tests (the idea of SQLite's
// src/test_vfs.c): it wraps the default VFS and every file opened through it,
// counts the "mutating operations" -- xWrite, xSync and xTruncate on any file
// (database, WAL, journal) -- and, once armed, fails the n-th of them and every
// later one.
//
//   ReplicaOptions o;
//   o.path = path;
//   o.vfs = RegisterFaultyVfs();                      // "fieldsync-faulty"
//   ... open the replica ...
//   FaultInjector::Get().ArmFailAt(3, FaultMode::kError);
//   ... the call under test ...
//   FaultInjector::Get().Disarm();
//
// Two modes:
//  - kError: the operation returns SQLITE_IOERR_WRITE / _FSYNC / _TRUNCATE
//    without touching the disk -- a disk error SQLite reports to the caller.
//  - kPowerCut: the operation and everything after it is silently dropped
//    (returns SQLITE_OK, the disk is not touched) -- the machine lost power at
//    that instant. xDelete through the VFS is dropped too (SQLite deletes the
//    WAL on close, after a checkpoint whose writes were dropped; letting that
//    delete through would lose committed data no real power cut could lose).
//    The test must then destroy every connection opened through this VFS and
//    reopen the file through the default VFS to see what survived. Until
//    Disarm() the files keep ignoring writes.
//    The model keeps every write made before the cut, synced or not (the
//    operating system's cache survives): it finds commits that are not
//    atomic, not a missing fsync.
//
// FIELDSYNC_VFS_TRACE=1 prints every mutating operation (and its fate) to
// stderr.
//
// Reads, locks and the WAL's shared memory (xShm*) are forwarded unchanged:
// the shared memory is not durable, SQLite rebuilds it from the WAL on reopen.
//
// Not thread-safe beyond what single-threaded tests need (the counters are
// guarded by a mutex, but arming while another thread writes is racy by
// nature). Do not use across fork().
#ifndef FIELDSYNC_TESTS_SUPPORT_FAULTY_VFS_H_
#define FIELDSYNC_TESTS_SUPPORT_FAULTY_VFS_H_

#include <cstdint>
#include <mutex>
#include <string>

namespace fieldsync::testing {

// Registers the VFS (once; later calls do nothing) and returns its name. Not
// made the default VFS.
const std::string& RegisterFaultyVfs();

enum class FaultMode { kError, kPowerCut };

// The process-wide controller of the VFS.
class FaultInjector {
 public:
  static FaultInjector& Get();

  // From now on, the n-th mutating operation (1-based, counted from this
  // call) and every later one fails in `mode`. Resets ops_since_arm() and
  // faulted_ops(). n must be >= 1.
  void ArmFailAt(uint64_t n, FaultMode mode);
  // The power goes now: every later mutating operation and delete is
  // dropped (kPowerCut from op 1, with deletes dropped even before the first
  // op). For "crash right after this call returned".
  void CutPowerNow();
  // Counts from zero without failing anything (to measure how many mutating
  // operations a call performs). Same as Disarm() plus a counter reset.
  void StartCounting();
  // Stops failing; operations go to disk again. Counters are kept.
  void Disarm();

  // Mutating operations seen since the last ArmFailAt()/StartCounting(),
  // failed or not.
  uint64_t ops_since_arm() const;
  // How many of them were failed (kError) or dropped (kPowerCut), plus
  // dropped deletes.
  uint64_t faulted_ops() const;
  bool armed() const;
  // "xSync main.sqlite-wal" for the first operation faulted since arming;
  // empty if none. For failure messages.
  std::string first_fault() const;

  // Called by the VFS. Counts a mutating op on `file` and decides its fate.
  enum class Fate { kPass, kFail, kDrop };
  Fate OnMutatingOp(const char* op, const char* file);
  // Called by the VFS for xDelete: dropped after a power cut.
  Fate OnDelete(const char* file);

 private:
  FaultInjector() = default;
  void RecordFault(const char* op, const char* file);

  mutable std::mutex mu_;
  bool armed_ = false;
  FaultMode mode_ = FaultMode::kError;
  uint64_t fail_at_ = 0;
  bool cut_ = false;  // kPowerCut: the power is gone
  uint64_t ops_ = 0;
  uint64_t faulted_ = 0;
  std::string first_fault_;
};

}  // namespace fieldsync::testing

#endif  // FIELDSYNC_TESTS_SUPPORT_FAULTY_VFS_H_
