// Whether a `fieldnode daemon` runs on a data directory (the console's Sync
// page says so): the daemon holds a shared lock (flock) on DIR/daemon.lock
// for as long as it runs (docs/FORMATS.md, "Node files"); the lock goes with
// the process, however it ends, so a daemon that was killed leaves no
// stale mark.
#ifndef FIELDSYNC_NODE_DAEMON_MARK_H_
#define FIELDSYNC_NODE_DAEMON_MARK_H_

#include <string>

namespace fieldsync::node {

// Held by the daemon for its run; nothing if the file cannot be made (the
// daemon syncs all the same, unseen by the console).
class DaemonMark {
 public:
  explicit DaemonMark(const std::string& data_dir);
  ~DaemonMark();
  DaemonMark(const DaemonMark&) = delete;
  DaemonMark& operator=(const DaemonMark&) = delete;

 private:
  int fd_ = -1;
};

// True if a process holds DIR/daemon.lock (a daemon runs).
bool DaemonRunning(const std::string& data_dir);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_DAEMON_MARK_H_
