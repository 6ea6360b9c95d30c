// libFuzzer target: the keystore file header (sync-core/crypto/keystore.h).
// ParseKeystore only: OpenKeystore runs Argon2id with at least 256 MiB per
// call, far too slow for fuzzing.
//
// Properties checked (trap if broken): a keystore that parses is exactly
// kKeystoreBytes long, its KDF parameters are within [MODERATE, 64 passes /
// 4 GiB], and its device id is the 16 clear bytes at offset 66.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/keystore.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fieldsync;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<crypto::KeystoreHeader> h = crypto::ParseKeystore(in);
  if (!h.ok()) return 0;
  if (size != crypto::kKeystoreBytes) __builtin_trap();
  const crypto::KdfParams min = crypto::KdfParams::Moderate();
  if (h->params.opslimit < min.opslimit || h->params.memlimit < min.memlimit) __builtin_trap();
  if (h->params.opslimit > 64 || h->params.memlimit > (uint64_t{4} << 30)) __builtin_trap();
  if (h->device.view() != in.substr(66, 16)) __builtin_trap();
  return 0;
}
