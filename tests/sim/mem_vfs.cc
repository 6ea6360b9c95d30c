#include "sim/mem_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <mutex>
#include <vector>

namespace fieldsync::sim::memvfs {
namespace {

struct Handle;

// A file's bytes in chunks that never move: a growing WAL is not copied
// at every doubling (that was a fifth of a schedule's time as a string).
class Chunks {
 public:
  static constexpr size_t kChunk = size_t{64} << 10;

  size_t size() const { return size_; }
  // Bytes past the end read as zeros; returns how many were there.
  size_t Read(char* out, size_t n, size_t off) const {
    const size_t have = off >= size_ ? 0 : std::min(n, size_ - off);
    for (size_t done = 0; done < have;) {
      const size_t at = off + done;
      const size_t k = std::min(have - done, kChunk - at % kChunk);
      std::memcpy(out + done, chunks_[at / kChunk].get() + at % kChunk, k);
      done += k;
    }
    if (have < n) std::memset(out + have, 0, n - have);
    return have;
  }
  void Write(const char* in, size_t n, size_t off) {
    Grow(off + n);
    for (size_t done = 0; done < n;) {
      const size_t at = off + done;
      const size_t k = std::min(n - done, kChunk - at % kChunk);
      std::memcpy(chunks_[at / kChunk].get() + at % kChunk, in + done, k);
      done += k;
    }
  }
  void Truncate(size_t n) {
    if (n >= size_) return;
    // What a later write past the end leaves unwritten reads as zeros.
    if (n % kChunk != 0) std::memset(chunks_[n / kChunk].get() + n % kChunk, 0, kChunk - n % kChunk);
    chunks_.resize((n + kChunk - 1) / kChunk);
    size_ = n;
  }
  std::string Copy() const {
    std::string out(size_, '\0');
    Read(out.data(), size_, 0);
    return out;
  }
  void Assign(const std::string& data) {
    chunks_.clear();
    size_ = 0;
    Write(data.data(), data.size(), 0);
  }

 private:
  void Grow(size_t n) {
    while (chunks_.size() * kChunk < n) chunks_.push_back(std::make_unique<char[]>(kChunk));
    size_ = std::max(size_, n);
  }
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t size_ = 0;
};

// One file's bytes and the locks of the connections that have it open.
struct MemFile {
  Chunks data;
  int open = 0;
  // File locks (SQLite's five levels): how many hold SHARED, and who
  // holds RESERVED, PENDING, EXCLUSIVE.
  int shared = 0;
  Handle* reserved = nullptr;
  Handle* pending = nullptr;
  Handle* exclusive = nullptr;
  // The WAL index ("-shm"): regions, users, and its eight locks.
  std::vector<std::unique_ptr<char[]>> regions;
  int shm_users = 0;
  int shm_shared[SQLITE_SHM_NLOCK] = {};
  Handle* shm_exclusive[SQLITE_SHM_NLOCK] = {};
};

struct Handle {
  sqlite3_file base;  // first: SQLite sees a sqlite3_file*
  std::shared_ptr<MemFile> file;
  std::string path;  // empty: a temporary file
  bool delete_on_close = false;
  int level = SQLITE_LOCK_NONE;
  bool shm_mapped = false;
  unsigned shm_shared_held = 0;
  unsigned shm_exclusive_held = 0;
};

struct State {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<MemFile>> files;
  sqlite3_vfs* os = nullptr;  // the VFS this one stands in for (time, sleep)
  // Armed crashes, by machine (the files under a prefix): writes left
  // before the snapshot, and the files. A laptop's pass and the hub's
  // call inside it may both be armed.
  struct Armed {
    int writes_left = 0;
    std::optional<Files> files;
  };
  std::map<std::string, Armed> crashes;
  // Prefixes of machines killed and not yet restored (Kill).
  std::vector<std::string> dead;
};

State& S() {
  static State* s = new State;
  return *s;
}

bool Under(const std::string& path, const std::string& prefix) {
  return path.compare(0, prefix.size(), prefix) == 0;
}

Files SnapshotLocked(const std::string& prefix) {
  Files out;
  for (const auto& [path, f] : S().files) {
    if (Under(path, prefix)) out[path] = f->data.Copy();
  }
  return out;
}

// Called before each change to a file's bytes, with the lock held.
void BeforeWrite(const Handle* h) {
  State& s = S();
  if (h->path.empty()) return;
  for (auto& [prefix, armed] : s.crashes) {
    if (armed.writes_left <= 0 || !Under(h->path, prefix)) continue;
    if (--armed.writes_left == 0) armed.files = SnapshotLocked(prefix);
  }
}

Handle* H(sqlite3_file* f) { return reinterpret_cast<Handle*>(f); }

// Whether the handle's machine was killed (Kill), with the lock held.
bool Dead(const Handle* h) {
  for (const std::string& prefix : S().dead) {
    if (!h->path.empty() && Under(h->path, prefix)) return true;
  }
  return false;
}

int Close(sqlite3_file* f) {
  Handle* h = H(f);
  {
    std::lock_guard<std::mutex> l(S().mu);
    if (h->file) {
      --h->file->open;
      if (h->delete_on_close && !h->path.empty()) S().files.erase(h->path);
    }
  }
  h->~Handle();
  return SQLITE_OK;
}

int Read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
  std::lock_guard<std::mutex> l(S().mu);
  const auto want = static_cast<size_t>(n);
  const size_t have = H(f)->file->data.Read(static_cast<char*>(out), want, static_cast<size_t>(off));
  return have < want ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

int Write(sqlite3_file* f, const void* in, int n, sqlite3_int64 off) {
  std::lock_guard<std::mutex> l(S().mu);
  if (Dead(H(f))) return SQLITE_OK;
  BeforeWrite(H(f));
  H(f)->file->data.Write(static_cast<const char*>(in), static_cast<size_t>(n),
                         static_cast<size_t>(off));
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  std::lock_guard<std::mutex> l(S().mu);
  if (Dead(H(f))) return SQLITE_OK;
  BeforeWrite(H(f));
  H(f)->file->data.Truncate(static_cast<size_t>(size));
  return SQLITE_OK;
}

int Sync(sqlite3_file*, int) { return SQLITE_OK; }

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  std::lock_guard<std::mutex> l(S().mu);
  *size = static_cast<sqlite3_int64>(H(f)->file->data.size());
  return SQLITE_OK;
}

int Lock(sqlite3_file* f, int level) {
  std::lock_guard<std::mutex> l(S().mu);
  Handle* h = H(f);
  MemFile& m = *h->file;
  if (h->level >= level) return SQLITE_OK;
  if (level == SQLITE_LOCK_SHARED) {
    if ((m.pending != nullptr && m.pending != h) || (m.exclusive != nullptr && m.exclusive != h)) {
      return SQLITE_BUSY;
    }
    ++m.shared;
    h->level = SQLITE_LOCK_SHARED;
    return SQLITE_OK;
  }
  if (level == SQLITE_LOCK_RESERVED) {
    if (m.reserved != nullptr && m.reserved != h) return SQLITE_BUSY;
    m.reserved = h;
    h->level = SQLITE_LOCK_RESERVED;
    return SQLITE_OK;
  }
  // A killed machine's last connection closing: no checkpoint.
  if (Dead(h)) return SQLITE_BUSY;
  // EXCLUSIVE, through PENDING: no new reader gets in while the others
  // finish.
  if (m.pending != nullptr && m.pending != h) return SQLITE_BUSY;
  m.pending = h;
  h->level = SQLITE_LOCK_PENDING;
  if (m.shared > 1) return SQLITE_BUSY;
  m.exclusive = h;
  h->level = SQLITE_LOCK_EXCLUSIVE;
  return SQLITE_OK;
}

void UnlockLocked(Handle* h, int level) {
  MemFile& m = *h->file;
  if (h->level <= level) return;
  if (level < SQLITE_LOCK_RESERVED) {
    if (m.reserved == h) m.reserved = nullptr;
    if (m.pending == h) m.pending = nullptr;
    if (m.exclusive == h) m.exclusive = nullptr;
  }
  if (level == SQLITE_LOCK_NONE && h->level >= SQLITE_LOCK_SHARED) --m.shared;
  h->level = level;
}

int Unlock(sqlite3_file* f, int level) {
  std::lock_guard<std::mutex> l(S().mu);
  UnlockLocked(H(f), level);
  return SQLITE_OK;
}

int CheckReserved(sqlite3_file* f, int* out) {
  std::lock_guard<std::mutex> l(S().mu);
  const MemFile& m = *H(f)->file;
  *out = (m.reserved != nullptr || m.pending != nullptr || m.exclusive != nullptr) ? 1 : 0;
  return SQLITE_OK;
}

int FileControl(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int SectorSize(sqlite3_file*) { return 4096; }
int Characteristics(sqlite3_file*) { return SQLITE_IOCAP_POWERSAFE_OVERWRITE; }

int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  std::lock_guard<std::mutex> l(S().mu);
  Handle* h = H(f);
  MemFile& m = *h->file;
  if (!h->shm_mapped) {
    h->shm_mapped = true;
    ++m.shm_users;
  }
  const auto r = static_cast<size_t>(region);
  if (m.regions.size() <= r) {
    if (extend == 0) {
      *out = nullptr;
      return SQLITE_OK;
    }
    while (m.regions.size() <= r) {
      auto p = std::make_unique<char[]>(static_cast<size_t>(size));
      std::memset(p.get(), 0, static_cast<size_t>(size));
      m.regions.push_back(std::move(p));
    }
  }
  *out = m.regions[r].get();
  return SQLITE_OK;
}

int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  std::lock_guard<std::mutex> l(S().mu);
  Handle* h = H(f);
  MemFile& m = *h->file;
  const bool unlock = (flags & SQLITE_SHM_UNLOCK) != 0;
  const bool exclusive = (flags & SQLITE_SHM_EXCLUSIVE) != 0;
  if (unlock) {
    for (int i = offset; i < offset + n; ++i) {
      const unsigned bit = 1u << i;
      if (exclusive) {
        if ((h->shm_exclusive_held & bit) != 0) {
          m.shm_exclusive[i] = nullptr;
          h->shm_exclusive_held &= ~bit;
        }
      } else if ((h->shm_shared_held & bit) != 0) {
        --m.shm_shared[i];
        h->shm_shared_held &= ~bit;
      }
    }
    return SQLITE_OK;
  }
  for (int i = offset; i < offset + n; ++i) {
    const unsigned bit = 1u << i;
    if (m.shm_exclusive[i] != nullptr && m.shm_exclusive[i] != h) return SQLITE_BUSY;
    if (exclusive && m.shm_shared[i] - ((h->shm_shared_held & bit) != 0 ? 1 : 0) > 0) {
      return SQLITE_BUSY;
    }
  }
  for (int i = offset; i < offset + n; ++i) {
    const unsigned bit = 1u << i;
    if (exclusive) {
      m.shm_exclusive[i] = h;
      h->shm_exclusive_held |= bit;
    } else if ((h->shm_shared_held & bit) == 0) {
      ++m.shm_shared[i];
      h->shm_shared_held |= bit;
    }
  }
  return SQLITE_OK;
}

void ShmBarrier(sqlite3_file*) { std::atomic_thread_fence(std::memory_order_seq_cst); }

int ShmUnmap(sqlite3_file* f, int /*delete_flag*/) {
  std::lock_guard<std::mutex> l(S().mu);
  Handle* h = H(f);
  if (!h->shm_mapped) return SQLITE_OK;
  MemFile& m = *h->file;
  for (int i = 0; i < SQLITE_SHM_NLOCK; ++i) {
    const unsigned bit = 1u << i;
    if ((h->shm_shared_held & bit) != 0) --m.shm_shared[i];
    if ((h->shm_exclusive_held & bit) != 0) m.shm_exclusive[i] = nullptr;
  }
  h->shm_shared_held = h->shm_exclusive_held = 0;
  h->shm_mapped = false;
  // The last user gone, the index goes with it, as the shared memory of a
  // killed process does: the next one rebuilds it from the WAL.
  if (--m.shm_users == 0) m.regions.clear();
  return SQLITE_OK;
}

const sqlite3_io_methods kMethods = {
    2,           Close,      Read,       Write,  Truncate,   Sync,      FileSize,
    Lock,        Unlock,     CheckReserved, FileControl, SectorSize, Characteristics,
    ShmMap,      ShmLock,    ShmBarrier, ShmUnmap, nullptr, nullptr};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  // SQLite hands over raw memory of szOsFile bytes.
  Handle* h = new (f) Handle();
  h->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  {
    std::lock_guard<std::mutex> l(S().mu);
    if (name == nullptr) {
      h->file = std::make_shared<MemFile>();
    } else {
      h->path = name;
      auto it = S().files.find(h->path);
      if (it == S().files.end()) {
        if ((flags & SQLITE_OPEN_CREATE) == 0) {
          h->~Handle();
          f->pMethods = nullptr;
          return SQLITE_CANTOPEN;
        }
        it = S().files.emplace(h->path, std::make_shared<MemFile>()).first;
      }
      h->file = it->second;
    }
    ++h->file->open;
  }
  h->base.pMethods = &kMethods;
  if (out_flags != nullptr) *out_flags = flags;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs*, const char* name, int) {
  std::lock_guard<std::mutex> l(S().mu);
  S().files.erase(name);
  return SQLITE_OK;
}

int Access(sqlite3_vfs*, const char* name, int, int* out) {
  std::lock_guard<std::mutex> l(S().mu);
  *out = S().files.count(name) > 0 ? 1 : 0;
  return SQLITE_OK;
}

int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  sqlite3_snprintf(n, out, "%s", name);
  return SQLITE_OK;
}

// Deterministic: SQLite seeds its own generator (WAL salts, temporary
// names) from here.
int Randomness(sqlite3_vfs*, int n, char* out) {
  std::memset(out, 0, static_cast<size_t>(n));
  return n;
}

int Sleep(sqlite3_vfs*, int micros) { return S().os->xSleep(S().os, micros); }
int CurrentTime(sqlite3_vfs*, double* out) { return S().os->xCurrentTime(S().os, out); }
int LastError(sqlite3_vfs*, int, char*) { return 0; }

}  // namespace

void Install() {
  static std::once_flag once;
  std::call_once(once, [] {
    // As sqlite::Db::Open does at its first open: without the process-wide
    // memory statistics (a global mutex on every allocation). Only possible
    // before SQLite initialises, which sqlite3_vfs_find below does.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    S().os = sqlite3_vfs_find(nullptr);
    static sqlite3_vfs vfs = {};
    vfs.iVersion = 1;
    vfs.szOsFile = static_cast<int>(sizeof(Handle));
    vfs.mxPathname = 512;
    vfs.zName = "fieldsync-sim-memory";
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = LastError;
    sqlite3_vfs_register(&vfs, /*makeDflt=*/1);
  });
}

Files Snapshot(const std::string& prefix) {
  std::lock_guard<std::mutex> l(S().mu);
  return SnapshotLocked(prefix);
}

void Kill(const std::string& prefix) {
  std::lock_guard<std::mutex> l(S().mu);
  S().dead.push_back(prefix);
}

void Restore(const std::string& prefix, const Files& files) {
  std::lock_guard<std::mutex> l(S().mu);
  auto& dead = S().dead;
  dead.erase(std::remove_if(dead.begin(), dead.end(),
                            [&](const std::string& d) { return Under(d, prefix); }),
             dead.end());
  auto& all = S().files;
  for (auto it = all.lower_bound(prefix); it != all.end() && Under(it->first, prefix);) {
    it = files.count(it->first) > 0 ? std::next(it) : all.erase(it);
  }
  for (const auto& [path, data] : files) {
    auto& f = all[path];
    if (!f) f = std::make_shared<MemFile>();
    f->data.Assign(data);
  }
}

void RemoveAll(const std::string& prefix) { Restore(prefix, {}); }

uint64_t Bytes(const std::string& prefix) {
  std::lock_guard<std::mutex> l(S().mu);
  uint64_t n = 0;
  for (const auto& [path, f] : S().files) {
    if (Under(path, prefix)) n += f->data.size();
  }
  return n;
}

int OpenHandles(const std::string& prefix) {
  std::lock_guard<std::mutex> l(S().mu);
  int n = 0;
  for (const auto& [path, f] : S().files) {
    if (Under(path, prefix)) n += f->open;
  }
  return n;
}

void CrashAfterWrites(const std::string& prefix, int n) {
  std::lock_guard<std::mutex> l(S().mu);
  S().crashes[prefix] = State::Armed{n, std::nullopt};
}

std::optional<Files> TakeCrash(const std::string& prefix) {
  std::lock_guard<std::mutex> l(S().mu);
  auto it = S().crashes.find(prefix);
  if (it == S().crashes.end()) return std::nullopt;
  std::optional<Files> out = std::move(it->second.files);
  S().crashes.erase(it);
  return out;
}

}  // namespace fieldsync::sim::memvfs
