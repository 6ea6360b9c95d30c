// Every tunable of fieldsync in one commented place: sync-core's, then the
// node's and the hub's (both may include base). Changing one of these
// changes behaviour, not formats; the limits of formats and of the protocol
// stay beside them (sync/protocol.h, crypto/*.h).
#ifndef FIELDSYNC_BASE_TUNING_H_
#define FIELDSYNC_BASE_TUNING_H_

#include <cstddef>
#include <cstdint>

namespace fieldsync::tuning {

// A remote HLC more than this far ahead of the local wall clock is refused.
// Five minutes tolerates unsynchronised laptop clocks and rejects wrong dates.
inline constexpr int64_t kDefaultMaxClockSkewMillis = 5 * 60 * 1000;

// The largest text or bytes value of one field (a long interview note fits).
inline constexpr size_t kMaxValueBytes = 256 * 1024;

// Rows whose clear values from before schema version 4 one sync pass
// rewrites sealed (store/legacy_seal.h): the rest at the next passes, so a
// pass over a bad link stays small; and rows rewritten per commit.
inline constexpr size_t kLegacySealRowsPerPass = 500;
inline constexpr size_t kLegacySealRowsPerCommit = 100;

// Key records the hub refused (set aside: store/keyring.h, MarkRefused)
// that one sync pass sends again, approvals and removals first, then those
// refused longest ago: a hub fixed since takes them, and one that still
// refuses costs a pass at most this many single-record pushes.
inline constexpr size_t kKeyRecordsResentPerPass = 16;

// This laptop's key records one sync pass sends again when a hub says it
// holds fewer than it acknowledged (KeyRing::ResendOwn; docs/PROTOCOL.md,
// "Key records lost alone"), after every record never acknowledged: the
// rest at the next passes (each at most 512 bytes: 32 KB a pass).
inline constexpr size_t kOwnKeyRecordsSentAgainPerPass = 64;

// The most row changes in one commit, and field writes in one row change.
inline constexpr size_t kMaxRowChangesPerCommit = 10000;
inline constexpr size_t kMaxFieldsPerRowChange = 256;
// The most versions one field write may resolve (the field's open conflicts).
inline constexpr size_t kMaxResolvesPerField = 1024;
// The largest encoded commit accepted by the decoder.
inline constexpr size_t kMaxEncodedCommitBytes = 64 * 1024 * 1024;

// Partial-row UPDATE statements kept prepared per table (one per set of
// changed columns); further combinations are prepared for the call only.
inline constexpr size_t kMaxCachedUpdateStatements = 64;

// SQLite: how long a writer waits for another connection's lock.
inline constexpr int kBusyTimeoutMillis = 5000;
// SQLite page cache per connection, in KiB (negative cache_size).
inline constexpr int kCacheSizeKiB = 64 * 1024;

// Bytes of commits a push call carries (sync/pusher.h), well under the
// 16 MiB message limit; and commits read for one call.
inline constexpr size_t kPushBytesPerCall = 4 << 20;
inline constexpr size_t kPushCommitsPerCall = 500;

// The byte budget of a push call and of a pull's messages (sync/budget.h,
// docs/PROTOCOL.md "Message budgets"): where it starts, its floor (a call or
// a message still carries one commit or one row, whatever its size), its
// cap, and the successes in a row that double it (a failure that applied
// nothing halves it). A pull the link cut after N bytes of messages arrived
// sizes its next messages to at most N / kCallBudgetCutShare: the message a
// cut loses is then at most that share of what a connection carries. A third
// (session 28; an eighth before) fills the key records' messages from the
// first. Rows still go one a message over a link cut every 20 KB, and that is
// best there: two a message (a cut that raised the budget) put six rows in a
// connection, not seven (docs/PERFORMANCE.md, "Session 28", "Session 29").
inline constexpr size_t kCallBudgetStartBytes = 256 << 10;
inline constexpr size_t kCallBudgetMinBytes = 1 << 10;
inline constexpr size_t kCallBudgetMaxBytes = 4 << 20;
inline constexpr int64_t kCallBudgetGrowAfter = 2;
inline constexpr int64_t kCallBudgetCutShare = 3;

// The sync daemon (sync/schedule.h): the first wait after a retryable
// failure (doubling up to --max-backoff, with jitter), how often its wait
// looks for a stop, and how often for an urgent commit written meanwhile.
inline constexpr int64_t kSyncBackoffBaseMillis = 2000;
// Its defaults between passes that succeeded, and for the longest backoff
// (the API's; fieldnode daemon's --every and --max-backoff say 5m, 10m).
inline constexpr int64_t kSyncEveryMillis = 5 * 60'000;
inline constexpr int64_t kSyncMaxBackoffMillis = 10 * 60'000;
inline constexpr int64_t kDaemonStopPollMillis = 100;
inline constexpr int64_t kDaemonUrgentPollMillis = 1000;
// A daemon pass that moved nothing and has nothing new to say is not
// logged, but for one line this often (node/sync_lines.h, PassLog).
inline constexpr int64_t kDaemonQuietLogMillis = 60 * 60 * 1000;

// Protocol version 3: a laptop signs a statement of what it has seen at the
// end of a sync pass at most this often (and so at least daily while it
// syncs); colleagues warn when one is a week old.
inline constexpr int64_t kStatementIntervalMillis = 60 * 60 * 1000;
// A laptop signs a checkpoint (the root of its rows, a statement of kind 2;
// docs/PROTOCOL.md, "Checkpoints") once the hub adopted none of its for this
// long, when a pass ends caught up with nothing of its own unpushed or
// held; one the hub did not adopt (the office's records changed meanwhile)
// is tried again after the retry time.
inline constexpr int64_t kCheckpointIntervalMillis = 24LL * 60 * 60 * 1000;
// ... or sooner, once the hub's log moved this many positions past the last
// one adopted (a new laptop then pulls at most about this many commits after
// the checkpoint's pages).
inline constexpr int64_t kCheckpointPositions = 10000;
inline constexpr int64_t kCheckpointRetryMillis = 60 * 60 * 1000;

// ---------------------------------------------------------------------------
// The node (node/)

// The deadline of one gRPC call to the hub, and of a pull (a bootstrap of a
// whole province over a slow link takes long).
inline constexpr int64_t kCallTimeoutMillis = 30'000;
inline constexpr int64_t kPullTimeoutMillis = 30 * 60'000;
// Keepalive pings on the node's channel (node/grpc_transport.cc), during
// calls and between them: one after this long since the last, and one
// unanswered this long closes the connection. A link gone silent (packets
// lost, no reset) so fails in at most the sum, 25 s, rather than at the
// pull's deadline; the timeout leaves a slow link's queue time to pass the
// ping. The hub accepts pings this often (kHubMinPingIntervalMillis).
inline constexpr int64_t kNodeKeepaliveTimeMillis = 10'000;
inline constexpr int64_t kNodeKeepaliveTimeoutMillis = 15'000;
// How long the node's channel waits for a connection and its TLS handshake
// to complete (gRPC's connect timeout, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
// whose default it is): a handshake on a slow link needs it.
inline constexpr int64_t kNodeConnectTimeoutMillis = 20'000;

// The key agent (node/agent.h). A request must arrive whole, and its answer
// be taken, within kAgentRequestMillis of its first byte (reads and answer
// together); a client waits kAgentClientMillis for an answer (beyond a
// silent peer's request time). The most connections it holds, and its
// socket's listen backlog (each pass over the connections takes every
// connection waiting, up to twice as many: a flood of connections must not
// stop the agent from answering those it has).
inline constexpr int kAgentRequestMillis = 1000;
inline constexpr int kAgentClientMillis = 3000;
inline constexpr size_t kAgentMaxConnections = 64;
inline constexpr int kAgentListenBacklog = 16;
// The agent drops the search index of case names it holds
// (node/agent_index.h) after this long without a search or an update; the
// next search builds it again.
inline constexpr int64_t kAgentIndexIdleMillis = 15 * 60 * 1000;

// ---------------------------------------------------------------------------
// The hub (hub/)

// Pulls served at once; one more is told UNAVAILABLE (the node retries).
inline constexpr int kHubMaxConcurrentPulls = 64;

// A pull's messages: the bytes of rows, commits and key records in one
// (well under the 16 MiB message limit; less if the node sent its budget,
// PullRequest.max_message_bytes), key records in one (fewer if the node's
// max_batch says so), collected rows to drop in one (a few hundred KB; and,
// since session 25, no more than the message's bytes allow: hub/pull_plan.cc).
inline constexpr size_t kPullChunkBytes = 4 << 20;
inline constexpr size_t kPullKeyRecordsPerMessage = 5000;
inline constexpr size_t kPullPurgedRowsPerMessage = 20000;

// The server: keepalive pings on an idle link and how long one may go
// unanswered (idle or dead links are noticed rather than held forever), and
// how long a stopping hub lets calls under way finish.
inline constexpr int kHubKeepaliveTimeMillis = 60'000;
inline constexpr int kHubKeepaliveTimeoutMillis = 20'000;
// The least time between a node's pings that the hub accepts while it sends
// nothing on the connection (during a push, or between calls: pings
// without calls are allowed); more often counts as a strike, and the third
// closes the connection ("too_many_pings"). Well under
// kNodeKeepaliveTimeMillis.
inline constexpr int kHubMinPingIntervalMillis = 5'000;
inline constexpr int64_t kHubShutdownGraceMillis = 5'000;
// Once no call is under way, how long a stopping hub keeps its connections
// so that the laptops holding them hear it is going away (HTTP/2 GOAWAY) and
// connect afresh next time instead of writing into a closed socket.
inline constexpr int64_t kHubShutdownGoawayMillis = 250;

// A laptop's hello that failed UNAVAILABLE within this long (a connection
// found dead at its first write) is tried again once on a new connection.
inline constexpr int64_t kStaleConnectionRetryMillis = 2000;

// A laptop's "today" is its own clock's date (node/ops/office.cc): a date
// a person types is refused as in the future only past the hub's date at
// the last sync, when that is at most this far ahead of the laptop's clock
// (a warning says so). The hub's time never dates what is written.
inline constexpr int64_t kHubDateLeadMaxMillis = 31LL * 24 * 3600 * 1000;

// What a pull takes of the hub's clock being ahead of a laptop's (clock/
// hlc.h ClockLead): pulled commits are judged against the laptop's clock
// plus at most this much. A hub's word moves that limit no further; a
// laptop behind by more is told to set its date.
inline constexpr int64_t kPullLeadTakenMaxMillis = 31LL * 24 * 3600 * 1000;

// The longest an enrolment token may live: a token is a key to an office
// until it is used, so it lives days, not years.
inline constexpr int64_t kMaxEnrolTokenDays = 30;

// A laptop's checkpoint the hub failed to adopt is not tried again within
// this long of that laptop's last attempt (adopting one scans the office's
// rows: hub/engine.cc, hub/checkpoints.h).
inline constexpr int64_t kCheckpointFailedRetryMillis = 60 * 1000;

// A colleague's signed statement older than this is a warning ("silent for
// a week": sync/statement_keeper.cc).
inline constexpr int64_t kStaleStatementMillis = 7LL * 24 * 3600 * 1000;

// The most owner moves a row's witnessed history is followed through; a row
// whose owner moved more often is not taken on its witness
// (sync/row_witness.cc).
inline constexpr int kMaxRowOwnerHistory = 64;

// `fieldhub backup` copies hub.db in one step; while a writer holds a lock
// the copy needs, it waits this long and tries again, at most
// kHubBackupBusyTries times (hub/commands/hub_file.cc).
inline constexpr int kHubBackupBusyWaitMillis = 50;
inline constexpr int kHubBackupBusyTries = 100;

}  // namespace fieldsync::tuning

#endif  // FIELDSYNC_BASE_TUNING_H_
