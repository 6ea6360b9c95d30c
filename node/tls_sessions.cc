#include "node/tls_sessions.h"

#include <grpc/grpc_security.h>

#include <map>

#include "absl/synchronization/mutex.h"

namespace fieldsync::node {
namespace {

// Sessions a cache keeps (gRPC's LRU, one per server name: a node talks to
// one hub).
constexpr size_t kSessionsPerCache = 4;

struct Caches {
  absl::Mutex mu;
  // By address, a NUL, and the CA's PEM text. Never freed: a channel may
  // hold a cache until the process ends.
  std::map<std::string, grpc_ssl_session_cache*> by_hub ABSL_GUARDED_BY(mu);
};

Caches& TheCaches() {
  static Caches* const caches = new Caches;  // never destroyed (see above)
  return *caches;
}

}  // namespace

void UseTlsSessionCache(const std::string& address, const std::string& ca_pem,
                        grpc::ChannelArguments& args) {
  std::string key = address;
  key.push_back('\0');
  key += ca_pem;
  grpc_ssl_session_cache* cache = nullptr;
  {
    Caches& c = TheCaches();
    absl::MutexLock lock(&c.mu);
    grpc_ssl_session_cache*& slot = c.by_hub[key];
    if (slot == nullptr) slot = grpc_ssl_session_cache_create_lru(kSessionsPerCache);
    cache = slot;
  }
  // The argument holds a reference of its own (its vtable's copy).
  const grpc_arg arg = grpc_ssl_session_cache_create_channel_arg(cache);
  args.SetPointerWithVtable(arg.key, arg.value.pointer.p, arg.value.pointer.vtable);
}

}  // namespace fieldsync::node
