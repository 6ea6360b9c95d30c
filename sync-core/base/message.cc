#include "base/message.h"

#include "absl/strings/cord.h"
#include "base/json.h"
#include "base/strings.h"

namespace fieldsync {
namespace {
// The payload: {"key": K, "params": [[name, value], ...]} (JsonStored).
constexpr std::string_view kMessageUrl = "fieldsync/message";
}  // namespace

absl::Status WithMessage(absl::Status s, std::string_view key, const MessageParams& params) {
  if (s.ok()) return s;
  Json p = Json::array();
  for (const auto& [name, value] : params) p.push_back(Json::array({name, value}));
  const Json m = {{"key", std::string(key)}, {"params", std::move(p)}};
  s.SetPayload(AV(kMessageUrl), absl::Cord(JsonStored(m)));
  return s;
}

std::optional<Message> MessageOf(const absl::Status& s) {
  const auto payload = s.GetPayload(AV(kMessageUrl));
  if (!payload) return std::nullopt;
  const Json m = Json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
  if (!m.is_object() || !m.contains("key") || !m["key"].is_string()) return std::nullopt;
  Message out;
  out.key = m["key"].get<std::string>();
  if (m.contains("params") && m["params"].is_array()) {
    for (const Json& p : m["params"]) {
      if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string()) {
        out.params.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
      }
    }
  }
  return out;
}

}  // namespace fieldsync
