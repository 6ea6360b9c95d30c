// Compact commit headers on the wire (protocol version 3, negotiated;
// docs/PROTOCOL.md, "Compact headers"; form in docs/CRYPTO.md, "Compact
// headers on the wire"). A commit that travels with its body needs only its
// header's signature: every field of a commit entry but the prev link is
// computed from the body (crypto::HeaderOfBody), and the prev link is the
// link of the author's entry before it when that entry came earlier in the
// same message. The receiver rebuilds the exact header bytes and checks the
// signature as it checks a whole header: a wrong rebuild fails it, so
// nothing is trusted more than a whole header is. Header-only entries and
// withdrawals travel whole; what is stored does not change.
//
// Along one message (a push, or one message of a pull), in order, sender and
// receiver each keep the last entry with a header of every author (its seq
// and link); a compact entry leaves its prev link out when it is seq 1 or
// when that last entry is its seq - 1 with the link it names.
#ifndef FIELDSYNC_SYNC_COMPACT_HEADER_H_
#define FIELDSYNC_SYNC_COMPACT_HEADER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "change/commit.h"
#include "change/id.h"
#include "sync/messages.h"

namespace fieldsync::sync {

// The compact form this build reads and sends: HelloReply.compact_headers
// (the hub reads it in pushes and sends it to pulls that ask) and
// PullParams.compact_headers (the node asks for it).
inline constexpr int kCompactHeaderForm = 1;

// An entry's header travels compact: no header bytes, a signature.
inline bool IsCompactHeader(std::string_view header, std::string_view header_signature) {
  return header.empty() && !header_signature.empty();
}

// The last entry with a header of each author along one message.
class MessageLinks {
 public:
  // The link of the author's entry seq - 1 if it is the last one seen.
  std::optional<std::string> Before(const DeviceId& author, uint64_t seq) const;
  void Saw(const DeviceId& author, uint64_t seq, std::string link);
  // Notes a whole header (nothing if it does not decode: the receiver's
  // checks refuse it later, and it names no link either side).
  void SawWhole(std::string_view header, std::string_view signature);

 private:
  std::map<DeviceId, std::pair<uint64_t, std::string>> last_;
};

// The sender's side of one message: entries offered in message order.
class HeaderCompactor {
 public:
  // Makes the entry compact when `body` (decoded, with its `omitted`
  // digests and `omitted_tags`; null for an entry sent header only)
  // rebuilds exactly `*header`: then `*header` is emptied and `*prev_link`
  // set to its prev link, or left empty when the receiver knows it. Any
  // other entry is left whole.
  void Offer(const Commit* body, const std::vector<std::string>& omitted_tags,
             std::string* header, const std::string& signature, std::string* prev_link);

 private:
  MessageLinks links_;
};

// The receiver's side of one message: entries taken in message order.
class HeaderExpander {
 public:
  // Rebuilds the header of a compact entry from `body` (decoded, as in
  // HeaderCompactor::Offer) into `*header` and clears `*prev_link`; notes
  // every entry's link. INVALID_ARGUMENT (one line, without the entry's
  // place) for a compact entry that cannot be rebuilt: no body, a prev link
  // that is not 32 bytes or that it lacks and nothing before it names, a
  // body that makes no header; or a prev link beside a whole header.
  absl::Status Take(const Commit* body, const std::vector<std::string>& omitted_tags,
                    std::string* header, const std::string& signature, std::string* prev_link);

 private:
  MessageLinks links_;
};

// Whole vectors, decoding the bodies of the entries concerned. The hub's
// side of a pull (compact) and of a push (expanded: INVALID_ARGUMENT naming
// the commit); the node's side of a pull (expanded: INVALID_ARGUMENT naming
// the entry's position).
void CompactPulled(std::vector<PulledEntry>& entries);
absl::Status ExpandPushed(std::vector<PushedCommit>& commits);
absl::Status ExpandPulled(std::vector<PulledEntry>& entries);

// Whether any entry travels compact.
bool AnyCompact(const std::vector<PushedCommit>& commits);

}  // namespace fieldsync::sync

#endif  // FIELDSYNC_SYNC_COMPACT_HEADER_H_
