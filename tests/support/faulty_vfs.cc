#include "support/faulty_vfs.h"

#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace fieldsync::testing {

namespace {

constexpr char kVfsName[] = "fieldsync-faulty";

// The VFS this one wraps (the default VFS when registration happened).
sqlite3_vfs* g_real = nullptr;

// A file opened through the faulty VFS: our header, then the real VFS's file
// object in the same allocation (SQLite allocates szOsFile bytes for us).
struct FaultyFile {
  sqlite3_file base;   // base.pMethods: one of kMethods[]
  sqlite3_file* real;  // the wrapped file, right after this struct
  const char* name;    // for messages; owned by SQLite, valid until xClose
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FaultyFile*>(f)->real; }
const char* Name(sqlite3_file* f) {
  const char* n = reinterpret_cast<FaultyFile*>(f)->name;
  return n ? n : "(temp)";
}

// --- io methods --------------------------------------------------------------

int FClose(sqlite3_file* f) {
  sqlite3_file* r = Real(f);
  const int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
  f->pMethods = nullptr;
  return rc;
}

int FRead(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xRead(r, buf, amt, off);
}

int FWrite(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  switch (FaultInjector::Get().OnMutatingOp("xWrite", Name(f))) {
    case FaultInjector::Fate::kFail:
      return SQLITE_IOERR_WRITE;
    case FaultInjector::Fate::kDrop:
      return SQLITE_OK;
    case FaultInjector::Fate::kPass:
      break;
  }
  sqlite3_file* r = Real(f);
  return r->pMethods->xWrite(r, buf, amt, off);
}

int FTruncate(sqlite3_file* f, sqlite3_int64 size) {
  switch (FaultInjector::Get().OnMutatingOp("xTruncate", Name(f))) {
    case FaultInjector::Fate::kFail:
      return SQLITE_IOERR_TRUNCATE;
    case FaultInjector::Fate::kDrop:
      return SQLITE_OK;
    case FaultInjector::Fate::kPass:
      break;
  }
  sqlite3_file* r = Real(f);
  return r->pMethods->xTruncate(r, size);
}

int FSync(sqlite3_file* f, int flags) {
  switch (FaultInjector::Get().OnMutatingOp("xSync", Name(f))) {
    case FaultInjector::Fate::kFail:
      return SQLITE_IOERR_FSYNC;
    case FaultInjector::Fate::kDrop:
      return SQLITE_OK;
    case FaultInjector::Fate::kPass:
      break;
  }
  sqlite3_file* r = Real(f);
  return r->pMethods->xSync(r, flags);
}

int FFileSize(sqlite3_file* f, sqlite3_int64* size) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xFileSize(r, size);
}
int FLock(sqlite3_file* f, int level) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xLock(r, level);
}
int FUnlock(sqlite3_file* f, int level) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xUnlock(r, level);
}
int FCheckReservedLock(sqlite3_file* f, int* out) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xCheckReservedLock(r, out);
}
int FFileControl(sqlite3_file* f, int op, void* arg) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xFileControl(r, op, arg);
}
int FSectorSize(sqlite3_file* f) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xSectorSize(r);
}
int FDeviceCharacteristics(sqlite3_file* f) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xDeviceCharacteristics(r);
}
// The WAL index lives in shared memory: forwarded unchanged (not durable).
int FShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xShmMap(r, region, size, extend, out);
}
int FShmLock(sqlite3_file* f, int offset, int n, int flags) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xShmLock(r, offset, n, flags);
}
void FShmBarrier(sqlite3_file* f) {
  sqlite3_file* r = Real(f);
  r->pMethods->xShmBarrier(r);
}
int FShmUnmap(sqlite3_file* f, int delete_flag) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xShmUnmap(r, delete_flag);
}
// Memory-mapped reads of the database (mmap_size > 0). Writes still go
// through xWrite, so they are counted.
int FFetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xFetch(r, off, amt, out);
}
int FUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  sqlite3_file* r = Real(f);
  return r->pMethods->xUnfetch(r, off, p);
}

constexpr sqlite3_io_methods MakeMethods(int version) {
  return sqlite3_io_methods{
      version,
      FClose,
      FRead,
      FWrite,
      FTruncate,
      FSync,
      FFileSize,
      FLock,
      FUnlock,
      FCheckReservedLock,
      FFileControl,
      FSectorSize,
      FDeviceCharacteristics,
      version >= 2 ? FShmMap : nullptr,
      version >= 2 ? FShmLock : nullptr,
      version >= 2 ? FShmBarrier : nullptr,
      version >= 2 ? FShmUnmap : nullptr,
      version >= 3 ? FFetch : nullptr,
      version >= 3 ? FUnfetch : nullptr,
  };
}

// One table per io-methods version, so that a wrapped file offers exactly
// what the underlying one does (SQLite checks iVersion before using xShm*
// and xFetch).
const sqlite3_io_methods kMethods[3] = {MakeMethods(1), MakeMethods(2), MakeMethods(3)};

// --- vfs methods -------------------------------------------------------------

int VOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultyFile*>(f);
  ff->base.pMethods = nullptr;
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  ff->name = name;
  std::memset(ff->real, 0, static_cast<size_t>(g_real->szOsFile));
  const int rc = g_real->xOpen(g_real, name, ff->real, flags, out_flags);
  // SQLite calls xClose whenever pMethods is set after xOpen, even if the
  // open failed: mirror the real file's pMethods, success or not.
  if (ff->real->pMethods == nullptr) return rc;
  int version = ff->real->pMethods->iVersion;
  if (version < 1) version = 1;
  if (version > 3) version = 3;
  ff->base.pMethods = &kMethods[version - 1];
  return rc;
}

int VDelete(sqlite3_vfs*, const char* name, int sync_dir) {
  if (FaultInjector::Get().OnDelete(name) == FaultInjector::Fate::kDrop) return SQLITE_OK;
  return g_real->xDelete(g_real, name, sync_dir);
}
int VAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int VFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* VDlOpen(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void VDlError(sqlite3_vfs*, int n, char* msg) { g_real->xDlError(g_real, n, msg); }
void (*VDlSym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return g_real->xDlSym(g_real, h, sym);
}
void VDlClose(sqlite3_vfs*, void* h) { g_real->xDlClose(g_real, h); }
int VRandomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int VSleep(sqlite3_vfs*, int micros) { return g_real->xSleep(g_real, micros); }
int VCurrentTime(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int VGetLastError(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}
int VCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}
int VSetSystemCall(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
  return g_real->xSetSystemCall(g_real, name, p);
}
sqlite3_syscall_ptr VGetSystemCall(sqlite3_vfs*, const char* name) {
  return g_real->xGetSystemCall(g_real, name);
}
const char* VNextSystemCall(sqlite3_vfs*, const char* name) {
  return g_real->xNextSystemCall(g_real, name);
}

sqlite3_vfs g_vfs;

}  // namespace

const std::string& RegisterFaultyVfs() {
  static const std::string* name = [] {
    if (sqlite3_initialize() != SQLITE_OK) throw std::runtime_error("sqlite3_initialize failed");
    g_real = sqlite3_vfs_find(nullptr);
    if (g_real == nullptr) throw std::runtime_error("SQLite has no default VFS");
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = g_real->iVersion < 3 ? g_real->iVersion : 3;
    g_vfs.szOsFile = static_cast<int>(sizeof(FaultyFile)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = kVfsName;
    g_vfs.xOpen = VOpen;
    g_vfs.xDelete = VDelete;
    g_vfs.xAccess = VAccess;
    g_vfs.xFullPathname = VFullPathname;
    g_vfs.xDlOpen = g_real->xDlOpen ? VDlOpen : nullptr;
    g_vfs.xDlError = g_real->xDlError ? VDlError : nullptr;
    g_vfs.xDlSym = g_real->xDlSym ? VDlSym : nullptr;
    g_vfs.xDlClose = g_real->xDlClose ? VDlClose : nullptr;
    g_vfs.xRandomness = VRandomness;
    g_vfs.xSleep = VSleep;
    g_vfs.xCurrentTime = VCurrentTime;
    g_vfs.xGetLastError = VGetLastError;
    if (g_vfs.iVersion >= 2) g_vfs.xCurrentTimeInt64 = VCurrentTimeInt64;
    if (g_vfs.iVersion >= 3) {
      g_vfs.xSetSystemCall = g_real->xSetSystemCall ? VSetSystemCall : nullptr;
      g_vfs.xGetSystemCall = g_real->xGetSystemCall ? VGetSystemCall : nullptr;
      g_vfs.xNextSystemCall = g_real->xNextSystemCall ? VNextSystemCall : nullptr;
    }
    if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0) != SQLITE_OK) {
      throw std::runtime_error("sqlite3_vfs_register failed");
    }
    return new std::string(kVfsName);
  }();
  return *name;
}

// --- controller --------------------------------------------------------------

namespace {
// FIELDSYNC_VFS_TRACE=1 prints every mutating operation to stderr.
bool Trace() {
  static const bool on = [] {
    const char* v = std::getenv("FIELDSYNC_VFS_TRACE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return on;
}
}  // namespace

FaultInjector& FaultInjector::Get() {
  static FaultInjector* injector = new FaultInjector();
  return *injector;
}

void FaultInjector::ArmFailAt(uint64_t n, FaultMode mode) {
  if (n == 0) throw std::invalid_argument("ArmFailAt: n is 1-based");
  std::lock_guard<std::mutex> l(mu_);
  armed_ = true;
  mode_ = mode;
  fail_at_ = n;
  cut_ = false;
  ops_ = 0;
  faulted_ = 0;
  first_fault_.clear();
}

void FaultInjector::CutPowerNow() {
  std::lock_guard<std::mutex> l(mu_);
  armed_ = true;
  mode_ = FaultMode::kPowerCut;
  fail_at_ = 1;
  cut_ = true;
  ops_ = 0;
  faulted_ = 0;
  first_fault_.clear();
}

void FaultInjector::StartCounting() {
  std::lock_guard<std::mutex> l(mu_);
  armed_ = false;
  cut_ = false;
  ops_ = 0;
  faulted_ = 0;
  first_fault_.clear();
}

void FaultInjector::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  armed_ = false;
  cut_ = false;
}

uint64_t FaultInjector::ops_since_arm() const {
  std::lock_guard<std::mutex> l(mu_);
  return ops_;
}

uint64_t FaultInjector::faulted_ops() const {
  std::lock_guard<std::mutex> l(mu_);
  return faulted_;
}

bool FaultInjector::armed() const {
  std::lock_guard<std::mutex> l(mu_);
  return armed_;
}

std::string FaultInjector::first_fault() const {
  std::lock_guard<std::mutex> l(mu_);
  return first_fault_;
}

void FaultInjector::RecordFault(const char* op, const char* file) {
  ++faulted_;
  if (first_fault_.empty()) {
    first_fault_ = std::string(op) + " " + (file ? file : "(unnamed)");
  }
}

FaultInjector::Fate FaultInjector::OnMutatingOp(const char* op, const char* file) {
  std::lock_guard<std::mutex> l(mu_);
  ++ops_;
  Fate fate = Fate::kPass;
  if (armed_ && (cut_ || ops_ >= fail_at_)) {
    RecordFault(op, file);
    fate = mode_ == FaultMode::kError ? Fate::kFail : Fate::kDrop;
    if (mode_ == FaultMode::kPowerCut) cut_ = true;
  }
  if (Trace()) {
    std::fprintf(stderr, "[faulty-vfs] #%llu %s %s%s\n", static_cast<unsigned long long>(ops_), op,
                 file ? file : "(temp)",
                 fate == Fate::kFail   ? " -> FAILED"
                 : fate == Fate::kDrop ? " -> DROPPED"
                                       : "");
  }
  return fate;
}

FaultInjector::Fate FaultInjector::OnDelete(const char* file) {
  std::lock_guard<std::mutex> l(mu_);
  // Only once the power is cut (at op fail_at_, or by CutPowerNow()).
  if (!armed_ || !cut_) return Fate::kPass;
  RecordFault("xDelete", file);
  if (Trace()) std::fprintf(stderr, "[faulty-vfs] xDelete %s -> DROPPED\n", file ? file : "?");
  return Fate::kDrop;
}

}  // namespace fieldsync::testing
