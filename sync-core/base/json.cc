#include "base/json.h"

#include "base/args.h"

namespace fieldsync {
namespace {

void Write(const Json& j, std::string* out) {
  switch (j.type()) {
    case Json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, value] : j.items()) {
        if (!first) out->append(", ");
        first = false;
        out->append(JsonString(key));
        out->append(": ");
        Write(value, out);
      }
      out->push_back('}');
      return;
    }
    case Json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const Json& value : j) {
        if (!first) out->append(", ");
        first = false;
        Write(value, out);
      }
      out->push_back(']');
      return;
    }
    case Json::value_t::string:
      out->append(JsonString(j.get_ref<const std::string&>()));
      return;
    default:  // numbers, booleans, null
      out->append(j.dump());
      return;
  }
}

}  // namespace

std::string JsonText(const Json& j) {
  std::string out;
  Write(j, &out);
  return out;
}

std::string JsonLine(const Json& j) {
  std::string out = JsonText(j);
  out.push_back('\n');
  return out;
}

std::string JsonStored(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

}  // namespace fieldsync
