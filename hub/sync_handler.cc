#include "hub/sync_handler.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/strings.h"
#include "change/commit_codec.h"
#include "crypto/hash.h"
#include "crypto/enrolment_proof.h"
#include "schema/schema.h"
#include "sync/compact_header.h"

namespace fieldsync::hub {
namespace {

// The lowest schema version that can take everything in `c` (rows,
// their conflict records, commits), 0 when any can.
int VersionToTake(const Schema& schema, const PullChunk& c) {
  int need = 0;
  for (const RowSnapshot& r : c.rows) {
    for (const FieldState& f : r.fields) {
      need = std::max(need, schema.VersionToTake(r.table, f.column, f.value));
    }
    for (const ConflictRecord& k : r.conflicts) {
      need = std::max(need, schema.VersionToTake(k.table, k.column, k.value));
    }
  }
  for (const PulledEntry& e : c.commits) {
    absl::StatusOr<Commit> commit = DecodeCommit(e.canonical);
    if (!commit.ok()) continue;  // the hub stored it; the node will say it is malformed
    for (const RowChange& rc : commit->changes) {
      for (const FieldWrite& f : rc.fields) {
        need = std::max(need, schema.VersionToTake(rc.table, f.column, f.value));
      }
    }
  }
  return need;
}

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

void SyncHandler::Log(const std::string& line, bool refusal) {
  if (log_) log_(line, refusal);
}

absl::Status SyncHandler::Fail(std::string_view call, const absl::Status& s,
                               const NodeInfo* node) {
  // A refused credential: the line names the device and says why (the
  // laptop was told the words of a wrong secret); one kind per device and
  // peer for the refusal limiter (hub/refusal_log.h).
  std::string who = node ? absl::StrCat(" node=", node->device.ToString()) : std::string();
  std::string why;
  if (std::optional<std::string> w = CredentialRefusalWhy(s)) {
    const size_t tab = w->find('\t');
    if (tab != std::string::npos) {
      who = absl::StrCat(" node=", w->substr(0, tab));
      why = absl::StrCat(" (", w->substr(tab + 1), ")");
    }
  }
  Log(absl::StrCat(AV(call), " refused", who, ": ", absl::StatusCodeToString(s.code()), ": ",
                   s.message(), why),
      /*refusal=*/true);
  return s;
}

CredentialCheck SyncHandler::CheckOf(const sync::Credential& cred) const {
  if (!cred.proof.empty() || !cred.link_proof.empty()) {
    CredentialCheck check =
        CredentialCheck::Proof(store_->hub_id(), cred.device, cred.proof, proof_certificates_);
    if (!cred.link_proof.empty()) check.WithLinkProof(cred.link_proof, cred.link_digest);
    return check;
  }
  return CredentialCheck::Secret(cred.secret);
}

std::string SyncHandler::Peer() const {
  std::string p = peer_ ? peer_() : std::string();
  return p.empty() ? std::string("in process") : p;
}

SyncHandler::~SyncHandler() {
  // The hub stops: the alarms held back by the hub-wide limit are
  // summarised now rather than lost with the process.
  (void)alarms_.Flush([this](const AlarmLimiter::Summary& s) { return AuditHeldAlarms(s); });
}

absl::Status SyncHandler::AuditHeldAlarms(const AlarmLimiter::Summary& s) {
  std::string detail = absl::StrCat(
      "two-holders alarms held back by the hub-wide limit of ", kAlarmEntriesPerWindow,
      " entries an hour: ", s.alarms, " alarms of ", s.devices, " devices since ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", s.since, absl::UTCTimeZone()),
      ", counted, not audited one by one; the first held back: ", absl::StrJoin(s.first, ", "));
  if (s.devices > static_cast<int64_t>(s.first.size())) {
    absl::StrAppend(&detail, " and ", s.devices - static_cast<int64_t>(s.first.size()), " more");
  }
  absl::StrAppend(&detail,
                  "; each device's count is written in its own entry at its first alarm the limit "
                  "lets through, and the hub's log names each device (its refusal lines)");
  absl::Status written = store_->AuditLinkKeyAlarm(kAlarmSummaryActor, detail);
  if (!written.ok()) {
    Log(absl::StrCat("hello: the summary of ", s.alarms, " two-holders alarms of ", s.devices,
                     " devices could not be audited: ", written.message()),
        /*refusal=*/true);
  }
  return written;
}

void SyncHandler::AuditAlarm(const sync::Credential& cred, const std::string& link_pk,
                             std::string_view offered_link_key) {
  const std::string device = cred.device.ToString();
  // Nothing of the device changes: the call is refused, and the laptop
  // that proves with the stored key syncs on. Closing the device (session
  // 25) let whoever holds a copy of the store close every keyed device.
  auto write = [&](const AlarmLimiter::DeviceEntry& e) -> absl::Status {
    std::string detail = absl::StrCat(
        "two-holders alarm for device ", device, ": a call from ", Peer(),
        " carried a version 1 proof that verifies against its secret hash with a link proof that "
        "does not verify against its link key ",
        crypto::HashHex(link_pk));
    if (!offered_link_key.empty() && offered_link_key != link_pk) {
      absl::StrAppend(&detail, " (the call offered link key ", crypto::HashHex(offered_link_key),
                      ")");
    }
    absl::StrAppend(&detail,
                    "; the call was refused and the device left as it was (someone else holds a "
                    "copy of the hub's store or the device's secret, or registered that key)");
    if (e.counted > 0 && e.audited_before) {
      absl::StrAppend(&detail, "; ", e.counted,
                      " more alarms for this device since its previous entry, counted, not "
                      "audited one by one");
    } else if (e.counted > 0) {
      absl::StrAppend(&detail, "; ", e.counted,
                      " earlier alarms for this device, held back by the hub-wide limit or not "
                      "audited for a failed write, counted, not audited one by one");
    }
    absl::Status written = store_->AuditLinkKeyAlarm(device, detail);
    if (!written.ok()) {
      Log(absl::StrCat("hello node=", device, ": a two-holders alarm could not be audited: ",
                       written.message(), " (counted into its next entry)"),
          /*refusal=*/true);
    }
    return written;
  };
  (void)alarms_.Raise(device, absl::FromUnixMillis(clock_->NowMillis()), write,
                      [this](const AlarmLimiter::Summary& s) { return AuditHeldAlarms(s); });
}

absl::StatusOr<NodeInfo> SyncHandler::Authenticate(const sync::Credential& cred,
                                                   std::string_view offered_link_key) {
  if (cred.proof.empty() && cred.link_proof.empty() && cred.secret.empty()) {
    return absl::UnauthenticatedError(
        "the call carries no node credential: enrol this node first (fieldnode enroll "
        "--token TOKEN, with a token from the hub administrator)");
  }
  const CredentialCheck check = CheckOf(cred);
  absl::StatusOr<NodeInfo> node = store_->Authenticate(cred.device, check);
  // `serve --refuse-bearer`: a bearer is refused as a wrong secret, after
  // the store's check (the same time taken, an unknown device the same).
  if (node.ok() && check.is_secret() && refuse_bearer_) {
    node = CredentialRefused("a bearer, which this hub refuses (serve --refuse-bearer)");
  }
  if (node.ok()) return node;
  if (std::optional<std::string> key = TwoHoldersAlarmKey(node.status())) {
    AuditAlarm(cred, *key, offered_link_key);
  }
  // The device the refused credential named, for the refusal line.
  if (std::optional<std::string> why = CredentialRefusalWhy(node.status())) {
    absl::Status s = node.status();
    s.SetPayload(AV(kCredentialRefusalWhy),
                 absl::Cord(absl::StrCat(cred.device.ToString(), "\t", *why)));
    return s;
  }
  return node;
}

bool SyncHandler::RegisterLinkKey(const sync::HelloRequest& req, const NodeInfo& node) {
  if (!req.credential || req.link_public_key.empty()) return false;
  // The key is taken only with a proof of it over a certificate this hub
  // serves, in a call the device's credential authenticated: a key the
  // device does not hold, or a proof replayed from another connection,
  // registers nothing. A device with a link key authenticated with it
  // alone, so that a key that verifies here is the one the hub holds.
  if (!CheckOf(*req.credential).LinkProofVerifies(req.link_public_key)) return false;
  const std::string device = node.device.ToString();
  absl::StatusOr<bool> s = store_->RegisterLinkKey(
      node.device, req.link_public_key, device,
      absl::StrCat("link key ", crypto::HashHex(req.link_public_key), " of device ", device,
                   " \"", node.name, "\" registered from ", Peer()));
  if (!s.ok()) {
    Log(absl::StrCat("hello node=", device,
                     ": its link key was not stored (it is sent again at its next pass): ",
                     s.status().message()));
    return false;
  }
  return true;
}

absl::StatusOr<sync::HelloReply> SyncHandler::Hello(const sync::HelloRequest& req) {
  if (absl::Status s = sync::CheckProtocol(req.protocol_version, "node"); !s.ok()) {
    return Fail("hello", s);
  }
  sync::HelloReply resp;
  resp.protocol_version = sync::AgreedVersion(req.protocol_version, req.max_protocol_version);
  // Version 3: this hub reads compact headers in pushes and sends them to
  // a pull that asks (sync/compact_header.h).
  if (resp.protocol_version >= 3) resp.compact_headers = sync::kCompactHeaderForm;
  resp.hub_id = store_->hub_id();
  const int64_t now = clock_->NowMillis();
  resp.hub_time_millis = now;
  absl::StatusOr<int64_t> head = store_->LogHead();
  if (!head.ok()) return Fail("hello", head.status());
  resp.log_head = *head;
  resp.enrol_challenge = challenges_.Issue(now);
  // A credential is optional here; if one is sent it must be valid.
  if (req.credential.has_value()) {
    absl::StatusOr<NodeInfo> node = Authenticate(*req.credential, req.link_public_key);
    if (!node.ok()) return Fail("hello", node.status());
    resp.province = node->province;
    resp.link_key = RegisterLinkKey(req, *node);
    // Clamped: a node's clock value is not trusted to stay in range.
    constexpr int64_t kYearMillis = int64_t{366} * 24 * 3600 * 1000;
    const int64_t t = std::clamp<int64_t>(req.node_time_millis, now - 100 * kYearMillis,
                                          now + 100 * kYearMillis);
    const std::optional<int64_t> skew =
        req.node_time_millis != 0 ? std::optional<int64_t>(t - now) : std::nullopt;
    store_->RecordCall(node->device, req.protocol_version, skew, std::nullopt).IgnoreError();
    // Version 3: what this hub holds of the node's own commits (a hub put
    // back from a backup holds fewer than the node sent).
    if (resp.protocol_version >= 3) {
      absl::StatusOr<sync::OwnCommitsHeld> own = store_->OwnCommitsHeld(node->device);
      if (!own.ok()) return Fail("hello", own.status());
      resp.own = *own;
    }
  }
  return resp;
}

absl::StatusOr<sync::EnrollReply> SyncHandler::Enroll(const sync::EnrollRequest& req) {
  if (absl::Status s = sync::CheckProtocol(req.protocol_version, "node"); !s.ok()) {
    return Fail("enroll", s);
  }
  if (req.token.size() > sync::kMaxEnrolTextBytes ||
      req.device_name.size() > sync::kMaxEnrolTextBytes) {
    return Fail("enroll", absl::InvalidArgumentError(
                              "token or device name over 200 bytes: not an enrolment"));
  }
  crypto::DevicePublic keys;
  keys.device = req.device;
  keys.sign_pk = req.sign_public_key;
  keys.box_pk = req.box_public_key;
  // A proof that the request comes from the keystore of those keys: checked
  // whenever sent; the store requires it to enrol an enrolled device again.
  bool proven = false;
  if (!req.challenge.empty() || !req.proof.empty()) {
    if (absl::Status c =
            challenges_.Check(req.challenge, clock_->NowMillis(), sync::kEnrolChallengeMillis);
        !c.ok()) {
      return Fail("enroll", c);
    }
    if (!crypto::CheckDevicePublic(keys).ok() ||
        !crypto::VerifyEnrolment(keys, store_->hub_id(), req.challenge, req.token, req.proof,
                                 proof_certificates_)
             .ok()) {
      return Fail("enroll", absl::PermissionDeniedError(absl::StrCat(
                                "the enrolment of device ", req.device.ToString(),
                                " carries a proof that does not verify against the public "
                                "keys it registers: it was not sent from that device's "
                                "keystore; nothing was changed")));
    }
    proven = true;
  }
  absl::StatusOr<Enrolment> e = store_->Enroll(req.token, req.device, req.device_name, keys, proven);
  if (!e.ok()) return Fail("enroll", e.status());
  Log(absl::StrCat("enroll device=", req.device.ToString(), " province=", e->province));
  sync::EnrollReply resp;
  resp.secret = e->secret;
  resp.province = e->province;
  resp.hub_id = store_->hub_id();
  return resp;
}

absl::Status SyncHandler::CheckPushLimits(size_t commits, size_t key_records) {
  if (commits > static_cast<size_t>(sync::kMaxPushCommits)) {
    return absl::InvalidArgumentError(absl::StrCat("a push carries at most ",
                                                   sync::kMaxPushCommits, " commits, this one ",
                                                   commits, "; nothing was stored"));
  }
  if (key_records > static_cast<size_t>(sync::kMaxPushKeyRecords)) {
    return absl::InvalidArgumentError(absl::StrCat("a push carries at most ",
                                                   sync::kMaxPushKeyRecords,
                                                   " key records, this one ", key_records,
                                                   "; nothing was stored"));
  }
  return absl::OkStatus();
}

absl::StatusOr<sync::PushOutcome> SyncHandler::Push(const sync::PushRequest& req) {
  if (absl::Status s = sync::CheckProtocol(req.protocol_version, "node"); !s.ok()) {
    return Fail("push", s);
  }
  absl::StatusOr<NodeInfo> node = Authenticate(req.credential);
  if (!node.ok()) return Fail("push", node.status());
  store_->RecordCall(node->device, req.protocol_version, std::nullopt, std::nullopt)
      .IgnoreError();
  if (absl::Status s = CheckPushLimits(req.commits.size(), req.key_records.size()); !s.ok()) {
    return Fail("push", s);
  }
  // Version 3: another device's commits, relayed to a hub that lost them
  // (docs/PROTOCOL.md, "A hub put back from a backup"): checked and stored
  // as a push by their author, whose signatures they carry.
  const DeviceId relayer = node->device;
  if (req.relayed_author) {
    if (req.protocol_version < 3 ||
        (req.commits.empty() && req.key_records.empty() && req.withdrawals.empty() &&
         req.refused.empty()) ||
        !req.backfill_headers.empty() || !req.statements.empty() ||
        *req.relayed_author == relayer) {
      return Fail("push", absl::InvalidArgumentError(
                              "a relayed push carries only another device's commits, key "
                              "records, refused headers and withdrawals (version 3); nothing "
                              "was stored"), &*node);
    }
    // One device looked up, not the registry (a relay pushes per author).
    absl::StatusOr<std::optional<NodeInfo>> author = store_->NodeOf(*req.relayed_author);
    if (!author.ok()) return Fail("push", author.status(), &*node);
    if (!author->has_value()) {
      return Fail("push", absl::PermissionDeniedError(absl::StrCat(
                              "device ", req.relayed_author->ToString(), " is not enrolled at "
                              "this hub: its commits are not relayed; nothing was stored")),
                  &*node);
    }
    node = **author;
  }
  const auto start = std::chrono::steady_clock::now();
  PushOrigin origin;
  origin.schema_version = std::max<int>(static_cast<int>(req.schema_version), 3);
  origin.schema_since_seq = req.schema_since_seq;
  origin.backfill_headers = req.backfill_headers;
  origin.per_commit = req.protocol_version >= 3;
  origin.relayed = req.relayed_author.has_value();
  origin.withdrawals = req.withdrawals;
  origin.refused = req.refused;
  // Compact headers rebuilt from their bodies: the store checks and keeps
  // whole headers, as from a node that sent them whole.
  const std::vector<PushedCommit>* commits = &req.commits;
  std::vector<PushedCommit> expanded;
  if (req.protocol_version >= 3 && sync::AnyCompact(req.commits)) {
    expanded = req.commits;
    if (absl::Status s = sync::ExpandPushed(expanded); !s.ok()) return Fail("push", s, &*node);
    commits = &expanded;
  }
  absl::StatusOr<PushOutcome> out = store_->Push(*node, origin, *commits, req.key_records);
  if (!out.ok()) return Fail("push", out.status(), &*node);
  // A statement the hub does not keep is said in the reply; the commits
  // stored are not concerned (a version 2 call carries none).
  if (req.protocol_version >= 3 && !req.statements.empty()) {
    if (req.statements.size() > 1) {
      out->statement_refusal = "a push carries at most one statement";
    } else if (absl::StatusOr<StatementKept> kept =
                   store_->PutStatement(*node, req.statements.front());
               !kept.ok()) {
      out->statement_refusal = std::string(kept.status().message());
      Log(absl::StrCat("statement refused node=", node->device.ToString(), ": ",
                       kept.status().message()),
          /*refusal=*/true);
    } else if (kept->checkpoint) {
      out->checkpoint_adopted = kept->checkpoint_adopted;
      out->checkpoint_note = kept->checkpoint_note;
      Log(absl::StrCat("checkpoint of province=", node->province, " node=",
                       node->device.ToString(), kept->checkpoint_adopted
                                                    ? std::string(" adopted")
                                                    : absl::StrCat(" not adopted: ",
                                                                   kept->checkpoint_note)));
    }
  }
  // Refusals are said whether verbose or not: an administrator looks for
  // them (fieldhub node list counts what is set aside).
  for (const sync::CommitRefusal& f : out->refusals) {
    Log(absl::StrCat("push node=", node->device.ToString(), " refused commit ", f.seq, " (",
                     sync::RefusalCodeName(f.code), "): ", f.reason),
        /*refusal=*/true);
  }
  if (verbose_) {
    Log(absl::StrCat("push node=", node->device.ToString(),
                     relayer != node->device ? absl::StrCat(" relayed_by=", relayer.ToString())
                                             : std::string(),
                     " province=", node->province,
                     " commits=", req.commits.size(), " key_records=", req.key_records.size(),
                     " applied=", out->applied, " duplicates=", out->duplicates,
                     " acked=", out->acknowledged_seq, " ms=", MillisSince(start)));
  }
  return out;
}

absl::Status SyncHandler::Pull(const sync::PullRequest& req,
                               const std::function<absl::Status(sync::PullChunk&)>& on_chunk) {
  if (absl::Status s = sync::CheckProtocol(req.protocol_version, "node"); !s.ok()) {
    return Fail("pull", s);
  }
  absl::StatusOr<NodeInfo> node = Authenticate(req.credential);
  if (!node.ok()) return Fail("pull", node.status());
  PullParams params = req.params;
  if (params.max_batch == 0) params.max_batch = sync::kDefaultPullBatch;
  params.max_batch = std::min<size_t>(params.max_batch, sync::kMaxPullBatch);
  const auto start = std::chrono::steady_clock::now();
  size_t rows = 0;
  size_t commits = 0;
  size_t key_records = 0;
  int64_t delivered = 0;
  // A node of an older schema gets what it can take, then a plain answer
  // (PullRequest.schema_version; 0 is a build before schema version 4).
  const Schema& schema = FieldOfficeSchema();
  const int node_schema = std::max<int>(static_cast<int>(req.schema_version), 3);
  int held_back = 0;
  const bool compact = req.protocol_version >= 3 && params.chains &&
                       params.compact_headers >= sync::kCompactHeaderForm;
  absl::Status gone;
  absl::Status s = store_->Pull(*node, params, [&](PullChunk& c) {
    if (node_schema < schema.version()) {
      if (const int need = VersionToTake(schema, c); need > node_schema) {
        held_back = need;
        return false;
      }
    }
    // Only to a node that asked (an older one would take a compact
    // header for none).
    if (compact) sync::CompactPulled(c.commits);
    // Every message says which call it answers (PullParams.call_id).
    c.call_id = params.call_id;
    const int64_t cursor = c.cursor;
    rows += c.rows.size();
    commits += c.commits.size();
    key_records += c.key_records.size();
    gone = on_chunk(c);
    if (!gone.ok()) return false;
    if (cursor != 0) delivered = cursor;
    return true;
  });
  // The cursor, now known to be valid, acknowledges everything before it.
  auto record = [&] {
    store_->RecordCall(node->device, req.protocol_version, std::nullopt, req.params.cursor)
        .IgnoreError();
    if (delivered > 0) store_->RecordDelivered(node->device, delivered).IgnoreError();
  };
  if (held_back > 0) {
    record();
    return Fail("pull", absl::FailedPreconditionError(absl::StrCat(
        "this laptop's fieldsync is older than what its colleagues now write (replica schema "
        "version ", node_schema, req.schema_version == 0 ? " or older" : "", "; the next "
        "changes need version ", held_back, "): install the current fieldsync on this laptop "
        "and sync again. Nothing is lost: this laptop's own changes were sent, and what it "
        "has not received yet waits at the hub")), &*node);
  }
  if (!gone.ok()) return Fail("pull", gone, &*node);
  if (!s.ok()) return Fail("pull", s, &*node);
  record();
  if (verbose_) {
    Log(absl::StrCat("pull node=", node->device.ToString(), " province=", node->province,
                     " from=", req.params.cursor, " rows=", rows, " commits=", commits,
                     " key_records=", key_records, " ms=", MillisSince(start)));
  }
  return absl::OkStatus();
}

}  // namespace fieldsync::hub
