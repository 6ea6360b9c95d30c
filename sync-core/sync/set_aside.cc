#include "sync/set_aside.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "clock/clock_source.h"
#include "sync/chain.h"

namespace fieldsync::sync {

static_assert(kColleagueRefusedCode == static_cast<int>(RefusalCode::kColleagueRefused));

absl::StatusOr<uint64_t> CheckDependencies(Replica& replica, const std::vector<Commit>& sent,
                                           std::vector<CommitRefusal>* refusals,
                                           std::string* doubt) {
  bool any = false;
  for (const CommitRefusal& f : *refusals) any |= f.code == RefusalCode::kDependsOnRefused;
  if (!any) return uint64_t{0};
  std::map<uint64_t, const Commit*> by_seq;
  for (const Commit& c : sent) by_seq[c.seq] = &c;
  // Rows written by refused commits of this laptop, with the lowest seq
  // that wrote each (a commit depends only on one before it).
  std::map<std::pair<std::string, RowId>, uint64_t> refused_rows;
  auto wrote = [&](const Commit& c) {
    for (const RowChange& rc : c.changes) {
      auto [it, fresh] = refused_rows.try_emplace({rc.table, rc.row}, c.seq);
      if (!fresh) it->second = std::min(it->second, c.seq);
    }
  };
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> earlier, replica.SetAsideList());
  for (const SetAsideRow& r : earlier) {
    // Re-dated: its rewrite was stored, nothing waits for it.
    if (r.code == static_cast<int>(RefusalCode::kClockAhead) && r.withdrawal != 0) continue;
    if (by_seq.count(r.seq) > 0) continue;  // of this push: judged below
    FS_ASSIGN_OR_RETURN(std::vector<Commit> c, replica.LocalCommitsAfter(r.seq - 1, 1));
    if (!c.empty() && c.front().seq == r.seq) wrote(c.front());
  }
  for (size_t i = 0; i < refusals->size(); ++i) {
    const CommitRefusal& f = (*refusals)[i];
    auto c = by_seq.find(f.seq);
    if (c == by_seq.end()) continue;
    if (f.code == RefusalCode::kDependsOnRefused) {
      bool real = false;
      for (const RowChange& rc : c->second->changes) {
        auto it = refused_rows.find({rc.table, rc.row});
        real |= it != refused_rows.end() && it->second < f.seq;
        // Or it names such a record (a case naming a person a refused
        // commit created).
        for (const FieldWrite& w : rc.fields) {
          if (w.value.kind() != Value::Kind::kBytes || w.value.str().size() != RowId::kSize) {
            continue;
          }
          for (const auto& [key, seq] : refused_rows) {
            real |= seq < f.seq && key.second.view() == w.value.str();
          }
        }
      }
      // Doubted at two passes already: set aside all the same, so that a
      // claim this laptop cannot bear out never holds its work back for
      // good (the officer sees the hub's words).
      if (!real) {
        FS_ASSIGN_OR_RETURN(const int64_t doubted, replica.GetCursor(kDoubtedSeqCursor));
        FS_ASSIGN_OR_RETURN(const int64_t times, replica.GetCursor(kDoubtedTimesCursor));
        const bool again = doubted == static_cast<int64_t>(f.seq);
        FS_RETURN_IF_ERROR(replica.SetCursor(kDoubtedSeqCursor, static_cast<int64_t>(f.seq)));
        FS_RETURN_IF_ERROR(replica.SetCursor(kDoubtedTimesCursor, again ? times + 1 : 1));
        real = again && times + 1 > kDoubtsBeforeSetAside;
      }
      if (!real) {
        *doubt = absl::StrCat(
            "the hub refused commit ", f.seq, " as needing commit ", f.depends_on,
            ", which it refused, but commit ", f.seq, " writes no record a refused commit of "
            "this laptop wrote: the hub's claim does not match this laptop's records. It was "
            "not set aside and is sent again at the next sync; if this repeats, tell the hub "
            "administrator");
        const uint64_t seq = f.seq;
        refusals->resize(i);
        return seq;
      }
    }
    if (f.code != RefusalCode::kWithdrawnStored) wrote(*c->second);
  }
  return uint64_t{0};
}

absl::StatusOr<bool> BelieveRefusalOfAcknowledged(Replica& replica, const DeviceId& hub,
                                                  const Commit& c, int64_t acked_high,
                                                  CommitRefusal* f, SyncReport* report) {
  const std::string name = RefusedAckedCursor(f->seq);
  FS_ASSIGN_OR_RETURN(int64_t times, replica.GetCursor(name));
  if (times == 0) {
    // Counted by session 15's single pair: taken over once.
    FS_ASSIGN_OR_RETURN(const int64_t seen, replica.GetCursor(kRefusedAckedSeqCursor));
    if (seen == static_cast<int64_t>(f->seq)) {
      FS_ASSIGN_OR_RETURN(times, replica.GetCursor(kRefusedAckedTimesCursor));
      FS_RETURN_IF_ERROR(replica.DropCursor(kRefusedAckedSeqCursor));
      FS_RETURN_IF_ERROR(replica.DropCursor(kRefusedAckedTimesCursor));
    }
  }
  const int64_t now_times = times + 1;
  FS_RETURN_IF_ERROR(replica.SetCursor(name, now_times));
  if (now_times <= kDoubtsBeforeSetAside) return false;
  const std::string said = absl::StrCat(
      "the hub refused change ", f->seq, " of this laptop (", RefusalCodeName(f->code), ": ",
      f->reason, ") at ", now_times, " syncs in a row, which it had acknowledged stored (it had "
      "acknowledged this laptop's changes up to ", acked_high, ") before it said it lost them");
  f->reason = absl::StrCat(
      f->reason, ". The hub had acknowledged this change stored before it said it lost this "
      "laptop's changes (a hub restored from a backup does this; so does one that does not tell "
      "the truth): it may have reached colleagues. Tell the hub administrator before you "
      "discard it; keep makes it a new record");
  TrustEvidence ev;
  ev.device = hub;
  ev.kind = static_cast<int>(ChainEvidence::Kind::kHubRefusedAcknowledged);
  ev.seq = f->seq;
  ev.held_header = c.header;
  ev.held_signature = c.header_signature;
  ev.what = absl::StrCat(said, ": set aside for the officer");
  ev.found_at_millis = SystemClock::Get()->NowMillis();
  FS_ASSIGN_OR_RETURN(const size_t added, replica.AddNewEvidence({ev}));
  report->chain.new_evidence += added;
  report->chain.problems.push_back(absl::StrCat(
      said, ": set aside now, so that this laptop's later work goes on; tell the hub "
      "administrator"));
  return true;
}

std::string RefusedAckedCursor(uint64_t seq) { return absl::StrCat(kRefusedAckedPrefix, seq); }

absl::Status ForgetRefusalsOfAcknowledged(Replica& replica, uint64_t first, uint64_t last,
                                          const std::set<uint64_t>& refused) {
  if (first > last) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(auto counted, replica.CursorsNamed(kRefusedAckedPrefix));
  for (const auto& [name, times] : counted) {
    // Deleted, not zeroed: one row a seq would otherwise stay for good
    // (attack review 72, LOW 2); a 0 a session-16 build left goes too.
    if (times == 0) {
      FS_RETURN_IF_ERROR(replica.DropCursor(name));
      continue;
    }
    uint64_t seq = 0;
    if (!absl::SimpleAtoi(name.substr(sizeof(kRefusedAckedPrefix) - 1), &seq)) {
      continue;
    }
    if (seq < first || seq > last || refused.count(seq) > 0) continue;
    FS_RETURN_IF_ERROR(replica.DropCursor(name));
  }
  FS_ASSIGN_OR_RETURN(const int64_t seen, replica.GetCursor(kRefusedAckedSeqCursor));
  if (seen >= static_cast<int64_t>(first) && seen <= static_cast<int64_t>(last) &&
      refused.count(static_cast<uint64_t>(seen)) == 0) {
    FS_RETURN_IF_ERROR(replica.DropCursor(kRefusedAckedSeqCursor));
    FS_RETURN_IF_ERROR(replica.DropCursor(kRefusedAckedTimesCursor));
  }
  return absl::OkStatus();
}

void KeepWhatTheCommitNames(const Commit& c, CommitRefusal* f) {
  if (f->code != RefusalCode::kColleagueRefused) {
    f->never_coming.clear();
    f->never_after.clear();
    return;
  }
  std::set<Version> named;
  for (const RowChange& rc : c.changes) {
    for (const FieldWrite& w : rc.fields) {
      if (w.base && w.base->device != c.author) named.insert(*w.base);
      for (const Version& v : w.resolves) {
        if (v.device != c.author) named.insert(v);
      }
    }
  }
  std::erase_if(f->never_coming, [&](const Version& v) { return named.count(v) == 0; });
  std::set<DeviceId> authors;
  for (const Version& v : f->never_coming) authors.insert(v.device);
  std::set<DeviceId> seen;
  std::erase_if(f->never_after, [&](const std::pair<DeviceId, uint64_t>& h) {
    return authors.count(h.first) == 0 || !seen.insert(h.first).second;
  });
  std::set<Version> once;
  std::erase_if(f->never_coming, [&](const Version& v) { return !once.insert(v).second; });
}

absl::Status SetAsideRefused(Replica& replica, const std::vector<CommitRefusal>& refusals,
                             SyncReport* report) {
  std::vector<SetAsideRow> rows;
  const int64_t now = SystemClock::Get()->NowMillis();
  // Stamped by a clock ahead, or needing such a commit: not the officer's
  // to resolve; re-dated by this laptop once its clock is right
  // (sync/restamp.h), recorded as CLOCK_AHEAD.
  std::set<uint64_t> ahead;
  if (!refusals.empty()) {
    FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> held, replica.SetAsideList());
    for (const SetAsideRow& r : held) {
      if (r.code == static_cast<int>(RefusalCode::kClockAhead) && r.withdrawal == 0) {
        ahead.insert(r.seq);
      }
    }
  }
  for (const CommitRefusal& f : refusals) {
    if (f.code == RefusalCode::kWithdrawnStored) continue;
    SetAsideRow r;
    r.seq = f.seq;
    r.code = static_cast<int>(f.code);
    r.reason = f.reason;
    r.depends_on = f.depends_on;
    if (f.code == RefusalCode::kColleagueRefused) {
      r.never_coming = f.never_coming;
      r.never_after = f.never_after;
    }
    r.at_millis = now;
    if (f.code == RefusalCode::kClockAhead ||
        (f.code == RefusalCode::kDependsOnRefused && ahead.count(f.depends_on) > 0)) {
      r.code = static_cast<int>(RefusalCode::kClockAhead);
      ahead.insert(f.seq);
      rows.push_back(std::move(r));
      continue;
    }
    rows.push_back(std::move(r));
    ++report->set_aside;
    if (report->set_aside_reason.empty()) {
      report->set_aside_reason = f.reason;
      report->set_aside_code = static_cast<int>(f.code);
    }
  }
  FS_RETURN_IF_ERROR(replica.SetAside(rows));
  // Counted no more: a seq set aside is never sent again.
  for (const SetAsideRow& r : rows) {
    FS_RETURN_IF_ERROR(replica.DropCursor(RefusedAckedCursor(r.seq)));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> WithdrawSetAside(Replica& replica, SyncReport* report) {
  FS_ASSIGN_OR_RETURN(std::vector<SetAsideRow> all, replica.SetAsideList());
  report->set_aside_open = 0;
  bool due = false;
  for (const SetAsideRow& r : all) {
    if (r.discarded_at_millis == 0 && r.code != static_cast<int>(RefusalCode::kClockAhead)) {
      ++report->set_aside_open;
    }
    due |= r.discarded_at_millis != 0 && r.withdrawal == 0;
  }
  if (!due) return false;  // no write transaction for nothing
  // A withdrawal that cannot be signed now (a locked keystore, a key agent
  // gone) waits for the next pass; everything else of the push is done.
  absl::StatusOr<uint64_t> made = replica.WithdrawSetAside();
  if (!made.ok()) {
    report->withdrawal_note = absl::StrCat(
        "the discarded changes set aside are not withdrawn yet (", made.status().message(),
        "): the next unlocked sync does it");
    return false;
  }
  return *made > 0;
}

}  // namespace fieldsync::sync
