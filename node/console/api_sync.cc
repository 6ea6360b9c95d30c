// The Sync page's routes (docs/CONSOLE.md, "The Sync page"): POST /api/sync
// starts one pass in the background (sync_runner.h); GET /api/sync, polled
// by the page while a pass runs, says how far it got, how the last one
// ended and what waits to go. The poll is not the social worker's
// activity: it neither takes the request lock nor holds off the idle lock.
#include <memory>
#include <string>

#include "base/message.h"
#include "node/client.h"
#include "node/console/api.h"
#include "node/daemon_mark.h"
#include "node/ops/status.h"
#include "store/keyring.h"

namespace fieldsync::node::console {

ApiReply Api::SyncStart(std::unique_ptr<ConsoleOffice> o) {
  // A pass signs what it sends (and the office's key records): never
  // locked; nothing is sent.
  if (!o->keys->unlocked()) {
    ApiReply e = ErrorKey(423, "err.sync_locked", "unlock to sync: a sync pass signs what it sends");
    e.body["message"] = MessageJson(Message{"sync.why.signs", {}});
    return e;
  }
  if (!sync_.Start(std::move(o))) {
    ApiReply e = ErrorKey(409, "err.sync_running", "a sync is already running; wait for it to end");
    e.body["message"] = MessageJson(Message{"sync.why.wait", {}});
    return e;
  }
  ApiReply r;
  r.status = 202;
  r.body = sync_.Progress();
  return r;
}

ApiReply Api::SyncState() {
  ApiReply r;
  r.body = sync_.Progress();
  // What waits to go, read without the keys (the replica alone).
  const DataDir& dir = keys_.dir();
  auto replica = OpenReplicaIn(dir);
  if (!replica.ok()) return ErrorReply(replica.status(), false);
  auto hub = LoadHubConfig(dir.path);
  if (!hub.ok()) return ErrorReply(hub.status(), false);
  auto st = ops::ReadNodeStatus(**replica, dir.path, *hub);
  if (!st.ok()) return ErrorReply(st.status(), false);
  auto keys = KeyRing::Open(replica->get(), hub->province);
  if (!keys.ok()) return ErrorReply(keys.status(), false);
  auto records = (*keys)->UnpushedRecords(10000);
  r.body["hub"] = hub->address;
  r.body["unlocked"] = keys_.Until().has_value();
  r.body["last_sync_millis"] = st->last_sync_millis;
  r.body["commits_waiting"] = st->commits_waiting;
  r.body["key_records_waiting"] = records.ok() ? records->size() : 0;
  r.body["set_aside"] = st->set_aside;
  r.body["daemon"] = DaemonRunning(dir.path);
  return r;
}

}  // namespace fieldsync::node::console
