// The simulation's signature checks, remembered (linked into the
// simulation's binary only, with -Wl,--wrap=crypto_sign_verify_detached:
// tests/CMakeLists.txt).
//
// One process plays the hub and every laptop, so the same signed bytes are
// checked many times over: each laptop checks every commit and key record
// it pulls, the hub each one pushed to it (again after a replayed push), a
// key ring its office's records at every membership computation, and the
// template's enrolled devices sign the same records in every schedule of a
// shape. Ed25519 verification is a pure function of (public key, message,
// signature), so a triple that verified once verifies again: the real
// libsodium is called for every triple not seen verified before, and its
// answer is returned. Only successes are remembered, with their exact bytes
// (no hash stands in for them): a forged or altered signature, a wrong key
// or another message is always a new triple, checked by libsodium, and
// refused as before. What the simulation tests is unchanged; it spent about
// a sixth of its time re-checking identical triples.
#include <sodium.h>

#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "sim/verify_memo.h"

extern "C" int __real_crypto_sign_verify_detached(const unsigned char* sig, const unsigned char* m,
                                                  unsigned long long mlen,
                                                  const unsigned char* pk);

namespace {

struct Memo {
  std::mutex mu;
  absl::flat_hash_set<std::string> verified;
};

Memo& M() {
  static Memo* m = new Memo;
  return *m;
}

// A bound on the memory held: forgotten wholesale past it (a forgotten
// triple is simply checked by libsodium again).
constexpr size_t kMaxRemembered = 200'000;

}  // namespace

extern "C" int __wrap_crypto_sign_verify_detached(const unsigned char* sig, const unsigned char* m,
                                                  unsigned long long mlen,
                                                  const unsigned char* pk) {
  std::string key;
  key.reserve(crypto_sign_PUBLICKEYBYTES + crypto_sign_BYTES + mlen);
  key.append(reinterpret_cast<const char*>(pk), crypto_sign_PUBLICKEYBYTES);
  key.append(reinterpret_cast<const char*>(sig), crypto_sign_BYTES);
  key.append(reinterpret_cast<const char*>(m), static_cast<size_t>(mlen));
  Memo& memo = M();
  {
    std::lock_guard<std::mutex> l(memo.mu);
    if (memo.verified.contains(key)) return 0;
  }
  const int rc = __real_crypto_sign_verify_detached(sig, m, mlen, pk);
  if (rc == 0) {
    std::lock_guard<std::mutex> l(memo.mu);
    if (memo.verified.size() >= kMaxRemembered) memo.verified.clear();
    memo.verified.insert(std::move(key));
  }
  return rc;
}

namespace fieldsync::sim {

void VerifyMemoNextSchedule() {}

size_t VerifyMemoSize() {
  Memo& memo = M();
  std::lock_guard<std::mutex> l(memo.mu);
  return memo.verified.size();
}

}  // namespace fieldsync::sim
