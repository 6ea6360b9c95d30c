#include "node/ops/case_search.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "node/agent_index.h"
#include "node/ops/messages.h"
#include "node/ops/values.h"
#include "text/text.h"

namespace fieldsync::node::ops {
namespace {

// What is searched of one case: its person's names and addresses and the
// case's places, as far as they open here.
struct Searched {
  Row kase;
  std::string name;                                         // persons.full_name
  std::vector<std::pair<std::string, std::string>> fields;  // label, text
};

absl::StatusOr<std::optional<Searched>> Read(const Office& o, const RowId& id) {
  FS_ASSIGN_OR_RETURN(auto kase, o.Get("cases", id));
  if (!kase || !kase->live) return std::optional<Searched>();
  Searched s{*std::move(kase), {}, {}};
  FS_ASSIGN_OR_RETURN(auto person, PersonOf(o, s.kase));
  if (person) {
    for (const char* col : {"full_name", "other_names", "current_address", "home_address"}) {
      OpenedField f = o.Open(*person, "persons", col);
      if (f.state == State::kOpened || f.state == State::kClear) {
        s.fields.emplace_back(absl::StrCat("persons.", col), ShowValue(f.value));
        if (std::string(col) == "full_name") s.name = ShowValue(f.value);
      }
    }
  }
  OpenedField places = o.Open(s.kase, "cases", "exact_places");
  if (places.state == State::kOpened || places.state == State::kClear) {
    s.fields.emplace_back("cases.exact_places", ShowValue(places.value));
  }
  return std::optional<Searched>(std::move(s));
}

// Every field folded, each after a space: what the index holds of a case.
std::string FoldedAll(const Searched& s) {
  std::string all;
  for (const auto& f : s.fields) absl::StrAppend(&all, " ", FoldForSearch(f.second));
  return all;
}

// Where `query` matches the case (a field's label, or "several fields")
// and the fields shown for it; nullopt if it does not.
std::optional<std::pair<std::string, std::vector<std::string>>> Match(const Searched& s,
                                                                      const std::string& query) {
  std::string where;
  std::vector<std::string> opened;  // shown: the name, and where it matched
  for (const auto& [label, value] : s.fields) {
    if (!value.empty() && MatchesFolded(FoldForSearch(value), query)) {
      where = label;
      break;
    }
  }
  // All words may also be spread over the name and the places.
  if (where.empty() && MatchesFolded(FoldedAll(s), query)) {
    where = "several fields";
    for (const auto& f : s.fields) opened.push_back(f.first);
  }
  if (where.empty()) return std::nullopt;
  if (opened.empty()) {
    if (!s.name.empty()) opened.push_back("persons.full_name");
    if (where != "persons.full_name") opened.push_back(where);
  }
  return std::make_pair(where, opened);
}

absl::StatusOr<std::string> CheckedQuery(const Office& o, const std::string& text) {
  FS_ASSIGN_OR_RETURN(std::string query, NormalizeInput(text, "the search text"));
  if (FoldForSearch(query).find_first_not_of(' ') == std::string::npos) {
    return Coded(IncompleteRequest("case search needs some text to look for"),
                 Msg::kSearchNeedsText);
  }
  FS_RETURN_IF_ERROR(o.RequireUnlocked("searching names and places (they are sealed)"));
  return query;
}

// The hits among `ids` (each opened and matched as the linear search
// does): how many there are, and those from the `offset`th on, at most
// `limit`, recorded in the access log before they are returned (a hit
// outside the page is not shown, so not recorded).
absl::StatusOr<CaseHitPage> HitsAmong(const Office& o, const std::vector<RowId>& ids,
                                      const std::string& query, size_t offset, size_t limit) {
  CaseHitPage page;
  std::vector<std::pair<RowId, std::vector<std::string>>> accesses;
  for (const RowId& id : ids) {
    FS_ASSIGN_OR_RETURN(auto s, Read(o, id));
    if (!s) continue;
    auto m = Match(*s, query);
    if (!m) continue;
    const size_t at = page.total++;
    if (at < offset || at - offset >= limit) continue;
    page.hits.push_back({id, o.Clear(s->kase, "cases", "case_code"), s->name, m->first,
                         o.Clear(s->kase, "cases", "status")});
    accesses.push_back({id, std::move(m->second)});
  }
  // Each case shown with its name is an access to its sealed fields,
  // recorded (all in one commit) before anything is shown.
  FS_RETURN_IF_ERROR(o.AuditMany(accesses, "search"));
  return page;
}

// ---------------------------------------------------------------------------
// The agent's index

// Sends `entries` in requests of at most about half the agent's bound;
// the first from `base` (or a reset), each after it from `key`, the last
// final. False if the agent's index moved from `base`.
absl::StatusOr<bool> Send(NameIndexClient& idx, bool reset, const NameIndexKey& base,
                          const NameIndexKey& key, const std::vector<NameIndexEntry>& entries) {
  std::vector<NameIndexEntry> part;
  size_t bytes = 0;
  bool first = true;
  for (size_t i = 0; i <= entries.size(); ++i) {
    const bool last = i == entries.size();
    if (!last) {
      bytes += 20 + (entries[i].text ? entries[i].text->size() : 0);
      part.push_back(entries[i]);
    }
    if (!last && bytes < kAgentMaxIndexUpdate / 2) continue;
    FS_ASSIGN_OR_RETURN(bool took,
                        idx.IndexUpdate(first && reset, last, first ? base : key, key, part));
    if (!took) return false;
    first = false;
    part.clear();
    bytes = 0;
    if (last) break;
  }
  return true;
}

absl::StatusOr<NameIndexKey> KeyNow(const Office& o) {
  // The log's head first: whatever is written after is seen again later.
  FS_ASSIGN_OR_RETURN(int64_t head, o.replica.LogHead());
  FS_ASSIGN_OR_RETURN(int64_t cases, o.replica.RowSlotHigh("cases"));
  FS_ASSIGN_OR_RETURN(int64_t persons, o.replica.RowSlotHigh("persons"));
  return NameIndexKey{static_cast<uint64_t>(head), static_cast<uint64_t>(cases),
                      static_cast<uint64_t>(persons)};
}

absl::StatusOr<NameIndexEntry> EntryOf(const Office& o, const RowId& id) {
  FS_ASSIGN_OR_RETURN(auto s, Read(o, id));
  if (!s) return NameIndexEntry{id, std::nullopt};
  return NameIndexEntry{id, FoldedAll(*s)};
}

void Wipe(std::vector<NameIndexEntry>& entries) {
  for (NameIndexEntry& e : entries) {
    if (e.text) std::fill(e.text->begin(), e.text->end(), '\0');
  }
}

// Builds the agent's index from every live case, once recorded in the
// access log.
absl::Status Build(const Office& o, NameIndexClient& idx) {
  FS_RETURN_IF_ERROR(o.AuditMany({{RowId(), {kIndexBuiltFields}}}, "search"));
  FS_ASSIGN_OR_RETURN(NameIndexKey key, KeyNow(o));
  FS_ASSIGN_OR_RETURN(std::vector<RowId> live, o.replica.ListRows("cases", false));
  std::vector<NameIndexEntry> entries;
  entries.reserve(live.size());
  size_t bytes = 0;
  for (const RowId& id : live) {
    FS_ASSIGN_OR_RETURN(NameIndexEntry e, EntryOf(o, id));
    if (!e.text) continue;
    bytes += e.text->size();
    entries.push_back(std::move(e));
  }
  // Past the agent's bound nothing is sent: the search reads every case.
  if (bytes > kAgentMaxIndexBytes || entries.size() > kAgentMaxIndexEntries) {
    Wipe(entries);
    return IndexFullError();
  }
  auto took = Send(idx, /*reset=*/true, key, key, entries);  // a reset is always taken
  Wipe(entries);
  return took.status();
}

// Brings the agent's index to the replica's state: the cases the log holds
// changes of since its key, and those in higher row slots (rows installed
// whole), sent again -- a person's change: the cases naming them. Built
// anew if there is none, or if it is ahead of the replica (a replica put
// back from a copy).
absl::Status Refresh(const Office& o, NameIndexClient& idx) {
  FS_ASSIGN_OR_RETURN(NameIndexState st, idx.IndexState());
  FS_ASSIGN_OR_RETURN(NameIndexKey now, KeyNow(o));
  if (st.ready && st.key == now) return absl::OkStatus();
  if (!st.ready || st.key.log_head > now.log_head || st.key.cases_slot > now.cases_slot ||
      st.key.persons_slot > now.persons_slot) {
    return Build(o, idx);
  }
  std::set<RowId> cases, persons;
  for (int64_t after = static_cast<int64_t>(st.key.log_head);;) {
    FS_ASSIGN_OR_RETURN(auto batch, o.replica.LogAfter(after, 2000));
    if (batch.empty()) break;
    for (const auto& [pos, commit] : batch) {
      after = pos;
      for (const RowChange& ch : commit.changes) {
        if (ch.table == "cases") cases.insert(ch.row);
        if (ch.table == "persons") persons.insert(ch.row);
      }
    }
  }
  FS_ASSIGN_OR_RETURN(auto new_cases,
                      o.replica.RowsAfterSlot("cases", static_cast<int64_t>(st.key.cases_slot)));
  cases.insert(new_cases.begin(), new_cases.end());
  FS_ASSIGN_OR_RETURN(
      auto new_persons,
      o.replica.RowsAfterSlot("persons", static_cast<int64_t>(st.key.persons_slot)));
  persons.insert(new_persons.begin(), new_persons.end());
  for (const RowId& p : persons) {
    FS_ASSIGN_OR_RETURN(auto named, o.replica.RowsWhere("cases", "person_id", IdValue(p), true));
    cases.insert(named.begin(), named.end());
  }
  std::vector<NameIndexEntry> entries;
  for (const RowId& id : cases) {
    FS_ASSIGN_OR_RETURN(NameIndexEntry e, EntryOf(o, id));
    entries.push_back(std::move(e));
  }
  auto took = Send(idx, /*reset=*/false, st.key, now, entries);
  Wipe(entries);
  if (!took.ok()) return took.status();
  if (!*took) return Build(o, idx);
  return absl::OkStatus();
}

absl::StatusOr<CaseHitPage> LinearPage(const Office& o, const std::string& text, size_t offset,
                                       size_t limit) {
  FS_ASSIGN_OR_RETURN(std::string query, CheckedQuery(o, text));
  FS_ASSIGN_OR_RETURN(std::vector<RowId> ids, o.replica.ListRows("cases", false));
  return HitsAmong(o, ids, query, offset, limit);
}

}  // namespace

absl::StatusOr<std::vector<CaseHit>> SearchCasesLinear(const Office& o, const std::string& text) {
  FS_ASSIGN_OR_RETURN(CaseHitPage all,
                      LinearPage(o, text, 0, std::numeric_limits<size_t>::max()));
  return std::move(all.hits);
}

absl::StatusOr<std::vector<CaseHit>> SearchCases(const Office& o, const std::string& text) {
  FS_ASSIGN_OR_RETURN(CaseHitPage all,
                      SearchCasesPage(o, text, 0, std::numeric_limits<size_t>::max()));
  return std::move(all.hits);
}

absl::StatusOr<CaseHitPage> SearchCasesPage(const Office& o, const std::string& text,
                                            size_t offset, size_t limit) {
  FS_ASSIGN_OR_RETURN(std::string query, CheckedQuery(o, text));
  const crypto::DeviceIdentity* id = o.keys.identity();
  NameIndexClient* idx = id != nullptr ? NameIndexOf(*id) : nullptr;
  const std::string folded = FoldForSearch(query);
  if (idx == nullptr || folded.size() > kAgentMaxIndexQuery) {
    return LinearPage(o, text, offset, limit);
  }
  // Twice at most: the index may go (idle, another process's build) between
  // bringing it up to date and asking it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // An index past the agent's bound: read every case, as without one.
    if (absl::Status s = Refresh(o, *idx); !s.ok()) {
      if (s.code() == absl::StatusCode::kResourceExhausted) {
        return LinearPage(o, text, offset, limit);
      }
      return s;
    }
    FS_ASSIGN_OR_RETURN(auto ids, idx->IndexQuery(folded));
    if (!ids) continue;
    // The index's answer is the hits, in id order: the page's own are
    // opened, matched again and recorded; the others only counted.
    const size_t from = std::min(offset, ids->size());
    const size_t to = from + std::min(limit, ids->size() - from);
    const std::vector<RowId> mine(ids->begin() + static_cast<std::ptrdiff_t>(from),
                                  ids->begin() + static_cast<std::ptrdiff_t>(to));
    FS_ASSIGN_OR_RETURN(CaseHitPage page, HitsAmong(o, mine, query, 0, limit));
    page.total = ids->size() - (mine.size() - page.total);
    return page;
  }
  return LinearPage(o, text, offset, limit);
}

}  // namespace fieldsync::node::ops
