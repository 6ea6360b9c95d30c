#include "crypto/pairing_code.h"

#include <sodium.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "crypto/secret.h"

namespace fieldsync::crypto {

namespace {

void Add(crypto_generichash_state* st, std::string_view b) {
  crypto_generichash_update(st, reinterpret_cast<const unsigned char*>(b.data()), b.size());
}

std::string Digits(const DevicePublic& root, const DevicePublic& subject) {
  EnsureSodium();
  unsigned char h[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof h);
  Add(&st, kPairingCodeDomain);
  Add(&st, std::string_view("\0", 1));
  for (const DevicePublic* d : {&root, &subject}) {
    Add(&st, d->device.view());
    Add(&st, d->sign_pk);
    Add(&st, d->box_pk);
  }
  crypto_generichash_final(&st, h, sizeof h);
  std::string out;
  for (int group = 0; group < 4; ++group) {
    uint64_t v = 0;
    for (int i = 0; i < 5; ++i) v = (v << 8) | h[group * 5 + i];
    std::string g = std::to_string(v % 10000);
    out += std::string(4 - g.size(), '0') + g;
  }
  return out;
}

}  // namespace

std::string PairingCode(const DevicePublic& root, const DevicePublic& subject) {
  const std::string d = Digits(root, subject);
  return absl::StrCat(d.substr(0, 4), " ", d.substr(4, 4), " ", d.substr(8, 4), " ",
                      d.substr(12, 4));
}

absl::StatusOr<std::string> ParsePairingCode(std::string_view typed) {
  std::string digits;
  for (char c : typed) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c != ' ' && c != '-') {
      return absl::InvalidArgumentError(
          "a pairing code is 16 digits, as the other laptop shows them (\"1234 5678 9012 3456\")");
    }
  }
  if (digits.size() != kPairingCodeDigits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a pairing code is 16 digits, as the other laptop shows them; this one has ",
        digits.size()));
  }
  return digits;
}

absl::StatusOr<bool> PairingCodeMatches(std::string_view typed, const DevicePublic& root,
                                        const DevicePublic& subject) {
  absl::StatusOr<std::string> got = ParsePairingCode(typed);
  if (!got.ok()) return got.status();
  const std::string want = Digits(root, subject);
  return sodium_memcmp(got->data(), want.data(), want.size()) == 0;
}

}  // namespace fieldsync::crypto
