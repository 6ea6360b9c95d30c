// Secret bytes in libsodium's guarded memory, and the one-time library set-up.
//
// Every secret key of fieldsync (device keys, office keys, case data keys,
// keys derived from a passphrase) lives in a SecretBytes: in memory from
// sodium_malloc (guard pages, locked against swapping where the system
// allows), wiped when the object goes away. Keys of up to 64 bytes share
// guarded slabs (one sodium_malloc costs tens of microseconds, and there is
// a data key per case); larger secrets get their own allocation. A locked
// keystore or a forgotten key therefore leaves nothing readable in memory.
#ifndef FIELDSYNC_CRYPTO_SECRET_H_
#define FIELDSYNC_CRYPTO_SECRET_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fieldsync::crypto {

// Initialises libsodium once (thread-safe; aborts if it cannot, since no
// cryptography may run without it).
void EnsureSodium();

class SecretBytes {
 public:
  SecretBytes() = default;
  // `size` zero bytes in guarded memory. Aborts if the memory cannot be had.
  explicit SecretBytes(size_t size);
  // A copy of `bytes` (the caller wipes its own copy).
  static SecretBytes Copy(std::string_view bytes);
  // `size` random bytes.
  static SecretBytes Random(size_t size);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes Clone() const;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  // Wipes and frees now.
  void Reset();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_SECRET_H_
