#include "node/ops/messages.h"

#include <iterator>

#include "base/strings.h"
#include "store/keyring_messages.h"
#include "store/store_messages.h"
#include "text/text.h"

namespace fieldsync::node::ops {

std::string_view MessageKey(Msg m) {
  switch (m) {
#define FIELDSYNC_NODE_MESSAGE_CASE(name, key) \
  case Msg::name:                              \
    return key;
    FIELDSYNC_NODE_MESSAGES(FIELDSYNC_NODE_MESSAGE_CASE)
#undef FIELDSYNC_NODE_MESSAGE_CASE
  }
  return "";
}

absl::Status Coded(absl::Status s, Msg m, const MessageParams& params) {
  // Every parameter made printable here, whoever wrote it (a colleague's
  // case code or office in a signed row may hold a control or direction
  // character: attack review 28, LOW 4). Printable leaves printable text
  // as it is.
  MessageParams printable = params;
  for (auto& [name, value] : printable) value = Printable(value);
  return WithMessage(std::move(s), MessageKey(m), printable);
}

std::vector<std::string_view> LibraryMessageKeys() {
  std::vector<std::string_view> out = {
#define FIELDSYNC_NODE_MESSAGE_KEY(name, key) key,
      FIELDSYNC_NODE_MESSAGES(FIELDSYNC_NODE_MESSAGE_KEY)
#undef FIELDSYNC_NODE_MESSAGE_KEY
  };
  out.insert(out.end(), std::begin(text::kTextMessageKeys), std::end(text::kTextMessageKeys));
  out.insert(out.end(), std::begin(kKeyRingMessageKeys), std::end(kKeyRingMessageKeys));
  out.insert(out.end(), std::begin(kStoreMessageKeys), std::end(kStoreMessageKeys));
  return out;
}

}  // namespace fieldsync::node::ops
