// The search index of case names (agent_index.h): what the agent holds,
// and the client's requests for it (agent_client.h's AgentKeys).
#include "node/agent_index.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/tuning.h"
#include "node/agent.h"
#include "node/agent_client.h"
#include "node/agent_wire.h"

namespace fieldsync::node {
namespace {

using agent_wire::GetU64;
using agent_wire::PutU64;
using agent_wire::Ticks;

void PutU32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t GetU32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void PutKey(std::string* s, const NameIndexKey& k) {
  unsigned char b[kNameIndexKeyBytes];
  PutU64(b, k.log_head);
  PutU64(b + 8, k.cases_slot);
  PutU64(b + 16, k.persons_slot);
  s->append(reinterpret_cast<const char*>(b), sizeof(b));
}

// Whether `text` holds every word of `words` (none: false), as
// text::MatchesFolded over a query already folded.
bool HoldsAll(std::string_view text, const std::vector<std::string_view>& words) {
  if (words.empty()) return false;
  for (std::string_view w : words) {
    if (text.find(w) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// What the agent holds

void HeldNameIndex::Clear() {
  slots_.clear();
  arena_ = crypto::SecretBytes();  // wiped
  used_ = 0;
  dead_ = 0;
}

void HeldNameIndex::Reserve(size_t more) {
  if (used_ + more <= arena_.size()) return;
  // A new allocation twice what is live (and the newcomer), the live texts
  // copied in packed; the old one is wiped as it goes.
  const size_t live = used_ - dead_;
  crypto::SecretBytes grown(std::max<size_t>(2 * (live + more), 64 * 1024));
  size_t at = 0;
  for (auto& [id, slot] : slots_) {
    if (slot.len > 0) std::memcpy(grown.data() + at, arena_.data() + slot.at, slot.len);
    slot.at = at;
    at += slot.len;
  }
  arena_ = std::move(grown);
  used_ = at;
  dead_ = 0;
}

void HeldNameIndex::Put(std::string_view id, std::string_view text) {
  Remove(id);
  Reserve(text.size());
  if (!text.empty()) std::memcpy(arena_.data() + used_, text.data(), text.size());
  slots_[std::string(id)] = Slot{used_, text.size()};
  used_ += text.size();
}

void HeldNameIndex::Remove(std::string_view id) {
  auto it = slots_.find(std::string(id));
  if (it == slots_.end()) return;
  sodium_memzero(arena_.data() + it->second.at, it->second.len);
  dead_ += it->second.len;
  slots_.erase(it);
}

void HeldNameIndex::Query(std::string_view folded_query, std::string* out,
                          uint32_t* count) const {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < folded_query.size()) {
    const size_t j = std::min(folded_query.find(' ', i), folded_query.size());
    if (j > i) words.push_back(folded_query.substr(i, j - i));
    i = j + 1;
  }
  const std::string_view all = arena_.view();
  for (const auto& [id, slot] : slots_) {
    if (!HoldsAll(all.substr(slot.at, slot.len), words)) continue;
    out->append(id);
    ++*count;
  }
}

absl::Status IndexFullError() {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the key agent's search index would hold more than ", kAgentMaxIndexBytes / (1024 * 1024),
      " MiB of text or ", kAgentMaxIndexEntries, " cases: the search goes on without it"));
}

NameIndexClient* NameIndexOf(const crypto::DeviceIdentity& identity) {
  return dynamic_cast<NameIndexClient*>(identity.operations());
}

// ---------------------------------------------------------------------------
// The client's requests

namespace agent_client {

absl::StatusOr<NameIndexState> AgentKeys::IndexState() {
  absl::MutexLock l(&mu_);
  if (fd_ < 0) return Gone();
  std::optional<uint8_t> status = Ask(fd_, "X");
  if (!status) return Gone();
  if (*status != kAgentOk) return Refused(*status);
  unsigned char b[1 + kNameIndexKeyBytes + 4];
  if (!ReadFull(fd_, b, sizeof(b), Ticks() + kAgentClientMillis)) return Gone();
  NameIndexState st;
  st.ready = b[0] != 0;
  st.key.log_head = GetU64(b + 1);
  st.key.cases_slot = GetU64(b + 9);
  st.key.persons_slot = GetU64(b + 17);
  st.entries = GetU32(b + 25);
  return st;
}

absl::StatusOr<bool> AgentKeys::IndexUpdate(bool reset, bool final, const NameIndexKey& base,
                                            const NameIndexKey& key,
                                            const std::vector<NameIndexEntry>& entries) {
  std::string body;
  for (const NameIndexEntry& e : entries) {
    body.append(e.id.view());
    if (!e.text) {
      PutU32(&body, kAgentIndexRemove);
      continue;
    }
    if (e.text->size() > kAgentMaxIndexText) {
      sodium_memzero(body.data(), body.size());
      return absl::InvalidArgumentError(absl::StrCat(
          "a case's text for the search index is ", e.text->size(), " bytes (at most ",
          kAgentMaxIndexText, ")"));
    }
    PutU32(&body, static_cast<uint32_t>(e.text->size()));
    body.append(*e.text);
  }
  if (body.size() > kAgentMaxIndexUpdate) {
    sodium_memzero(body.data(), body.size());
    return absl::InvalidArgumentError(absl::StrCat("an update of the search index of ",
                                                   body.size(), " bytes (at most ",
                                                   kAgentMaxIndexUpdate, ")"));
  }
  std::string req;
  req.reserve(1 + 1 + 2 * kNameIndexKeyBytes + 4 + body.size());
  req.push_back('U');
  req.push_back(static_cast<char>((reset ? 1 : 0) | (final ? 2 : 0)));
  PutKey(&req, base);
  PutKey(&req, key);
  PutU32(&req, static_cast<uint32_t>(body.size()));
  req.append(body);
  sodium_memzero(body.data(), body.size());
  absl::MutexLock l(&mu_);
  if (fd_ < 0) {
    sodium_memzero(req.data(), req.size());
    return Gone();
  }
  std::optional<uint8_t> status = Ask(fd_, req);
  sodium_memzero(req.data(), req.size());
  if (!status) return Gone();
  if (*status == kAgentIndexMoved) return false;
  if (*status == kAgentIndexFull) return IndexFullError();
  if (*status != kAgentOk) return Refused(*status);
  return true;
}

absl::StatusOr<std::optional<std::vector<RowId>>> AgentKeys::IndexQuery(
    std::string_view folded_query) {
  if (folded_query.empty() || folded_query.size() > kAgentMaxIndexQuery) {
    return absl::InvalidArgumentError(absl::StrCat("a search of ", folded_query.size(),
                                                   " bytes (1 to ", kAgentMaxIndexQuery, ")"));
  }
  std::string req;
  req.push_back('Q');
  req.push_back(static_cast<char>(folded_query.size() >> 8));
  req.push_back(static_cast<char>(folded_query.size()));
  req.append(folded_query);
  absl::MutexLock l(&mu_);
  if (fd_ < 0) return Gone();
  std::optional<uint8_t> status = Ask(fd_, req);
  if (!status) return Gone();
  if (*status != kAgentOk) return Refused(*status);
  const int64_t deadline = Ticks() + kAgentClientMillis;
  unsigned char ready = 0;
  if (!ReadFull(fd_, &ready, 1, deadline)) return Gone();
  if (ready == 0) return std::optional<std::vector<RowId>>();
  unsigned char nb[4];
  if (!ReadFull(fd_, nb, 4, deadline)) return Gone();
  const uint32_t n = GetU32(nb);
  if (n > kAgentMaxIndexAnswer) {
    Close();
    return absl::InternalError(absl::StrCat("the key agent at ", path_, " answered ", n,
                                            " cases to a search"));
  }
  std::string ids(size_t{n} * 16, '\0');
  if (n > 0 && !ReadFull(fd_, ids.data(), ids.size(), deadline)) return Gone();
  std::vector<RowId> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto id = Id16::FromBytes(std::string_view(ids).substr(size_t{i} * 16, 16), "indexed case");
    if (!id.ok()) return id.status();
    out.push_back(*id);
  }
  return std::optional<std::vector<RowId>>(std::move(out));
}

}  // namespace agent_client
}  // namespace fieldsync::node
