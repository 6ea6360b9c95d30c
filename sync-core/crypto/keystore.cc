#include "crypto/keystore.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "crypto/bytes.h"

namespace fieldsync::crypto {

namespace {

constexpr char kMagic[8] = {'F', 'S', 'K', 'E', 'Y', 'S', 'T', '\0'};
constexpr uint8_t kAlgArgon2id13 = 2;
constexpr size_t kHeaderBytes = 82;
constexpr size_t kPayloadBytes = 16 + 64 + 32;
static_assert(kKeystoreBytes == kHeaderBytes + kPayloadBytes + 16);
// Refuse absurd parameters too (a corrupted header must not make us allocate
// terabytes): at most 4 GiB and 64 passes.
constexpr uint64_t kMaxMemlimit = uint64_t{4} << 30;
constexpr uint64_t kMaxOpslimit = 64;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::StatusOr<SecretBytes> DeriveKey(std::string_view passphrase, std::string_view salt,
                                      const KdfParams& p) {
  SecretBytes key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), U(salt),
                    p.opslimit, static_cast<size_t>(p.memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "could not derive the keystore key: Argon2id needs ", p.memlimit >> 20,
        " MiB of memory; close other programs and try again"));
  }
  return key;
}

// Writes `bytes` to a new temporary file beside `path` (mkstemp: a unique
// name, never following a planted link), fsyncs it, then puts it in place:
// with `exclusive`, by link() -- which fails if `path` exists, so two
// concurrent creates cannot overwrite each other -- else by rename(). Either
// way a crash leaves the old file or the new one, whole.
absl::Status WriteFileAtomically(const std::string& path, const std::string& bytes,
                                  bool exclusive) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write beside ", path, ": ", std::strerror(errno)));
  }
  fchmod(fd, 0600);
  auto fail = [&](const std::string& what) {
    const int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat(what, " ", tmp, ": ", std::strerror(e)));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot flush");
  close(fd);
  if (exclusive) {
    if (link(tmp.c_str(), path.c_str()) != 0) {
      const int e = errno;
      unlink(tmp.c_str());
      if (e == EEXIST) {
        return absl::AlreadyExistsError(absl::StrCat(
            "keystore ", path, " already exists; it holds this device's keys and is never "
            "overwritten (use `fieldnode passphrase` to change its passphrase)"));
      }
      return absl::DataLossError(absl::StrCat("cannot create ", path, ": ", std::strerror(e)));
    }
    unlink(tmp.c_str());
  } else if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    unlink(tmp.c_str());
    return absl::DataLossError(absl::StrCat("cannot replace ", path, ": ", std::strerror(e)));
  }
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  int dfd = open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "no keystore at ", path, ": run `fieldnode init` to create this device's keys"));
  }
  if (!S_ISREG(st.st_mode) || st.st_size > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keystore ", path, " is not a keystore (", st.st_size, " bytes, or not a file)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(absl::StrCat("cannot read the keystore ", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

KdfParams KdfParams::Moderate() {
  return KdfParams{crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

absl::StatusOr<KeystoreHeader> ParseKeystore(std::string_view bytes) {
  EnsureSodium();
  ByteReader in(bytes, "keystore");
  std::string_view magic = in.Raw(8, "magic");
  if (in.ok() && magic != std::string_view(kMagic, 8)) in.Fail("not a fieldsync keystore");
  uint8_t version = in.U8();
  if (in.ok() && version != kKeystoreVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "keystore in format version ", version, "; this build reads version ",
        kKeystoreVersion, " only: upgrade fieldsync"));
  }
  uint8_t alg = in.U8();
  if (in.ok() && alg != kAlgArgon2id13) {
    return absl::FailedPreconditionError(absl::StrCat(
        "keystore names key derivation algorithm ", alg, "; only Argon2id (2) is accepted"));
  }
  KeystoreHeader h;
  h.params.opslimit = in.U64();
  h.params.memlimit = in.U64();
  in.Raw(16, "salt");
  in.Raw(24, "nonce");
  std::string_view dev = in.Raw(16, "device id");
  in.Raw(kPayloadBytes + 16, "sealed keys");
  in.ExpectEnd();
  if (!in.ok()) return in.status();
  KdfParams min = KdfParams::Moderate();
  if (h.params.opslimit < min.opslimit || h.params.memlimit < min.memlimit) {
    return absl::FailedPreconditionError(absl::StrCat(
        "keystore parameters (opslimit ", h.params.opslimit, ", memlimit ",
        h.params.memlimit >> 20, " MiB) are below the minimum (", min.opslimit, ", ",
        min.memlimit >> 20, " MiB): the file was downgraded or tampered with; refused"));
  }
  if (h.params.opslimit > kMaxOpslimit || h.params.memlimit > kMaxMemlimit) {
    return absl::FailedPreconditionError(
        "keystore parameters exceed the maximum (64 passes, 4 GiB): the file is corrupt");
  }
  absl::StatusOr<DeviceId> id = DeviceId::FromBytes(dev, "keystore device id");
  if (!id.ok()) return id.status();
  h.device = *id;
  return h;
}

absl::StatusOr<std::string> SealKeystore(const DeviceIdentity& identity,
                                         std::string_view passphrase, const KdfParams& params) {
  EnsureSodium();
  KdfParams min = KdfParams::Moderate();
  if (params.opslimit < min.opslimit || params.memlimit < min.memlimit) {
    return absl::InvalidArgumentError("keystore parameters below libsodium's MODERATE limits");
  }
  // Only a local identity can be written (a delegated one's keys are in the agent).
  absl::StatusOr<std::string_view> sign_sk = identity.sign_secret();
  absl::StatusOr<std::string_view> box_sk = identity.box_secret();
  if (!sign_sk.ok()) return sign_sk.status();
  if (!box_sk.ok()) return box_sk.status();
  std::string out;
  ByteWriter w(&out);
  w.Raw(std::string_view(kMagic, 8));
  w.U8(kKeystoreVersion);
  w.U8(kAlgArgon2id13);
  w.U64(params.opslimit);
  w.U64(params.memlimit);
  unsigned char salt[16], nonce[24];
  randombytes_buf(salt, sizeof salt);
  randombytes_buf(nonce, sizeof nonce);
  w.Raw(std::string_view(reinterpret_cast<char*>(salt), 16));
  w.Raw(std::string_view(reinterpret_cast<char*>(nonce), 24));
  w.Raw(identity.device().view());
  absl::StatusOr<SecretBytes> key =
      DeriveKey(passphrase, std::string_view(reinterpret_cast<char*>(salt), 16), params);
  if (!key.ok()) return key.status();
  SecretBytes payload(kPayloadBytes);
  std::memcpy(payload.data(), identity.device().data(), 16);
  std::memcpy(payload.data() + 16, sign_sk->data(), 64);
  std::memcpy(payload.data() + 80, box_sk->data(), 32);
  std::string header = out;
  out.resize(kKeystoreBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(out.data()) + kHeaderBytes, &clen, payload.data(),
      payload.size(), U(header), header.size(), nullptr, nonce, key->data());
  return out;
}

absl::StatusOr<DeviceIdentity> OpenKeystore(std::string_view bytes, std::string_view passphrase) {
  absl::StatusOr<KeystoreHeader> h = ParseKeystore(bytes);
  if (!h.ok()) return h.status();
  std::string_view header = bytes.substr(0, kHeaderBytes);
  std::string_view salt = bytes.substr(26, 16);
  std::string_view nonce = bytes.substr(42, 24);
  std::string_view sealed = bytes.substr(kHeaderBytes);
  absl::StatusOr<SecretBytes> key = DeriveKey(passphrase, salt, h->params);
  if (!key.ok()) return key.status();
  SecretBytes payload(kPayloadBytes);
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(payload.data(), &plen, nullptr, U(sealed),
                                                 sealed.size(), U(header), header.size(),
                                                 U(nonce), key->data()) != 0) {
    return absl::UnauthenticatedError(
        "wrong passphrase: the keystore did not open (nothing was changed; try again, or ask "
        "your office to re-enrol this laptop if the passphrase is lost)");
  }
  if (sodium_memcmp(payload.data(), h->device.data(), 16) != 0) {
    return absl::UnauthenticatedError("keystore device id does not match its sealed keys");
  }
  return DeviceIdentity::FromSecrets(h->device, payload.view().substr(16, 64),
                                     payload.view().substr(80, 32));
}

absl::Status CreateKeystoreFile(const std::string& path, const DeviceIdentity& identity,
                                std::string_view passphrase) {
  if (passphrase.size() < kMinPassphraseBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the passphrase must be at least ", kMinPassphraseBytes,
        " bytes; a sentence of several words is best"));
  }
  if (access(path.c_str(), F_OK) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        "keystore ", path, " already exists; it holds this device's keys and is never "
        "overwritten (use `fieldnode passphrase` to change its passphrase)"));
  }
  absl::StatusOr<std::string> bytes = SealKeystore(identity, passphrase);
  if (!bytes.ok()) return bytes.status();
  return WriteFileAtomically(path, *bytes, /*exclusive=*/true);
}

absl::StatusOr<DeviceIdentity> UnlockKeystoreFile(const std::string& path,
                                                  std::string_view passphrase) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<DeviceIdentity> id = OpenKeystore(*bytes, passphrase);
  sodium_memzero(bytes->data(), bytes->size());
  if (!id.ok()) {
    return absl::Status(id.status().code(), absl::StrCat(path, ": ", id.status().message()));
  }
  return id;
}

absl::Status ChangeKeystorePassphrase(const std::string& path, std::string_view old_passphrase,
                                      std::string_view new_passphrase) {
  if (new_passphrase.size() < kMinPassphraseBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the new passphrase must be at least ", kMinPassphraseBytes, " bytes"));
  }
  absl::StatusOr<DeviceIdentity> id = UnlockKeystoreFile(path, old_passphrase);
  if (!id.ok()) return id.status();
  // Never cheaper than before: the file's parameters or MODERATE, whichever
  // is stronger.
  absl::StatusOr<std::string> old_bytes = ReadFile(path);
  if (!old_bytes.ok()) return old_bytes.status();
  absl::StatusOr<KeystoreHeader> old_header = ParseKeystore(*old_bytes);
  if (!old_header.ok()) return old_header.status();
  KdfParams params = KdfParams::Moderate();
  params.opslimit = std::max(params.opslimit, old_header->params.opslimit);
  params.memlimit = std::max(params.memlimit, old_header->params.memlimit);
  absl::StatusOr<std::string> bytes = SealKeystore(*id, new_passphrase, params);
  if (!bytes.ok()) return bytes.status();
  return WriteFileAtomically(path, *bytes, /*exclusive=*/false);
}

}  // namespace fieldsync::crypto
