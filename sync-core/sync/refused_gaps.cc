#include "sync/refused_gaps.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace fieldsync::sync {
namespace {

std::string PassesCursor(const DeviceId& author) {
  return absl::StrCat(kRefusedGapPassesPrefix, author.ToString());
}

// The head of every author tracked here; 0 for one that is not.
absl::StatusOr<RefusedGapMap> HeadsOf(Replica& replica) {
  FS_ASSIGN_OR_RETURN(std::vector<ChainRow> heads, replica.ChainHeads());
  std::map<DeviceId, uint64_t> out;
  for (const ChainRow& r : heads) out[r.device] = r.seq;
  return out;
}

// Drops the gaps the chain passed; returns those still open.
absl::StatusOr<RefusedGapMap> OpenGaps(Replica& replica) {
  FS_ASSIGN_OR_RETURN(RefusedGapMap gaps, RefusedGaps(replica));
  if (gaps.empty()) return gaps;
  FS_ASSIGN_OR_RETURN(RefusedGapMap heads, HeadsOf(replica));
  for (auto it = gaps.begin(); it != gaps.end();) {
    auto h = heads.find(it->first);
    if (h != heads.end() && h->second >= it->second) {
      FS_RETURN_IF_ERROR(replica.DropCursor(RefusedGapCursor(it->first)));
      FS_RETURN_IF_ERROR(replica.DropCursor(PassesCursor(it->first)));
      it = gaps.erase(it);
    } else {
      ++it;
    }
  }
  return gaps;
}

}  // namespace

std::string RefusedGapCursor(const DeviceId& author) {
  return absl::StrCat(kRefusedGapPrefix, author.ToString());
}

absl::StatusOr<RefusedGapMap> RefusedGaps(Replica& replica) {
  FS_ASSIGN_OR_RETURN(auto named, replica.CursorsNamed(kRefusedGapPrefix));
  std::map<DeviceId, uint64_t> out;
  for (const auto& [name, value] : named) {
    absl::StatusOr<DeviceId> author =
        Id16::Parse(std::string_view(name).substr(sizeof(kRefusedGapPrefix) - 1), "author");
    if (!author.ok() || value <= 0) continue;  // not one of these
    out[*author] = static_cast<uint64_t>(value);
  }
  return out;
}

bool RefusedGapAskDue(int64_t passes) {
  if (passes <= 0) return true;
  if (passes < kRefusedGapAskEvery) return (passes & (passes - 1)) == 0;
  return passes % kRefusedGapAskEvery == 0;
}

absl::StatusOr<std::vector<std::pair<DeviceId, uint64_t>>> RefusedGapsToAsk(Replica& replica) {
  FS_ASSIGN_OR_RETURN(RefusedGapMap gaps, OpenGaps(replica));
  std::vector<std::pair<DeviceId, uint64_t>> out;
  for (const auto& [author, seq] : gaps) {
    FS_ASSIGN_OR_RETURN(int64_t passes, replica.GetCursor(PassesCursor(author)));
    if (RefusedGapAskDue(passes)) out.emplace_back(author, seq);
    FS_RETURN_IF_ERROR(replica.SetCursor(PassesCursor(author), passes + 1));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<DeviceId, uint64_t>>> ChainWantsThisPass(
    Replica& replica, const std::vector<std::pair<DeviceId, uint64_t>>& statement_wants,
    size_t max) {
  FS_ASSIGN_OR_RETURN(auto refused, RefusedGapsToAsk(replica));
  std::map<DeviceId, uint64_t> wants(refused.begin(), refused.end());
  for (const auto& [author, seq] : statement_wants) wants[author] = std::max(wants[author], seq);
  std::vector<std::pair<DeviceId, uint64_t>> all(wants.begin(), wants.end());
  if (all.size() <= max) return all;
  // More than a pull may name: a window that moves on by `max` each pass
  // (wrapping), so that no author is left out pass after pass.
  FS_ASSIGN_OR_RETURN(int64_t from, replica.GetCursor(kChainWantsFromCursor));
  const size_t start = static_cast<size_t>(std::max<int64_t>(from, 0)) % all.size();
  std::vector<std::pair<DeviceId, uint64_t>> out;
  out.reserve(max);
  for (size_t i = 0; i < max; ++i) out.push_back(all[(start + i) % all.size()]);
  FS_RETURN_IF_ERROR(replica.SetCursor(kChainWantsFromCursor,
                                       static_cast<int64_t>((start + max) % all.size())));
  return out;
}

absl::Status ForgetClosedRefusedGaps(Replica& replica) { return OpenGaps(replica).status(); }

}  // namespace fieldsync::sync
