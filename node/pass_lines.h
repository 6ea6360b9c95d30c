// The lines of a sync pass as keyed messages (base/message.h): each with a
// stable key ("sync.line.…"), its parameters and the English words
// fieldnode sync and the daemon print (sync_lines.h joins them). The
// console says the key in its catalogue's words (messages_sync.js),
// Vietnamese first. Every parameter is Printable: a hub's notice, a reason
// the hub gave or a colleague's words never reach a terminal or a page raw.
#ifndef FIELDSYNC_NODE_PASS_LINES_H_
#define FIELDSYNC_NODE_PASS_LINES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/message.h"
#include "sync/report.h"

namespace fieldsync::node {

struct PassLine {
  std::string key;
  MessageParams params;
  std::string text;  // the English words, without a prefix or a newline
};

// A clock more than two minutes off the hub's ("fieldnode: warning: …").
std::vector<PassLine> SkewLines(const sync::SyncReport& r);
// The hub's notice for the user ("hub: …").
std::vector<PassLine> NoticeLines(const sync::SyncReport& r);
// What the key ring did, what the hub refused (key records, changes set
// aside), withdrawals and re-dating.
std::vector<PassLine> KeyLines(const sync::SyncReport& r);
// Protocol version 3: a hub that went back, relays, the authors' commit
// chains (held commits, evidence, a downgrade).
std::vector<PassLine> HistoryLines(const sync::SyncReport& r);
// A push the hub refused in a pass that pulled (the console's and
// fieldnode sync's words).
std::vector<PassLine> RefusedPushLines(const sync::SyncReport& r);
// The console's summary of a pass: its counts ("synced: …", as
// fieldnode sync's last line), then what was already held, a bootstrap,
// deleted records dropped, each a line.
std::vector<PassLine> SummaryLines(const sync::SyncReport& r, int64_t millis);
// The console's line for a pass that failed (the failure's words) and for
// a pass that found the key agent locked.
PassLine FailureLine(std::string_view why);
PassLine KeysForgottenLine();

// `lines`' words appended to `out`, each after `prefix` and ending in a
// newline.
void AppendLines(const std::vector<PassLine>& lines, const std::string& prefix,
                 std::string* out);

// Every key the functions above give (the console's catalogue holds each
// in Vietnamese and English: ConsoleCatalogueTest).
std::vector<std::string_view> PassLineKeys();

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_PASS_LINES_H_
