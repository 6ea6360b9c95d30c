#include "hub/pg/backup_file.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace fieldsync::hub::pg {
namespace {

constexpr size_t kHashSize = 32;
// A section name is an identifier; a chunk at most a row of COPY (under
// PostgreSQL's 1 GB field limit).
constexpr uint32_t kMaxName = 64;
constexpr uint32_t kMaxChunk = 1u << 30;

std::string BigEndian32(uint32_t v) {
  std::string b(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8) b[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return b;
}

}  // namespace

BackupWriter::BackupWriter(std::FILE* out) : out_(out) {
  crypto_generichash_init(&hash_, nullptr, 0, kHashSize);
}

absl::Status BackupWriter::Put(std::string_view bytes, bool hashed) {
  if (bytes.empty()) return absl::OkStatus();
  if (std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot write the backup: ",
                                                      std::strerror(errno)));
  }
  if (hashed) {
    crypto_generichash_update(&hash_, reinterpret_cast<const unsigned char*>(bytes.data()),
                              bytes.size());
  }
  return absl::OkStatus();
}

absl::Status BackupWriter::PutU32(uint32_t v, bool hashed) { return Put(BigEndian32(v), hashed); }

absl::Status BackupWriter::Start(uint32_t format) {
  FS_RETURN_IF_ERROR(Put(kPgBackupMagic));
  return PutU32(format);
}

absl::Status BackupWriter::BeginSection(std::string_view name) {
  FS_RETURN_IF_ERROR(PutU32(static_cast<uint32_t>(name.size())));
  return Put(name);
}

absl::Status BackupWriter::Chunk(std::string_view bytes) {
  if (bytes.empty()) return absl::OkStatus();  // 0 would end the section
  if (bytes.size() > kMaxChunk) return absl::InternalError("a row over 1 GB");
  FS_RETURN_IF_ERROR(PutU32(static_cast<uint32_t>(bytes.size())));
  return Put(bytes);
}

absl::Status BackupWriter::EndSection() { return PutU32(0); }

absl::Status BackupWriter::Finish() {
  unsigned char h[kHashSize];
  crypto_generichash_final(&hash_, h, sizeof h);
  FS_RETURN_IF_ERROR(PutU32(3, false));
  FS_RETURN_IF_ERROR(Put("end", false));
  FS_RETURN_IF_ERROR(PutU32(kHashSize, false));
  FS_RETURN_IF_ERROR(Put(std::string_view(reinterpret_cast<const char*>(h), sizeof h), false));
  return PutU32(0, false);
}

absl::StatusOr<BackupReader> BackupReader::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  BackupReader r(f, path);
  crypto_generichash_init(&r.hash_, nullptr, 0, kHashSize);
  std::string magic;
  if (!r.Get(sizeof kPgBackupMagic - 1, &magic).ok() || magic != kPgBackupMagic) {
    return r.Bad("it is not a PostgreSQL hub backup (a hub.db is restored without --store)");
  }
  FS_ASSIGN_OR_RETURN(r.format_, r.GetU32());
  return r;
}

BackupReader::BackupReader(BackupReader&& o) noexcept
    : f_(std::exchange(o.f_, nullptr)), path_(std::move(o.path_)), format_(o.format_),
      hash_(o.hash_) {}

BackupReader::~BackupReader() {
  if (f_ != nullptr) std::fclose(f_);
}

absl::Status BackupReader::Bad(std::string_view why) const {
  return absl::InvalidArgumentError(std::string(why));
}

absl::Status BackupReader::Get(size_t n, std::string* out) {
  out->resize(n);
  if (n > 0 && std::fread(out->data(), 1, n, f_) != n) {
    return Bad(std::ferror(f_) ? absl::StrCat("cannot read it: ", std::strerror(errno))
                               : std::string("it is cut short"));
  }
  crypto_generichash_update(&hash_, reinterpret_cast<const unsigned char*>(out->data()), n);
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> BackupReader::GetU32() {
  std::string b;
  FS_RETURN_IF_ERROR(Get(4, &b));
  uint32_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

absl::StatusOr<std::string> BackupReader::NextSection() {
  crypto_generichash_state before = hash_;  // what "end" holds the hash of
  FS_ASSIGN_OR_RETURN(const uint32_t n, GetU32());
  if (n == 0 || n > kMaxName) return Bad("a section's name is out of bounds: it was changed");
  std::string name;
  FS_RETURN_IF_ERROR(Get(n, &name));
  if (name != "end") return name;
  unsigned char h[kHashSize];
  crypto_generichash_final(&before, h, sizeof h);
  std::string stored;
  FS_ASSIGN_OR_RETURN(const uint32_t len, GetU32());
  if (len != kHashSize) return Bad("its hash is missing: it was changed");
  FS_RETURN_IF_ERROR(Get(kHashSize, &stored));
  FS_ASSIGN_OR_RETURN(const uint32_t zero, GetU32());
  if (zero != 0 || std::fgetc(f_) != EOF) return Bad("bytes follow its end: it was changed");
  if (sodium_memcmp(stored.data(), h, kHashSize) != 0) {
    return Bad("its hash does not match its contents: it is damaged or was changed");
  }
  return name;
}

absl::StatusOr<bool> BackupReader::NextChunk(std::string* out) {
  FS_ASSIGN_OR_RETURN(const uint32_t n, GetU32());
  if (n == 0) return false;
  if (n > kMaxChunk) return Bad("a chunk's length is out of bounds: it was changed");
  FS_RETURN_IF_ERROR(Get(n, out));
  return true;
}

}  // namespace fieldsync::hub::pg
