#include "store/data_dir.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/json.h"
#include "base/status_macros.h"

namespace fieldsync {
namespace {

// Whether the replica file exists. FAILED_PRECONDITION, in one line, when
// that cannot be known: a directory this user cannot enter.
absl::StatusOr<bool> ReplicaExists(const DataDir& dir) {
  std::error_code ec;
  const bool there = std::filesystem::exists(dir.ReplicaPath(), ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the data directory ", dir.path, ": ", ec.message(), " (run the program as "
        "the user who made it, or fix the directory's permissions); nothing was changed"));
  }
  return there;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Replica>> CreateReplicaIn(const DataDir& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir.path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the data directory ", dir.path, ": ", ec.message()));
  }
  if (::chmod(dir.path.c_str(), 0700) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot restrict the data directory ", dir.path, " to its owner"));
  }
  FS_ASSIGN_OR_RETURN(bool exists, ReplicaExists(dir));
  if (exists) {
    return absl::AlreadyExistsError(absl::StrCat(
        "already initialised: ", dir.ReplicaPath(), " exists; use it, or choose another "
        "--data-dir"));
  }
  ReplicaOptions o;
  o.path = dir.ReplicaPath();
  return Replica::Open(o);
}

absl::StatusOr<std::unique_ptr<Replica>> OpenReplicaIn(const DataDir& dir) {
  FS_ASSIGN_OR_RETURN(bool exists, ReplicaExists(dir));
  if (!exists) {
    return absl::FailedPreconditionError(absl::StrCat(
        "nothing initialised in ", dir.path, ": run `", dir.init_command, " --data-dir ",
        dir.path, "` first, or point --data-dir or ", dir.env_var,
        " at the right directory"));
  }
  // An emptied file would open as a new database: a new replica with a new
  // device id, the old one's work and identity silently gone.
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(dir.ReplicaPath(), ec);
  if (!ec && size == 0) {
    return absl::DataLossError(absl::StrCat(
        dir.ReplicaPath(), " is empty (truncated or overwritten): it was not opened and "
        "nothing was changed. Restore it from a backup; to start over instead, move it away "
        "and run `", dir.init_command, " --data-dir ", dir.path, "`"));
  }
  ReplicaOptions o;
  o.path = dir.ReplicaPath();
  return Replica::Open(o);
}


std::string FormatStatus(const DataDir& dir, const ReplicaStats& s, bool json) {
  if (json) {
    Json j;
    j["data_dir"] = dir.path;
    j["device"] = s.device.ToString();
    j["schema_version"] = s.schema_version;
    j["local_commits"] = s.local_seq;
    j["commits_held"] = s.log_commits;
    j["open_conflicts"] = s.open_conflicts;
    Json& rows = j["live_rows"] = Json::object();
    for (const auto& [table, n] : s.live_rows) rows[table] = n;
    return JsonLine(j);
  }
  std::string out = absl::StrFormat(
      "data directory   %s\ndevice           %s\nschema version   %d\n"
      "local commits    %d\ncommits held     %d\nopen conflicts   %d\n",
      dir.path, s.device.ToString(), s.schema_version, s.local_seq, s.log_commits,
      s.open_conflicts);
  for (const auto& [table, n] : s.live_rows) {
    absl::StrAppend(&out, absl::StrFormat("rows: %-10s %d\n", table, n));
  }
  return out;
}

}  // namespace fieldsync
