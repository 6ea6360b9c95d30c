#include "hub/statements.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"
#include "base/tuning.h"
#include "clock/hlc.h"
#include "crypto/statement.h"

namespace fieldsync::hub {

absl::StatusOr<StoredStatement> CheckPushedStatement(const NodeInfo& node, const DeviceId& hub_id,
                                                     const std::string& bytes,
                                                     int64_t now_millis) {
  absl::StatusOr<crypto::Statement> s = crypto::DecodeStatement(bytes);
  if (!s.ok()) return absl::InvalidArgumentError(s.status().message());
  if (s->signer != node.device) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a statement signed in the name of device ", s->signer.ToString(),
        ", pushed by device ", node.device.ToString(), ": a laptop states only what it saw"));
  }
  if (absl::Status v = crypto::VerifyStatement(bytes, node.keys.sign_pk); !v.ok()) {
    return absl::InvalidArgumentError(
        "a statement not signed by the key this device enrolled with");
  }
  if (s->province != node.province) {
    return absl::InvalidArgumentError(absl::StrCat("a statement of province ",
                                                   Printable(s->province), " from a device of ",
                                                   node.province));
  }
  if (s->hub_id != hub_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a statement of what hub ", s->hub_id.ToString(), " showed, not this hub (",
        hub_id.ToString(), ")"));
  }
  const auto created = static_cast<int64_t>(Hlc::FromPacked(s->created_hlc).wall_millis());
  if (created > now_millis + tuning::kDefaultMaxClockSkewMillis) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a statement made ", (created - now_millis) / 60000,
        " minutes in the future by the hub's clock: set this laptop's clock right"));
  }
  StoredStatement out;
  out.device = node.device;
  out.province = node.province;
  out.created_hlc = s->created_hlc;
  out.bytes = bytes;
  return out;
}

absl::StatusOr<bool> AddStatements(HubReadTxn& hub, const NodeInfo& node, int64_t cursor,
                                   PullChunk* chunk) {
  std::vector<std::string> provinces = {node.province};
  FS_ASSIGN_OR_RETURN(std::vector<std::string> partners, hub.PartnerProvinces(node.province));
  for (std::string& p : partners) provinces.push_back(std::move(p));
  FS_ASSIGN_OR_RETURN(std::vector<StoredStatement> found,
                      hub.StatementsAfter(cursor, provinces, kStatementsPerMessage + 1));
  const bool more = found.size() > kStatementsPerMessage;
  if (more) found.resize(kStatementsPerMessage);
  for (StoredStatement& s : found) {
    chunk->statement_cursor = s.seq;
    if (s.device == node.device) continue;  // it knows what it said
    chunk->statements.push_back(std::move(s.bytes));
  }
  return more;
}

}  // namespace fieldsync::hub
