// The search index of case names that the key agent holds (agent.h,
// protocol version 3; docs/FORMATS.md, "Key agent socket"), so that
// `case search` and the console's search answer without opening every
// sealed name at each query, and without a clear name written to disk.
//
// A fieldnode process that can open the names (node/ops/case_search.cc)
// builds the index on the first search after an unlock: for each live case
// the folded text (text::FoldForSearch) of the fields searched today, and
// keeps it up to date from the replica's log. The agent keeps the texts in
// memory of its own (sodium_malloc: locked against swapping where the
// system allows, never in a core dump), answers which cases hold every word
// of a folded query, and wipes them at lock, at the end of the unlock
// period, and after tuning::kAgentIndexIdleMillis without use. Only the
// fieldnode program's connections may ask (as for P, G and O).
//
// The index's key says which state of the replica it reflects: the
// replica's log head and the highest row slots of cases and persons
// (Replica::RowSlotHigh) when it was read: what changed since is what the
// log holds after it and the rows in higher slots (installed whole, without
// a log entry: a case newly referred, a bootstrap). An
// update names the key it starts from; the agent refuses it (status 5, the
// connection kept) if the index is not there any more, and the client reads
// the state again.
#ifndef FIELDSYNC_NODE_AGENT_INDEX_H_
#define FIELDSYNC_NODE_AGENT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "change/id.h"
#include "crypto/identity.h"
#include "crypto/secret.h"

namespace fieldsync::node {

// The most bytes of entries in one update request, of one entry's text, of
// a query.
inline constexpr size_t kAgentMaxIndexUpdate = 1024 * 1024;
inline constexpr size_t kAgentMaxIndexText = 64 * 1024;
inline constexpr size_t kAgentMaxIndexQuery = 4096;
// The most cases a search answers (no office holds that many).
inline constexpr uint32_t kAgentMaxIndexAnswer = 4'000'000;
// The most the index holds, whatever its updates (attack review 24, LOW 4):
// bytes of text, and cases. An office's index is a few hundred bytes a
// case; an update that would take it past either is refused (status 6,
// the connection kept) and the index dropped, and the search goes on
// without it (node/ops/case_search.cc).
inline constexpr size_t kAgentMaxIndexBytes = 64 * 1024 * 1024;
inline constexpr size_t kAgentMaxIndexEntries = 1'000'000;
// An entry's length that says "remove this case".
inline constexpr uint32_t kAgentIndexRemove = 0xFFFFFFFF;

struct NameIndexKey {
  uint64_t log_head = 0;      // Replica::LogHead when the replica was read
  uint64_t cases_slot = 0;    // Replica::RowSlotHigh("cases") then
  uint64_t persons_slot = 0;  // Replica::RowSlotHigh("persons") then
  friend bool operator==(const NameIndexKey& a, const NameIndexKey& b) {
    return a.log_head == b.log_head && a.cases_slot == b.cases_slot &&
           a.persons_slot == b.persons_slot;
  }
};
// A key on the wire: three u64.
inline constexpr size_t kNameIndexKeyBytes = 24;

struct NameIndexState {
  bool ready = false;  // built and whole: queries are answered
  NameIndexKey key;
  uint64_t entries = 0;
};

// One case's entry: its id and folded text; no text: the case is removed.
struct NameIndexEntry {
  RowId id;
  std::optional<std::string> text;
};

// The index as a fieldnode process reaches it: requests on its connection
// to the agent. Errors as KeyOperations' (the agent gone: run unlock).
class NameIndexClient {
 public:
  virtual ~NameIndexClient() = default;
  virtual absl::StatusOr<NameIndexState> IndexState() = 0;
  // Applies `entries` to the index if its key is `base` (with `reset`: to
  // an empty index, whatever it held), then makes `key` its key; `final`
  // makes it ready (a build sent in several requests is ready at its last).
  // False, changing nothing, if the index's key was not `base`.
  virtual absl::StatusOr<bool> IndexUpdate(bool reset, bool final, const NameIndexKey& base,
                                           const NameIndexKey& key,
                                           const std::vector<NameIndexEntry>& entries) = 0;
  // The cases whose text holds every word of `folded_query` (split on
  // spaces), in id order; nullopt if the agent holds no ready index.
  virtual absl::StatusOr<std::optional<std::vector<RowId>>> IndexQuery(
      std::string_view folded_query) = 0;
};

// RESOURCE_EXHAUSTED: the index would pass its bound (status 6); a search
// then reads every case, as without an agent.
absl::Status IndexFullError();

// The index of the agent that `identity` asks, nullptr if it is a local
// identity (no agent: a passphrase given to the command).
NameIndexClient* NameIndexOf(const crypto::DeviceIdentity& identity);

// What the agent holds: texts in one guarded allocation, grown and
// compacted as entries come and go.
class HeldNameIndex {
 public:
  // Wipes every text.
  void Clear();
  // `id` is 16 bytes.
  void Put(std::string_view id, std::string_view text);
  void Remove(std::string_view id);
  // Ids (16 bytes each) of the entries holding every word of
  // `folded_query`, in id order, appended to `out`; none if it has no word.
  void Query(std::string_view folded_query, std::string* out, uint32_t* count) const;
  size_t size() const { return slots_.size(); }
  // Bytes of text held.
  size_t bytes() const { return used_ - dead_; }
  // The length of `id`'s text, 0 if it holds none.
  size_t LengthOf(std::string_view id) const {
    auto it = slots_.find(std::string(id));
    return it == slots_.end() ? 0 : it->second.len;
  }
  // Whether `id` is held.
  bool Holds(std::string_view id) const { return slots_.count(std::string(id)) > 0; }

 private:
  struct Slot {
    size_t at = 0, len = 0;
  };
  void Reserve(size_t more);
  std::map<std::string, Slot> slots_;  // by id
  crypto::SecretBytes arena_;
  size_t used_ = 0;  // bytes of arena_ written
  size_t dead_ = 0;  // of which no entry's any more
};

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_AGENT_INDEX_H_
