// The store's errors (sqlite::ErrorStatus, store/sqlite.cc) as keys a
// front end says in its own words (base/message.h); the English words,
// with SQLite's own and what was being done, stay the command line's. No
// parameters.
#ifndef FIELDSYNC_STORE_STORE_MESSAGES_H_
#define FIELDSYNC_STORE_STORE_MESSAGES_H_

#include <string_view>

namespace fieldsync {

// Another process holds the database (SQLITE_BUSY, SQLITE_LOCKED after the
// busy timeout): UNAVAILABLE.
inline constexpr std::string_view kMsgStoreBusy = "lib.store.busy";
// The disk is full (SQLITE_FULL): RESOURCE_EXHAUSTED.
inline constexpr std::string_view kMsgStoreDiskFull = "lib.store.disk_full";
// A disk I/O error (SQLITE_IOERR): UNAVAILABLE.
inline constexpr std::string_view kMsgStoreIo = "lib.store.io";
// The file is damaged or not a database (SQLITE_CORRUPT, SQLITE_NOTADB):
// DATA_LOSS.
inline constexpr std::string_view kMsgStoreDamaged = "lib.store.damaged";
// The file cannot be opened or written (SQLITE_CANTOPEN, SQLITE_PERM,
// SQLITE_READONLY): FAILED_PRECONDITION.
inline constexpr std::string_view kMsgStoreReadOnly = "lib.store.readonly";
// Something the write adds is already there (SQLITE_CONSTRAINT):
// ALREADY_EXISTS.
inline constexpr std::string_view kMsgStoreExists = "lib.store.exists";
// A write's COMMIT failed (a disk error or a full disk while saving,
// Replica's Finish): it may or may not have been kept. UNAVAILABLE or
// RESOURCE_EXHAUSTED, as the SQLite error was.
inline constexpr std::string_view kMsgStoreCommitUnsure = "lib.store.commit_unsure";
inline constexpr std::string_view kStoreMessageKeys[] = {
    kMsgStoreBusy,     kMsgStoreDiskFull, kMsgStoreIo,
    kMsgStoreDamaged,  kMsgStoreReadOnly, kMsgStoreExists,
    kMsgStoreCommitUnsure};

}  // namespace fieldsync

#endif  // FIELDSYNC_STORE_STORE_MESSAGES_H_
