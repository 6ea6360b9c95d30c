#include "support/pg_cluster.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <filesystem>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "hub/pg/connection.h"

namespace fieldsync::testing {
namespace {

// Set by tests/CMakeLists.txt.
constexpr char kScript[] = FIELDSYNC_POSTGRES_SH;

std::string Quoted(const std::string& s) { return absl::StrCat("'", s, "'"); }

absl::StatusOr<std::string> StartOwn() {
  const std::string cmd = absl::StrCat("bash ", Quoted(kScript), " start --watch ", getpid(),
                                       " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return absl::InternalError("could not run tools/lib/postgres.sh");
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = pclose(p);
  std::string line(absl::StripTrailingAsciiWhitespace(out));
  if (rc != 0 || line.empty() || line[0] != '/') {
    return absl::UnavailableError(absl::StrCat("no private PostgreSQL cluster: ", line));
  }
  return line;
}

std::unique_ptr<PgCluster>& Instance() {
  static auto* p = new std::unique_ptr<PgCluster>();
  return *p;
}

// The cluster started here is stopped at exit (normal or by exit()).
void StopAtExit() { Instance().reset(); }

}  // namespace

absl::StatusOr<PgCluster*> PgCluster::Shared() {
  static absl::StatusOr<PgCluster*> shared = []() -> absl::StatusOr<PgCluster*> {
    const char* file = std::getenv("FIELDSYNC_PG_CLUSTER_FILE");
    if (file != nullptr) {
      std::ifstream in(file);
      std::string dir;
      if (std::getline(in, dir) && !dir.empty() && std::filesystem::exists(dir)) {
        Instance().reset(new PgCluster(dir, /*owned=*/false));
        return Instance().get();
      }
    }
    absl::StatusOr<std::string> dir = StartOwn();
    if (!dir.ok()) return dir.status();
    Instance().reset(new PgCluster(*dir, /*owned=*/true));
    std::atexit(StopAtExit);
    return Instance().get();
  }();
  return shared;
}

PgCluster::~PgCluster() {
  if (!owned_) return;
  const std::string cmd = absl::StrCat("bash ", Quoted(kScript), " stop ", Quoted(dir_),
                                       " >/dev/null 2>&1");
  (void)std::system(cmd.c_str());
}

absl::StatusOr<std::string> PgCluster::CreateDatabase() {
  static std::atomic<int> counter{0};
  const std::string name = absl::StrCat("t", getpid(), "_", counter++);
  absl::StatusOr<std::unique_ptr<hub::pg::Connection>> admin =
      hub::pg::Connection::Open(socket_dir(), "fieldsync");
  if (!admin.ok()) return admin.status();
  // A name of digits and letters only: nothing to quote. The collation of
  // a real server's database (ICU, en-US: "b" before "HN"), not the C
  // order: whatever the store lists in SQLite's byte order must say so in
  // its SQL (COLLATE "C"), not rely on the cluster's locale. FILE_COPY:
  // the template's files copied (a checkpoint, free without fsync), not
  // written again through the WAL block by block (PostgreSQL 15's default),
  // for each of the suite's some 340 PostgreSQL tests.
  absl::StatusOr<std::string> r = (*admin)->Command(
      absl::StrCat("CREATE DATABASE ", name, " TEMPLATE template0 STRATEGY FILE_COPY "
                   "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"));
  if (!r.ok()) return r.status();
  return absl::StrCat("postgresql:///", name, "?host=", socket_dir());
}

void PgCluster::DropDatabase(const std::string& uri) {
  const size_t from = std::string("postgresql:///").size();
  const std::string name = uri.substr(from, uri.find('?') - from);
  absl::StatusOr<std::unique_ptr<hub::pg::Connection>> admin =
      hub::pg::Connection::Open(socket_dir(), "fieldsync");
  if (admin.ok()) {
    (void)(*admin)->Command(absl::StrCat("DROP DATABASE IF EXISTS ", name, " WITH (FORCE)"));
  }
}

absl::Status PgDatabase::Create() {
  absl::StatusOr<PgCluster*> c = PgCluster::Shared();
  if (!c.ok()) return c.status();
  absl::StatusOr<std::string> uri = (*c)->CreateDatabase();
  if (!uri.ok()) return uri.status();
  uri_ = *uri;
  return absl::OkStatus();
}

std::unique_ptr<hub::pg::Connection> PgDatabase::Connect() const {
  auto c = hub::pg::Connection::Open(uri_);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

PgDatabase::~PgDatabase() {
  if (uri_.empty()) return;
  absl::StatusOr<PgCluster*> c = PgCluster::Shared();
  if (c.ok()) (*c)->DropDatabase(uri_);
}

}  // namespace fieldsync::testing
