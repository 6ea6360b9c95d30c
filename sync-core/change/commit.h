// The change model: a commit is what one local transaction wrote.
//
// A commit is the unit of push, acknowledgement, signature and idempotency;
// a field is the unit of merge. Every field write in a commit carries the
// commit's version (hlc, author) and the version of that field the author
// had seen when writing it (its base). A write that resolves conflicts also
// names the conflicting versions it supersedes.
#ifndef FIELDSYNC_CHANGE_COMMIT_H_
#define FIELDSYNC_CHANGE_COMMIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "change/id.h"
#include "change/value.h"
#include "clock/hlc.h"

namespace fieldsync {

// The name of the implicit liveness register in commits (1 = live, 0 =
// deleted): a FieldWrite of this column creates, deletes or revives a row.
inline constexpr std::string_view kLiveColumn = "_live";

// The version of one field write: who wrote it and when. Totally ordered by
// (hlc, device): the greater version wins a field. Unique, because one
// device's HLCs strictly increase.
struct Version {
  Hlc hlc;
  DeviceId device;

  std::string ToString() const;  // "2026-11-28T12:00:00.123Z+0@<device>"
  friend bool operator==(const Version& a, const Version& b) {
    return a.hlc == b.hlc && a.device == b.device;
  }
  friend bool operator!=(const Version& a, const Version& b) { return !(a == b); }
  friend bool operator<(const Version& a, const Version& b) {
    return a.hlc != b.hlc ? a.hlc < b.hlc : a.device < b.device;
  }
  friend bool operator>(const Version& a, const Version& b) { return b < a; }
};

struct FieldWrite {
  std::string column;  // a column of the table, or kLiveColumn
  Value value;
  // The version of this field the author had when writing; none if the field
  // had never been written there.
  std::optional<Version> base;
  // Conflicting versions of this field the author saw and chose to
  // supersede (a resolution). Empty for ordinary writes.
  std::vector<Version> resolves;

  friend bool operator==(const FieldWrite& a, const FieldWrite& b) {
    return a.column == b.column && a.value == b.value && a.base == b.base &&
           a.resolves == b.resolves;
  }
};

struct RowChange {
  std::string table;
  RowId row;
  std::vector<FieldWrite> fields;

  friend bool operator==(const RowChange& a, const RowChange& b) {
    return a.table == b.table && a.row == b.row && a.fields == b.fields;
  }
};

struct Commit {
  DeviceId author;
  uint64_t seq = 0;  // per-author sequence, 1, 2, 3, ... with no gaps
  Hlc hlc;
  std::vector<RowChange> changes;
  // The author device's Ed25519 signature (crypto/commit_signature.h); not
  // part of the canonical bytes, nor of equality. Empty if unsigned.
  std::string signature;
  // In transit only: a commit the hub trimmed to a node's scope carries the
  // digests of the row changes it left out, by their index in the whole
  // commit, so that its signature can still be verified.
  std::vector<std::pair<uint32_t, std::string>> omitted;
  // Protocol version 3 (crypto/commit_header.h): the commit's signed header
  // and its author's signature of it; empty when it has none (written
  // before its author was upgraded, or from a version 2 peer). In transit,
  // the row tags of the changes left out, in the order of `omitted`.
  std::string header;
  std::string header_signature;
  std::vector<std::string> omitted_tags;

  Version version() const { return Version{hlc, author}; }
  // "<author>#<seq>", for messages.
  std::string Name() const;

  friend bool operator==(const Commit& a, const Commit& b) {
    return a.author == b.author && a.seq == b.seq && a.hlc == b.hlc && a.changes == b.changes;
  }
};

}  // namespace fieldsync

#endif  // FIELDSYNC_CHANGE_COMMIT_H_
