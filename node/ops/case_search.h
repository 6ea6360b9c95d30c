// Searching cases by their victims' names and places (sealed fields),
// diacritics and letter case ignored: through the key agent's index of
// names when the keys are the agent's (node/agent_index.h), else by
// opening every case's sealed fields. Both give the same answer.
#ifndef FIELDSYNC_NODE_OPS_CASE_SEARCH_H_
#define FIELDSYNC_NODE_OPS_CASE_SEARCH_H_

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"

namespace fieldsync::node::ops {

struct CaseHit {
  RowId id;
  std::string code, full_name, matched, status;
  friend bool operator==(const CaseHit& a, const CaseHit& b) {
    return a.id == b.id && a.code == b.code && a.full_name == b.full_name &&
           a.matched == b.matched && a.status == b.status;
  }
};

// Cases whose person's names or addresses, or the case's places, hold every
// word of `text` (diacritics and case ignored), in id order. Needs the
// keystore unlocked; each case shown is recorded in the access log (one
// commit) first. INVALID_ARGUMENT if `text` has nothing to look for.
//
// With the keys in the key agent, the agent's index answers which cases
// hold the words: built on the first search after an unlock (recorded in
// the access log as one entry, kIndexBuiltFields, no case), brought up to
// date at each search from the replica's log (this laptop's writes, pulled
// commits) and the rows added since (installed whole); only the cases it
// names are opened.
absl::StatusOr<std::vector<CaseHit>> SearchCases(const Office& o, const std::string& text);

// The same by opening every case (what SearchCases does without an agent):
// for the benchmark and the tests that compare the two.
absl::StatusOr<std::vector<CaseHit>> SearchCasesLinear(const Office& o, const std::string& text);

// One page of SearchCases's answer: the hits from the `offset`th (0 the
// first), at most `limit` of them, and how many hits there are in all.
// Only the page's hits are shown, so only they are recorded in the access
// log; with the agent's index, only they are opened (the index counts the
// others: a case written between the index's answer and the opening, no
// longer holding the words, is left out of the page but still counted).
// Without the index every case is opened to be matched, as SearchCases
// does, and the page's hits alone recorded. A broad query ("nguyen") thus
// opens and logs a page of cases, not thousands.
struct CaseHitPage {
  size_t total = 0;
  std::vector<CaseHit> hits;
};
absl::StatusOr<CaseHitPage> SearchCasesPage(const Office& o, const std::string& text,
                                            size_t offset, size_t limit);

// The access log's entry for an index built: action "search", the nil case
// id, these fields.
inline constexpr char kIndexBuiltFields[] =
    "index:persons.full_name,persons.other_names,persons.current_address,"
    "persons.home_address,cases.exact_places";

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_CASE_SEARCH_H_
