// The framing of a PostgreSQL hub backup (hub/pg/backup.h; docs/FORMATS.md,
// "PostgreSQL hub backup", format 1): a magic line, the format number,
// then named sections of length-prefixed chunks, the last section "end"
// holding the BLAKE2b-256 of every byte before it. Integers big-endian.
//
//   "FIELDHUB-PG-BACKUP\n"  u32 format
//   section := u32 name_length  name  { u32 chunk_length  chunk }  u32 0
//   sections: "meta" (one chunk, "key=value\n" lines), one per table
//   (each chunk a piece of COPY's binary output), "end" (one chunk: the hash)
#ifndef FIELDSYNC_HUB_PG_BACKUP_FILE_H_
#define FIELDSYNC_HUB_PG_BACKUP_FILE_H_

#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fieldsync::hub::pg {

inline constexpr char kPgBackupMagic[] = "FIELDHUB-PG-BACKUP\n";

class BackupWriter {
 public:
  explicit BackupWriter(std::FILE* out);
  // The magic line and format number.
  absl::Status Start(uint32_t format);
  absl::Status BeginSection(std::string_view name);
  absl::Status Chunk(std::string_view bytes);  // not empty
  absl::Status EndSection();
  // The "end" section with the hash of everything before it.
  absl::Status Finish();

 private:
  absl::Status Put(std::string_view bytes, bool hashed = true);
  absl::Status PutU32(uint32_t v, bool hashed = true);
  std::FILE* out_;
  crypto_generichash_state hash_;
};

class BackupReader {
 public:
  // Opens `path`; INVALID_ARGUMENT if it does not begin as a backup does.
  static absl::StatusOr<BackupReader> Open(const std::string& path);
  BackupReader(BackupReader&& o) noexcept;
  BackupReader& operator=(BackupReader&&) = delete;
  ~BackupReader();

  uint32_t format() const { return format_; }
  // The next section's name; "end" is checked (its hash, then the end of
  // the file) before it is returned.
  absl::StatusOr<std::string> NextSection();
  // The section's next chunk into `out`: false at its end.
  absl::StatusOr<bool> NextChunk(std::string* out);

 private:
  BackupReader(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  absl::Status Get(size_t n, std::string* out);
  absl::StatusOr<uint32_t> GetU32();
  absl::Status Bad(std::string_view why) const;
  std::FILE* f_;
  std::string path_;
  uint32_t format_ = 0;
  crypto_generichash_state hash_;
};

}  // namespace fieldsync::hub::pg

#endif  // FIELDSYNC_HUB_PG_BACKUP_FILE_H_
