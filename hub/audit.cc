#include "hub/audit.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "hub/credential_check.h"

namespace fieldsync::hub {
namespace {

constexpr std::string_view kDomain{"fieldsync hub audit v1\0", 23};

absl::StatusOr<std::pair<int64_t, std::string>> Head(sqlite::Db& db) {
  FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT (SELECT value FROM hub_meta WHERE key = "
                                           "'audit_head_seq'), (SELECT value FROM hub_meta "
                                           "WHERE key = 'audit_head_hash')"));
  FS_ASSIGN_OR_RETURN(bool r, st->Step());
  if (!r || st->ColumnIsNull(0)) return std::make_pair(int64_t{0}, std::string());
  return std::make_pair(st->ColumnInt(0), st->ColumnIsNull(1) ? std::string()
                                                              : st->ColumnString(1));
}

std::string Range(int64_t from, int64_t to) {
  return from == to ? absl::StrCat("entry ", from, " is") : absl::StrCat("entries ", from, " to ", to, " are");
}

}  // namespace

std::string LinkKeyKeptDetail(const std::string& device, std::string_view link_pk,
                              std::string_view from) {
  if (LinkKeyStateOf(link_pk) == LinkKeyState::kClosed) {
    return absl::StrCat("device ", device, " kept closed (two-holders alarm) by fieldhub restore "
                        "from the replaced ", AV(from), "; the backup did not hold it");
  }
  return absl::StrCat("link key ", crypto::HashHex(link_pk), " of device ", device,
                      " kept by fieldhub restore from the replaced ", AV(from),
                      "; the backup did not hold it");
}

std::string HubAuditHash(const HubAuditEntry& e) {
  std::string m(kDomain);
  crypto::ByteWriter w(&m);
  w.U64(static_cast<uint64_t>(e.seq));
  w.U64(static_cast<uint64_t>(e.at_millis));
  w.Field(e.actor);
  w.Field(e.action);
  w.Field(e.detail);
  w.Field(e.prev_hash);
  return crypto::HashHex(crypto::Blake2b256(m));
}

absl::Status AppendHubAudit(sqlite::Db& db, int64_t at_millis, const std::string& actor,
                            const std::string& action, const std::string& detail) {
  FS_ASSIGN_OR_RETURN(auto head, Head(db));
  HubAuditEntry e;
  e.seq = head.first + 1;
  e.at_millis = at_millis;
  e.actor = actor;
  e.action = action;
  e.detail = detail;
  e.prev_hash = head.second;
  e.entry_hash = HubAuditHash(e);
  {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared("INSERT INTO hub_audit(seq, at, actor, action, "
                                             "detail, prev_hash, entry_hash) VALUES (?1, ?2, "
                                             "?3, ?4, ?5, ?6, ?7)"));
    st->BindInt(1, e.seq);
    st->BindInt(2, e.at_millis);
    st->BindText(3, e.actor);
    st->BindText(4, e.action);
    st->BindText(5, e.detail);
    st->BindText(6, e.prev_hash);
    st->BindText(7, e.entry_hash);
    absl::Status s = st->Run();
    if (s.code() == absl::StatusCode::kAlreadyExists) {
      return absl::DataLossError(absl::StrCat(
          "the hub's audit trail already holds an entry ", e.seq,
          " past its recorded head: the file was changed outside fieldhub; run `fieldhub "
          "audit` and restore hub.db from a backup. Nothing was changed"));
    }
    FS_RETURN_IF_ERROR(s);
  }
  FS_ASSIGN_OR_RETURN(auto meta, db.Prepared("INSERT INTO hub_meta(key, value) VALUES (?1, ?2) "
                                             "ON CONFLICT(key) DO UPDATE SET value = "
                                             "excluded.value"));
  meta->BindText(1, "audit_head_seq");
  meta->BindInt(2, e.seq);
  FS_RETURN_IF_ERROR(meta->Run());
  meta->Reset();
  meta->BindText(1, "audit_head_hash");
  meta->BindText(2, e.entry_hash);
  return meta->Run();
}

absl::StatusOr<HubAuditTrail> ReadHubAudit(sqlite::Db& db) {
  HubAuditTrail t;
  FS_RETURN_IF_ERROR(sqlite::InTransaction(db, sqlite::Transaction::Mode::kRead,
                                           [&](sqlite::Transaction&) -> absl::Status {
    FS_ASSIGN_OR_RETURN(auto st, db.Prepared("SELECT seq, at, actor, action, detail, prev_hash, "
                                             "entry_hash FROM hub_audit ORDER BY seq"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      HubAuditEntry e;
      e.seq = st->ColumnInt(0);
      e.at_millis = st->ColumnInt(1);
      e.actor = st->ColumnString(2);
      e.action = st->ColumnString(3);
      e.detail = st->ColumnString(4);
      e.prev_hash = st->ColumnString(5);
      e.entry_hash = st->ColumnString(6);
      t.entries.push_back(std::move(e));
    }
    FS_ASSIGN_OR_RETURN(auto head, Head(db));
    t.head_seq = head.first;
    t.head_hash = head.second;
    return absl::OkStatus();
  }));
  return t;
}

std::vector<HubAuditProblem> VerifyHubAudit(const HubAuditTrail& trail) {
  std::vector<HubAuditProblem> problems;
  int64_t expect = 1;
  const HubAuditEntry* prev = nullptr;
  for (const HubAuditEntry& e : trail.entries) {  // ordered by seq, unique (primary key)
    if (e.seq < 1) {
      problems.push_back({e.seq, absl::StrCat("an entry has no valid seq (", e.seq,
                                              "): it was inserted outside fieldhub")});
      continue;
    }
    if (e.seq > expect) {
      problems.push_back({expect, absl::StrCat(Range(expect, e.seq - 1),
                                               " missing: deleted from the trail")});
    }
    if (HubAuditHash(e) != e.entry_hash) {
      problems.push_back({e.seq, absl::StrCat("entry ", e.seq, " (", e.action,
                                              ") was edited after it was written (its hash "
                                              "does not match)")});
    }
    if (e.seq == 1 && !e.prev_hash.empty()) {
      problems.push_back({e.seq, "entry 1 names a predecessor: entries before it were removed "
                                 "or it was replaced"});
    } else if (prev != nullptr && prev->seq == e.seq - 1 && e.prev_hash != prev->entry_hash) {
      problems.push_back({e.seq, absl::StrCat("entry ", e.seq, " does not follow entry ",
                                              e.seq - 1, " (prev_hash differs: one of them was "
                                              "replaced)")});
    }
    expect = e.seq + 1;
    prev = &e;
  }
  const int64_t last = prev == nullptr ? 0 : prev->seq;
  if (trail.head_seq > last) {
    problems.push_back({last + 1, absl::StrCat(Range(last + 1, trail.head_seq),
                                               " missing at the end: deleted from the trail")});
  } else if (trail.head_seq < last) {
    problems.push_back({trail.head_seq + 1,
                        absl::StrCat(Range(trail.head_seq + 1, last),
                                     " past the recorded head: added outside fieldhub")});
  } else if (prev != nullptr && prev->entry_hash != trail.head_hash) {
    problems.push_back({last, absl::StrCat("entry ", last, " is not the entry recorded as the "
                                                           "head: it was replaced")});
  }
  return problems;
}

std::string FormatDurationMillis(int64_t millis) {
  struct Unit {
    int64_t ms;
    const char* name;
  };
  for (const Unit& u : {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"},
                        Unit{1000, "s"}}) {
    if (millis != 0 && millis % u.ms == 0) return absl::StrCat(millis / u.ms, u.name);
  }
  return absl::StrCat(millis, "ms");
}

}  // namespace fieldsync::hub
