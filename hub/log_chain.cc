#include "hub/log_chain.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "sync/protocol.h"

namespace fieldsync::hub {
namespace {

constexpr std::string_view kDomain = "fieldsync hub log v1";
// Entries hashed a read when extending.
constexpr size_t kExtendBatch = 2000;

}  // namespace

std::string LogHashZero(const DeviceId& hub_id) {
  return crypto::DomainHash(kDomain, {hub_id.view()});
}

std::string NextLogHash(const std::string& before, const LogEntry& e) {
  std::string fixed;
  crypto::ByteWriter w(&fixed);
  w.U64(static_cast<uint64_t>(e.position));
  const std::string entry = crypto::Blake2b256(absl::StrCat(e.body, e.signature));
  std::string seq;
  crypto::ByteWriter(&seq).U64(e.seq);
  return crypto::DomainHash(kDomain, {fixed, before, e.author.view(), seq, entry});
}

absl::Status ExtendLogChain(HubWriteTxn& hub, const DeviceId& hub_id) {
  FS_ASSIGN_OR_RETURN(LogPoint last, hub.LogHashHead());
  if (last.position == 0) last.hash = LogHashZero(hub_id);
  while (true) {
    FS_ASSIGN_OR_RETURN(std::vector<LogEntry> entries,
                        hub.LogEntriesAfter(last.position, kExtendBatch));
    if (entries.empty()) return absl::OkStatus();
    for (const LogEntry& e : entries) {
      last.hash = NextLogHash(last.hash, e);
      last.position = e.position;
      FS_RETURN_IF_ERROR(hub.PutLogHash(last.position, last.hash));
    }
  }
}

absl::StatusOr<std::optional<std::string>> LogHashAt(HubReadTxn& hub, const DeviceId& hub_id,
                                                     int64_t position) {
  if (position == 0) return LogHashZero(hub_id);
  if (position < 0) return std::nullopt;
  return hub.LogHash(position);
}

absl::StatusOr<std::optional<sync::LogWentBack>> FindWentBack(
    HubReadTxn& hub, const DeviceId& hub_id, int64_t cursor,
    const std::vector<sync::LogMark>& marks, int64_t head) {
  if (marks.size() > static_cast<size_t>(sync::kMaxLogMarks)) {
    return absl::InvalidArgumentError(absl::StrCat("a pull carries ", marks.size(),
                                                   " log marks; at most ", sync::kMaxLogMarks));
  }
  for (const sync::LogMark& m : marks) {
    if (m.hash.size() != crypto::kHashBytes || m.position < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a log mark of the pull (position ", m.position, ") is not a position and a ",
          crypto::kHashBytes, "-byte hash"));
    }
  }
  bool back = cursor > head;
  for (const sync::LogMark& m : marks) {
    if (back) break;
    // At the cursor, and above it: where rows installed whole hold every
    // write up to (a pull cut after them left the cursor below).
    if (m.position < cursor) continue;
    if (m.position > head) {
      back = true;
      break;
    }
    FS_ASSIGN_OR_RETURN(std::optional<std::string> h, LogHashAt(hub, hub_id, m.position));
    // Not hashed yet (a hub of the schema before, opened by no engine):
    // nothing to compare.
    back = h && *h != m.hash;
  }
  if (!back) return std::nullopt;
  sync::LogWentBack out;
  out.from = cursor;
  for (const sync::LogMark& m : marks) {
    if (m.position > head || m.position > cursor || m.position <= out.to) continue;
    FS_ASSIGN_OR_RETURN(std::optional<std::string> h, LogHashAt(hub, hub_id, m.position));
    if (h && *h == m.hash) out.to = m.position;
  }
  return out;
}

}  // namespace fieldsync::hub
