#include "store/access_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "base/strings.h"
#include "store/replica_internal.h"
#include "store/sqlite.h"

namespace fieldsync {
namespace {

constexpr std::string_view kDomain{"fieldsync access log v1\0", 24};
constexpr char kTable[] = "access_log";

std::string TextOf(const Value& v) { return v.kind() == Value::Kind::kText ? v.str() : ""; }
int64_t IntOf(const Value& v) { return v.kind() == Value::Kind::kInt ? v.int_value() : 0; }
RowId IdOf(const Value& v) {
  if (v.kind() != Value::Kind::kBytes || v.str().size() != 16) return RowId();
  return *Id16::FromBytes(v.str(), "id");
}

// Holds an exclusive lock on a file beside the replica while alive.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0 && flock(fd_, LOCK_EX) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);  // closing releases the lock
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace

std::string AccessEntryHash(const AccessEntry& e) {
  std::string m(kDomain);
  crypto::ByteWriter w(&m);
  w.Field(e.device.view());
  w.Field(e.officer);
  w.Field(e.case_id.view());
  w.U64(static_cast<uint64_t>(e.at_millis));
  w.Field(e.action);
  w.Field(e.fields);
  w.U64(static_cast<uint64_t>(e.seq));
  w.Field(e.province);
  w.Field(e.prev_hash);
  return absl::BytesToHexString(crypto::Blake2b256(m));
}

absl::StatusOr<AccessEntry> AppendAccess(Replica& replica, const std::string& province,
                                         const std::string& officer, const RowId& case_id,
                                         const std::string& action, const std::string& fields,
                                         int64_t at_millis) {
  FS_ASSIGN_OR_RETURN(std::vector<AccessEntry> one,
                      AppendAccessMany(replica, province, officer, {{case_id, action, fields}},
                                       at_millis));
  return one.front();
}

absl::StatusOr<std::vector<AccessEntry>> AppendAccessMany(Replica& replica,
                                                          const std::string& province,
                                                          const std::string& officer,
                                                          const std::vector<AccessRequest>& reqs,
                                                          int64_t at_millis) {
  if (reqs.empty()) return std::vector<AccessEntry>();
  sqlite::Db& db = ReplicaInternal::Db(replica);
  FileLock lock(db.path() + "-access.lock");
  if (!lock.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot lock ", db.path(),
                                               "-access.lock to append to the access log"));
  }
  int64_t seq = 0;
  std::string prev;
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared(
                                     "SELECT seq, entry_hash FROM access_log WHERE device = ?1 "
                                     "AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1"));
    st->BindBlob(1, replica.device_id().view());
    FS_ASSIGN_OR_RETURN(bool found, st->Step());
    if (found) {
      seq = st->ColumnInt(0);
      prev = st->ColumnString(1);
    }
  }
  std::vector<AccessEntry> out;
  LocalTxn txn;
  for (const AccessRequest& r : reqs) {
    AccessEntry e;
    e.id = Id16::NewRandom();
    e.device = replica.device_id();
    e.officer = officer;
    e.case_id = r.case_id;
    e.at_millis = at_millis;
    e.action = r.action;
    e.fields = r.fields;
    e.province = province;
    e.seq = ++seq;
    e.prev_hash = prev;
    e.entry_hash = AccessEntryHash(e);
    prev = e.entry_hash;
    txn.Create(kTable, e.id,
               {{"device", Value::Bytes(std::string(e.device.view()))},
                {"officer", Value::Text(e.officer)},
                {"case_id", Value::Bytes(std::string(e.case_id.view()))},
                {"at", Value::Int(e.at_millis)},
                {"action", Value::Text(e.action)},
                {"fields", Value::Text(e.fields)},
                {"seq", Value::Int(e.seq)},
                {"prev_hash", Value::Text(e.prev_hash)},
                {"entry_hash", Value::Text(e.entry_hash)},
                {"province", Value::Text(e.province)}});
    out.push_back(std::move(e));
  }
  auto w = replica.Write(txn);
  if (!w.ok()) return w.status();
  return out;
}

absl::StatusOr<std::vector<AccessEntry>> ReadAccessLog(RowScan& rows) {
  // Every column of the entry, in this order.
  static const std::vector<std::string> kColumns = {
      "device", "officer", "case_id", "at", "action", "fields",
      "seq",    "prev_hash", "entry_hash", "province"};
  std::vector<AccessEntry> out;
  FS_RETURN_IF_ERROR(rows.ScanRows(
      kTable, kColumns, /*include_deleted=*/true,
      [&](const RowId& id, bool live, const std::vector<Value>& v) -> absl::Status {
        AccessEntry e;
        e.id = id;
        e.live = live;
        e.device = IdOf(v[0]);
        e.officer = TextOf(v[1]);
        e.case_id = IdOf(v[2]);
        e.at_millis = IntOf(v[3]);
        e.action = TextOf(v[4]);
        e.fields = TextOf(v[5]);
        e.seq = IntOf(v[6]);
        e.prev_hash = TextOf(v[7]);
        e.entry_hash = TextOf(v[8]);
        e.province = TextOf(v[9]);
        out.push_back(std::move(e));
        return absl::OkStatus();
      }));
  std::stable_sort(out.begin(), out.end(), [](const AccessEntry& a, const AccessEntry& b) {
    if (a.device != b.device) return a.device.view() < b.device.view();
    return a.seq < b.seq;
  });
  return out;
}

absl::StatusOr<std::vector<AccessEntry>> ReadAccessLog(Replica& replica) {
  ReplicaRowScan rows(replica);
  std::vector<AccessEntry> out;
  FS_RETURN_IF_ERROR(replica.ReadTransaction([&]() -> absl::Status {
    FS_ASSIGN_OR_RETURN(out, ReadAccessLog(rows));
    return absl::OkStatus();
  }));
  return out;
}

std::vector<ChainProblem> VerifyAccessChains(const std::vector<AccessEntry>& entries) {
  std::vector<ChainProblem> problems;
  std::map<std::string, std::vector<const AccessEntry*>> chains;
  std::vector<const AccessEntry*> deleted;
  for (const AccessEntry& e : entries) {
    if (!e.live) {
      deleted.push_back(&e);
      continue;
    }
    chains[std::string(e.device.view())].push_back(&e);
  }
  for (const AccessEntry* e : deleted) {
    // A delete clears every field: only the row id is left to name.
    problems.push_back({e->device, 0,
                        absl::StrCat("entry ", e->id.ToString(),
                                     " was deleted (the access log is append-only)")});
  }
  for (auto& [key, chain] : chains) {
    std::sort(chain.begin(), chain.end(),
              [](const AccessEntry* a, const AccessEntry* b) { return a->seq < b->seq; });
    const DeviceId device = chain.front()->device;
    int64_t expect = 1;
    const AccessEntry* prev = nullptr;
    for (const AccessEntry* e : chain) {
      if (prev != nullptr && e->seq == prev->seq) {
        problems.push_back({device, e->seq,
                            absl::StrCat("two entries with seq ", e->seq,
                                         ": the chain forks (an entry was forged or copied)")});
        continue;
      }
      if (e->seq > expect) {
        problems.push_back({device, expect,
                            e->seq - 1 == expect
                                ? absl::StrCat("entry ", expect, " is missing (a gap)")
                                : absl::StrCat("entries ", expect, " to ", e->seq - 1,
                                               " are missing (a gap)")});
      } else if (e->seq < 1) {
        problems.push_back({device, e->seq, "an entry has no valid seq"});
        continue;
      }
      if (AccessEntryHash(*e) != e->entry_hash) {
        problems.push_back({device, e->seq,
                            absl::StrCat("entry ", e->seq, " was edited after it was written "
                                                           "(its hash does not match)")});
      }
      const std::string want_prev =
          prev != nullptr && prev->seq == e->seq - 1 ? prev->entry_hash : std::string();
      if (e->seq == 1 ? !e->prev_hash.empty()
                      : (prev != nullptr && prev->seq == e->seq - 1 && e->prev_hash != want_prev)) {
        problems.push_back({device, e->seq,
                            absl::StrCat("entry ", e->seq, " does not follow entry ", e->seq - 1,
                                         " (prev_hash differs: one of them was replaced)")});
      }
      expect = e->seq + 1;
      prev = e;
    }
  }
  return problems;
}

}  // namespace fieldsync
