// What a failed schedule did, in more detail than its trail, for the one
// reading it (sim/world.h, TracePass): off unless asked for, and never a
// draw from the schedule's randomness (the same seed gives the same world
// with or without it).
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "sim/world.h"

namespace fieldsync::sim {
namespace {

bool Tracing() { return std::getenv("FIELDSYNC_SIM_TRACE") != nullptr; }

void Dump(const memvfs::Files& files, const std::string& dir, const std::string& prefix) {
  for (const auto& [name, bytes] : files) {
    std::ofstream(dir + "/" + prefix + name.substr(name.rfind('/') + 1), std::ios::binary)
        << bytes;
  }
}

}  // namespace

void World::TracePass(const Laptop& l, const absl::StatusOr<sync::SyncReport>& r) {
  if (Tracing()) {
    if (!r.ok()) {
      absl::StrAppend(&trail_, "[", r.status().ToString().substr(0, 160), "]\n");
    } else {
      absl::StrAppend(
          &trail_, "[push ", r->pushed, "+", r->push_duplicates, " pull ", r->pulled, " installed ",
          r->rows_installed, " cursor ", r->cursor, "/", r->log_head,
          r->own_resent ? absl::StrCat(" resent ", r->own_held_seq, "..", r->own_sent_seq) : "",
          r->hub_went_back ? absl::StrCat(" went back ", r->went_back_from, "->", r->went_back_to)
                           : "",
          " keys +", r->key_records_pushed, "/-", r->key_records_received, "] #", pull_calls_,
          "\n");
    }
  }
  const char* dump = std::getenv("FIELDSYNC_SIM_DUMP");
  if (dump == nullptr || *dump == '\0') return;
  const std::string dir = absl::StrCat(dump, "/", pull_calls_);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  Dump(memvfs::Snapshot(root_ + "hub.db"), dir, "");
  Dump(memvfs::Snapshot(l.dir), dir, l.name + "-");
}

void World::TraceWrite(const Laptop& l) {
  if (!Tracing()) return;
  absl::StrAppend(&trail_, " ", l.name, "-write@", l.clock->NowMillis(), "(",
                  l.replica->device_id().ToString().substr(0, 8), ")");
}

void World::TraceCrash(const Laptop& l) {
  if (Tracing()) absl::StrAppend(&trail_, " crash:", l.name);
}

}  // namespace fieldsync::sim
