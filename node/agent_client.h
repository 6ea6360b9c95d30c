// The key agent's client side (agent.h): reading and writing its socket,
// and the operations of a delegated identity over one kept connection --
// signing, opening sealed boxes, and the search index (agent_index.h).
// Internal to node/agent*.cc.
#ifndef FIELDSYNC_NODE_AGENT_CLIENT_H_
#define FIELDSYNC_NODE_AGENT_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crypto/identity.h"
#include "node/agent_index.h"

namespace fieldsync::node::agent_client {

// Reads exactly `n` bytes from the non-blocking `fd` by `deadline` (Ticks).
// False on end of file, error or time out.
bool ReadFull(int fd, void* buf, size_t n, int64_t deadline);
// Writes all of `data` to the non-blocking `fd` by `deadline`.
bool WriteFull(int fd, std::string_view data, int64_t deadline);
// Sends `request` and reads the status byte. nullopt: no answer (the agent
// closed the connection, or was silent for kAgentClientMillis).
std::optional<uint8_t> Ask(int fd, std::string_view request);
std::string ProgramChanged();

// The delegated identity's operations: requests on one connection.
class AgentKeys : public crypto::KeyOperations, public NameIndexClient {
 public:
  AgentKeys(int fd, std::string sign_pk, std::string path)
      : fd_(fd), sign_pk_(std::move(sign_pk)), path_(std::move(path)) {}
  ~AgentKeys() override;

  absl::StatusOr<std::string> Sign(std::string_view domain, std::string_view message) override;
  absl::StatusOr<crypto::SecretBytes> OpenSealed(std::string_view sealed) override;
  // The agent still holds the connection: an idle connection has nothing
  // to read (the agent speaks only when asked) unless the agent closed it.
  bool Alive();

  // The search index (agent_index.cc).
  absl::StatusOr<NameIndexState> IndexState() override;
  absl::StatusOr<bool> IndexUpdate(bool reset, bool final, const NameIndexKey& base,
                                   const NameIndexKey& key,
                                   const std::vector<NameIndexEntry>& entries) override;
  absl::StatusOr<std::optional<std::vector<RowId>>> IndexQuery(
      std::string_view folded_query) override;

 private:
  // The connection went (lock, the end of the period, the agent killed):
  // nothing more can be signed or opened by this identity.
  absl::Status Gone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Refused(uint8_t status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Close() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  const std::string sign_pk_;
  const std::string path_;
};

}  // namespace fieldsync::node::agent_client

#endif  // FIELDSYNC_NODE_AGENT_CLIENT_H_
