#include "sync/puller.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/commit_codec.h"
#include "crypto/statement.h"
#include "sync/chain.h"
#include "sync/chain_keeper.h"
#include "sync/checkpoint_keeper.h"
#include "sync/compact_header.h"
#include "sync/relay.h"
#include "sync/retry.h"
#include "sync/row_witness.h"
#include "sync/statement_keeper.h"

namespace fieldsync::sync {
namespace {

// Why a pull stopped on the node's side (the stream is then cancelled).
struct Stopped {
  absl::Status status;
  bool set = false;
};

}  // namespace

absl::Status Puller::PullAll(Replica& replica, KeyRing& keys, const std::atomic<bool>* stop,
                             const std::function<void(const SyncReport&)>& progress,
                             SyncReport* report) {
  FS_ASSIGN_OR_RETURN(int64_t cursor, replica.GetCursor(kPulledCursor));
  FS_ASSIGN_OR_RETURN(int64_t bootstrapped, replica.GetCursor(kBootstrappedCursor));
  // A removed or revoked device's work is taken up to the end of the first
  // pull, caught up, that began after the hub held its removal (KeyRing).
  FS_RETURN_IF_ERROR(keys.BeginPull());
  struct Abandon {
    KeyRing& keys;
    bool ended = false;
    ~Abandon() {
      if (!ended) keys.AbandonPull();
    }
  } abandon{keys};
  PullRequest req;
  req.protocol_version = protocol_version_;
  req.credential = cred_;
  const bool chains = protocol_version_ >= 3;
  ChainKeeper keeper(replica, keys, keys.clock());
  StatementKeeper statements(replica, keys, keys.clock());
  if (chains) {
    req.params.chains = true;
    FS_ASSIGN_OR_RETURN(req.params.chain_heads, keeper.Heads());
    req.params.chain_wants = chain_wants_;
    if (compact_headers_) req.params.compact_headers = kCompactHeaderForm;
    FS_ASSIGN_OR_RETURN(req.params.statement_cursor, replica.GetCursor(kStatementCursor));
    // The hub's log chain: the hashes it gave, to notice a hub that went
    // back (restored from an older backup) and where it still agrees.
    req.params.log_chain = true;
    FS_ASSIGN_OR_RETURN(std::vector<HubLogMark> marks, replica.HubMarks());
    for (HubLogMark& mk : marks) {
      if (req.params.marks.size() >= static_cast<size_t>(kMaxLogMarks)) break;
      req.params.marks.push_back(LogMark{mk.position, std::move(mk.hash)});
    }
  }
  // A bootstrap in verified pages of the office's newest checkpoint, from
  // where the last one was cut; unverified (as version 2) once a checkpoint
  // or page the hub served failed verification.
  CheckpointKeeper checkpoints(replica, keys, keys.clock());
  FS_ASSIGN_OR_RETURN(std::optional<BootstrapProgress> resume_from, replica.Bootstrap());
  FS_ASSIGN_OR_RETURN(int64_t checkpoint_refused, replica.GetCursor(kCheckpointRefusedCursor));
  if (chains && bootstrapped != 1 && checkpoint_refused != 1) {
    req.params.checkpoint_pages = true;
    // Proofs as deltas against what the pages verified left (crypto/
    // merkle.h, KeptProof): kept with the resume record, for its next page.
    req.params.proof_deltas = true;
    if (resume_from) {
      req.params.resume_checkpoint = resume_from->checkpoint;
      req.params.resume_index = resume_from->next_index;
      if (resume_from->proof) {
        absl::StatusOr<crypto::Statement> st = crypto::DecodeStatement(resume_from->statement);
        if (!st.ok() || !crypto::CheckKeptProof(st->leaf_count, *resume_from->proof).ok()) {
          resume_from->proof.reset();  // damaged: the hub sends the next proof whole
        }
      }
      req.params.proof_kept = resume_from->proof.has_value();
    }
  }
  struct Installing {
    crypto::Statement statement;
    std::string id, bytes;
    uint32_t next = 0;
    bool member = false;
    // The proof state at `next` (none: the next page's proof must be whole).
    std::optional<crypto::KeptProof> kept;
  };
  std::optional<Installing> installing;
  // An unverified bootstrap (the hub's current rows) this laptop was cut
  // in: the hub continues after its last row (docs/PROTOCOL.md, "A
  // bootstrap resumed after a cut"). Then, in this pull, where the one
  // under way got to.
  FS_ASSIGN_OR_RETURN(std::optional<BootstrapCut> boot, replica.BootstrapCutAt());
  if (bootstrapped == 1) boot.reset();
  req.params.bootstrap_cut = boot;
  req.params.cursor = cursor;
  req.params.bootstrapped = bootstrapped == 1;
  FS_ASSIGN_OR_RETURN(int64_t gc_epoch, replica.GetCursor(kGcEpochCursor));
  FS_ASSIGN_OR_RETURN(const int64_t owes_purged, replica.GetCursor(kOwesPurgedCursor));
  // A checkpoint installed and no full list of collected rows since: asked
  // for it (report.h, kOwesPurgedCursor). `owes_now` once this pull installs
  // one itself: its own list comes at the next pull.
  const bool asked_every_purged = owes_purged == 1;
  bool owes_now = false;
  req.params.gc_epoch = asked_every_purged ? 0 : static_cast<uint64_t>(gc_epoch);
  FS_ASSIGN_OR_RETURN(const int64_t gc_id, replica.GetCursor(kGcIdCursor));
  req.params.gc_id = asked_every_purged ? 0 : static_cast<uint64_t>(gc_id);
  // Where the last list of collected rows was cut: the hub goes on after
  // its last row if it is the same list (docs/PROTOCOL.md, "Tombstones").
  // `purged_done` once a message of this pull said the list is complete.
  FS_ASSIGN_OR_RETURN(req.params.purged_after, replica.PurgedCutAt());
  bool purged_done = false;
  req.params.max_batch = options_.max_batch;
  if (budget_ != nullptr) req.params.max_message_bytes = budget_->bytes();
  FS_ASSIGN_OR_RETURN(int64_t key_cursor, replica.GetCursor(kKeyCursor));
  req.params.key_cursor = key_cursor;
  FS_ASSIGN_OR_RETURN(int64_t key_mark, replica.GetCursor(kKeyMarkCursor));
  req.params.key_mark = static_cast<uint64_t>(key_mark);
  req.params.registry_digest = keys.RegistryDigest();
  // The id this call's answer echoes in each message: another call's
  // answer (replayed by a proxy, or by the hub) is told from it.
  if (options_.call_id) {
    req.params.call_id = options_.call_id();
  } else {
    req.params.call_id = std::string(Id16::NewRandom().view());  // 16 random bytes
  }
  req.schema_version = static_cast<uint32_t>(replica.schema().version());
  bool caught_up = false;
  uint64_t carried = 0;  // bytes of the messages applied (sync/budget.h)
  report->cursor = cursor;
  Stopped stopped;
  bool went_back_said = false;  // in this pull (the first message says it)
  bool echoed = false;          // a message of this call echoed its id
  auto on_chunk = [&](PullChunk& msg) -> absl::Status {
    if (stopped.set) return stopped.status;  // a transport that calls again
    // An answer is bound to its call (docs/PROTOCOL.md, "An answer bound to
    // its call"): a message that echoes another call's id, or none once
    // this call's was echoed, or comes after the last one, is another
    // answer; applied, its rows (a case newly visible then) would replace
    // what this laptop holds now, and the commits since, behind its cursor,
    // never come again. A hub of an earlier build echoes none: its answers
    // are checked by their positions alone (below).
    if (!msg.call_id.empty() || echoed) {
      if (msg.call_id != req.params.call_id) {
        stopped.set = true;
        return stopped.status = absl::DataLossError(
                   "the hub's message answers another pull than this one (an earlier answer "
                   "replayed?); nothing of that message was applied");
      }
      echoed = true;
    }
    if (caught_up) {
      stopped.set = true;
      return stopped.status = absl::DataLossError(
                 "the hub sent a message after the last one of its answer (an answer "
                 "delivered twice?); nothing of that message was applied");
    }
    went_back_said |= msg.went_back.has_value();
    // A laptop holding a complete state up to its cursor is never taken
    // back before it but by a log that went back (said in this pull): a
    // message that does so (its cursor, or a bootstrap begun before it) is
    // an answer of an earlier call, replayed; applied, its reset would
    // wipe the rows and the answer to this call go on from the cursor
    // asked, the commits between the two lost for good.
    // Nor is it served from a log that ends before that position (an
    // answer, however it is cut, carries the log head it was served at):
    // a message that would change the replica is refused so too.
    const bool changes = msg.reset || !msg.rows.empty() || !msg.commits.empty() ||
                         !msg.purged.empty() || msg.page || msg.cursor > 0;
    if (req.params.bootstrapped && !went_back_said) {
      const int64_t back_to =
          msg.cursor > 0 && msg.cursor < req.params.cursor ? msg.cursor
          : msg.reset && msg.bootstrap && msg.bootstrap->position < req.params.cursor
              ? msg.bootstrap->position
          : changes && msg.log_head < req.params.cursor ? msg.log_head
                                                        : -1;
      if (back_to >= 0) {
        stopped.set = true;
        return stopped.status = absl::DataLossError(absl::StrCat(
                   "the hub answered with its log at position ", back_to,
                   ", before the position this laptop asked from (", req.params.cursor,
                   "), without saying its log went back (an earlier answer replayed?); nothing "
                   "of that message was applied"));
      }
    }
    // Rows newly visible hold the hub's log up to rows_position, which is
    // never past the head the same message states (an honest hub serves
    // them at its head). Taken as is, a position past it counted every
    // later write of those rows as inside them: skipped at every pull to
    // come, while this laptop's chains showed the commits as received
    // (attack review 89, LOW; docs/PROTOCOL.md, "Rows installed above the
    // cursor"). A bootstrap's rows are at position 0 whatever it says.
    if (!msg.rows.empty() && !msg.bootstrap &&
        (msg.rows_position < 0 || msg.rows_position > msg.log_head)) {
      stopped.set = true;
      return stopped.status = absl::DataLossError(absl::StrCat(
                 "the hub sent rows as holding its log up to position ", msg.rows_position,
                 ", past the head its message states (", msg.log_head,
                 "); nothing of that message was applied"));
    }
    // The hub's log went back under this laptop's cursor: pulled again
    // from where the two still agree (the hub's word: at worst what this
    // laptop holds comes again, and is skipped), key records and
    // statements from their start.
    PulledBatch batch;
    batch.clock_lead = clock_lead_;
    if (msg.went_back) {
      const LogWentBack& back = *msg.went_back;
      if (back.to < 0 || back.to > req.params.cursor) {
        stopped.set = true;
        return stopped.status = absl::DataLossError(absl::StrCat(
                   "the hub said its log went back from position ", back.from, " to ", back.to,
                   ", which is not before this laptop's position ", req.params.cursor,
                   "; nothing was applied"));
      }
      batch.went_back_to = back.to;
      batch.pulled_cursor = kPulledCursor;
      report->hub_went_back = true;
      report->went_back_from = req.params.cursor;
      report->went_back_to = back.to;
      report->cursor = back.to;
      // This laptop's own key records too (a hub that went back may have
      // lost some pushed with no commit: an approval, a removal).
      absl::Status reset = keys.ResendOwn(replica.device_id()).status();
      if (reset.ok()) reset = replica.SetCursor(kKeyCursor, 0);
      if (reset.ok()) reset = replica.SetCursor(kKeyMarkCursor, 0);
      if (reset.ok() && chains) reset = replica.SetCursor(kStatementCursor, 0);
      // Authors of whom the hub now holds less than this laptop: relayed
      // after the pull (sync/relay.h).
      for (const auto& [author, held] : msg.held_heads) {
        if (!reset.ok()) break;
        if (author == replica.device_id()) continue;
        reset = replica.SetCursor(RelayCursor(author), static_cast<int64_t>(held));
        if (reset.ok()) reset = replica.SetCursor(RelayKeysCursor(author), 0);
      }
      // An author this request named and the hub did not: it holds all
      // this laptop holds of it, so a relay cursor an earlier went-back left
      // for it is done, not a word about the hub of now (a second restore
      // after a relay cut: attack review 30, R2).
      if (reset.ok()) {
        std::set<std::string> asked, named;
        for (const auto& head : req.params.chain_heads) asked.insert(RelayCursor(head.first));
        for (const auto& held : msg.held_heads) named.insert(RelayCursor(held.first));
        absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> live =
            replica.CursorsNamed(kRelayCursorPrefix);
        if (!live.ok()) reset = live.status();
        for (size_t i = 0; reset.ok() && live.ok() && i < live->size(); ++i) {
          const std::string& name = (*live)[i].first;
          if ((*live)[i].second < 0 || asked.count(name) == 0 || named.count(name) > 0) continue;
          reset = replica.SetCursor(name, -1);
        }
      }
      // ... at the collection this message was served at: rows of a
      // bootstrap served at another are not rebuilt from that word
      // (store/relay_cursor.h).
      if (reset.ok()) {
        reset = replica.SetCursor(kRelayGcEpochCursor, static_cast<int64_t>(msg.gc_epoch));
      }
      if (!reset.ok()) {
        stopped.set = true;
        return stopped.status = reset;
      }
    }
    // The registry and key records come first: pulled commits are verified
    // against the registry.
    absl::Status keys_bad;
    if (msg.registry_included) keys_bad = keys.SetRegistry(msg.registry);
    if (keys_bad.ok() && !msg.key_records.empty()) {
      absl::StatusOr<KeyRecordsReport> kr = keys.AddRecords(msg.key_records);
      if (!kr.ok()) {
        keys_bad = kr.status();
      } else {
        report->key_records_received += kr->added;
        report->key_records_refused += kr->refused;
        if (report->key_refusal.empty()) report->key_refusal = kr->first_refusal;
        // The hub's mark of the record there with it (a hub of an earlier
        // build gives none: 0, nothing compared at the next pull).
        if (msg.key_cursor > 0) keys_bad = replica.SetCursor(kKeyCursor, msg.key_cursor);
        if (keys_bad.ok() && msg.key_cursor > 0) {
          keys_bad = replica.SetCursor(kKeyMarkCursor, static_cast<int64_t>(msg.key_mark));
        }
      }
    }
    if (!keys_bad.ok()) {
      stopped.set = true;
      return stopped.status = absl::Status(
                 keys_bad.code(), absl::StrCat("the hub's registry or key records could not be "
                                               "taken in: ", keys_bad.message()));
    }
    // A checkpoint or page refused: evidence if the hub sent rows the
    // checkpoint does not vouch for; later bootstraps go unverified.
    auto refuse_checkpoint = [&](const absl::Status& why) -> absl::Status {
      stopped.set = true;
      if (why.code() == absl::StatusCode::kDataLoss && installing) {
        TrustEvidence e;
        e.device = installing->statement.signer;
        e.kind = static_cast<int>(ChainEvidence::Kind::kForgedCheckpointPage);
        e.other_header = installing->bytes;
        e.what = std::string(why.message());
        e.found_at_millis = keys.clock().NowMillis();
        replica.AddNewEvidence({e}).IgnoreError();
      }
      replica.SetCursor(kCheckpointRefusedCursor, 1).IgnoreError();
      return stopped.status = absl::Status(
                 why.code(), absl::StrCat(why.message(), "; the next sync takes this office's "
                                          "records from the hub unverified (what they say "
                                          "decides no key): sync again"));
    };
    if (!msg.checkpoint.empty()) {
      absl::StatusOr<CheckpointKeeper::Accepted> ck = checkpoints.Accept(msg.checkpoint, clock_lead_);
      if (!ck.ok()) return refuse_checkpoint(ck.status());
      Installing in;
      in.statement = std::move(ck->statement);
      in.member = ck->member;
      in.bytes = msg.checkpoint;
      in.id = crypto::StatementId(msg.checkpoint);
      // Without "reset", only the checkpoint being installed (this pull's,
      // else the one the last was cut in) may go on: the rows of another
      // stay installed otherwise, recorded verified, and would count as
      // signed by this one's signer.
      const bool continues = installing ? installing->id == in.id
                                        : resume_from && resume_from->checkpoint == in.id;
      if (!msg.reset && !continues) {
        return refuse_checkpoint(absl::PermissionDeniedError(
            "the hub's checkpoint of this office was not used: it went on from a bootstrap of "
            "another checkpoint without starting over"));
      }
      if (msg.reset) {
        in.kept = crypto::KeptProof{};  // at leaf 0: nothing held, nothing needed
      } else if (installing) {
        in.next = installing->next;
        in.kept = std::move(installing->kept);
      } else {
        in.next = resume_from->next_index;
        in.kept = resume_from->proof;
      }
      installing = std::move(in);
    }
    if (msg.page) {
      if (!installing || !msg.rows.empty()) {
        return refuse_checkpoint(absl::DataLossError(
            "the hub sent a bootstrap page without its checkpoint, or with other rows"));
      }
      absl::StatusOr<CheckpointKeeper::VerifiedPage> page =
          CheckpointKeeper::VerifyPage(installing->statement, installing->id, installing->next,
                                       *msg.page, installing->kept);
      if (!page.ok()) return refuse_checkpoint(page.status());
      installing->next += static_cast<uint32_t>(page->rows.size());
      installing->kept = std::move(page->kept);
      msg.rows = std::move(page->rows);
      batch.rows_verified = true;
      report->bootstrapped = true;
      batch.bootstrap = BootstrapProgress{installing->id, installing->bytes, installing->next,
                                          installing->member ? 1 : 0, installing->kept};
      if (installing->next == installing->statement.leaf_count) batch.bootstrap->proof.reset();
      if (installing->next == installing->statement.leaf_count && installing->member) {
        // Where the checkpoint says each author's chain stood: what the
        // log after it must continue. Only on a member's word: a laptop
        // that cannot judge the signer yet places them once it can
        // (CheckpointKeeper::Confirm).
        for (const crypto::StatedHead& h : installing->statement.heads) {
          if (h.author == replica.device_id()) continue;
          ChainRow anchor;
          anchor.device = h.author;
          anchor.seq = h.seq;
          anchor.link = h.link;
          anchor.state = ChainRow::State::kAnchor;
          batch.chain.placed.push_back(std::move(anchor));
        }
      }
    } else if (installing && !msg.checkpoint.empty() && installing->statement.leaf_count == 0) {
      batch.bootstrap = BootstrapProgress{installing->id, installing->bytes, 0,
                                          installing->member ? 1 : 0, std::nullopt};
    }
    if (installing && (msg.cursor > 0 || msg.caught_up) &&
        installing->next != installing->statement.leaf_count) {
      return refuse_checkpoint(absl::DataLossError(absl::StrCat(
          "the hub ended the checkpoint's rows at ", installing->next, " of ",
          installing->statement.leaf_count)));
    }
    // Rows of an unverified bootstrap: installed at position 0 with where
    // the bootstrap got to, so that a cut continues after them. Only in a
    // bootstrap this pull began (reset) or this laptop was cut in: else
    // the hub would be passing rows off as a bootstrap's to a laptop that
    // is not in one (no witnesses asked of them).
    bool boot_rows = false;
    if (msg.bootstrap) {
      const BootstrapCut& said = *msg.bootstrap;
      if (msg.reset) {
        boot = BootstrapCut{said.position, said.position_hash, said.gc_epoch, {}, RowId()};
      } else if (!boot || boot->position != said.position ||
                 boot->position_hash != said.position_hash || boot->gc_epoch != said.gc_epoch ||
                 msg.page || !msg.checkpoint.empty()) {
        stopped.set = true;
        return stopped.status = absl::DataLossError(
                   "the hub went on with a bootstrap this laptop is not in; nothing of that "
                   "message was applied");
      }
      boot_rows = true;
      if (!msg.rows.empty()) {
        boot->table = msg.rows.back().table;
        boot->row = msg.rows.back().row;
      }
      batch.bootstrap_cut = boot;
      msg.rows_position = 0;
      report->bootstrapped = true;
    } else if (msg.reset) {
      boot.reset();  // a hub of an earlier build, or a checkpoint's: not continued
    }
    batch.reset = msg.reset;
    batch.pushed_cursor = kPushedCursor;  // guards resets and installed rows
    // Rows of a checkpoint: this laptop's own work after the checkpoint's
    // head of it is merged again too (the hub's log leaves it out).
    if (installing && (msg.reset || msg.page)) {
      uint64_t own = 0;
      for (const crypto::StatedHead& h : installing->statement.heads) {
        if (h.author == replica.device_id()) own = h.seq;
      }
      batch.own_rows_upto = own;
      batch.cursors.emplace_back(kOwesPurgedCursor, 1);
      owes_now = true;
    }
    if (msg.reset) report->bootstrapped = true;
    if (!msg.notice.empty()) report->notice = msg.notice;
    batch.rows_position = msg.rows_position;
    batch.rows = std::move(msg.rows);
    if (!batch.rows.empty() && !msg.reset && !msg.page && !boot_rows && msg.rows_position > 0 &&
        msg.rows_hash.size() == 32) {
      batch.rows_mark =
          HubLogMark{msg.rows_position, std::move(msg.rows_hash), keys.clock().NowMillis()};
    }
    // Rows newly visible (a case referred to this office): taken as their
    // authors' signed commits show them, else as served, deciding nothing.
    if (chains && !batch.rows.empty() && !msg.reset && !msg.page && !boot_rows) {
      // Signed by a device its office approved (the hub's administrator
      // may enrol one of its own: it vouches for nothing).
      WitnessCheck w = CheckWitnesses(
          batch.rows, msg.witnesses,
          [&](const DeviceId& d) {
            const RegisteredDevice* r = keys.FindDevice(d);
            absl::StatusOr<bool> approved = keys.Approved(d);
            return r == nullptr || !approved.ok() || !*approved ? std::string() : r->keys.sign_pk;
          },
          replica.schema(),
          [&](const std::string& office, const DeviceId& d) {
            const RegisteredDevice* r = keys.FindDevice(d);
            absl::StatusOr<bool> approved = keys.Approved(d);
            return r != nullptr && r->province == office && approved.ok() && *approved;
          });
      batch.witnessed = std::move(w.witnessed);
      report->chain.rows_unvouched += w.unverified + w.forged.size();
      for (std::string& line : w.owner_doubted) report->chain.problems.push_back(std::move(line));
      for (size_t i = 0; i < w.forged.size(); ++i) {
        TrustEvidence e;
        e.device = w.named[i];
        e.kind = static_cast<int>(ChainEvidence::Kind::kForgedInstalledRow);
        e.what = w.forged[i];
        e.found_at_millis = keys.clock().NowMillis();
        batch.chain.evidence.push_back(std::move(e));
        ++report->chain.new_evidence;
        report->chain.problems.push_back(w.forged[i]);
      }
    }
    // The list of collected rows: where it got to, kept with the rows it
    // drops; once it is complete, the epoch it was served at is this
    // laptop's (and, asked with 0, nothing more is owed), whether or not
    // the pull then catches up. A hub that never says so keeps the laptop
    // asking for the rest; it drops only tombstones either way.
    if (msg.purged_done && !owes_now) {
      purged_done = true;
      batch.purged_done = true;
      batch.cursors.emplace_back(kGcEpochCursor, static_cast<int64_t>(msg.gc_epoch));
      batch.cursors.emplace_back(kGcIdCursor, static_cast<int64_t>(msg.gc_id));
      if (asked_every_purged) batch.cursors.emplace_back(kOwesPurgedCursor, 0);
    } else if (!msg.purged.empty() &&
               std::is_sorted(msg.purged.begin(), msg.purged.end()) &&
               std::adjacent_find(msg.purged.begin(), msg.purged.end()) == msg.purged.end()) {
      // Kept only from a message in the list's order (a hub of an earlier
      // build orders it as it likes: its last row says nothing of those
      // before it in that order, and it ignores the cut anyway).
      batch.purged_cut = PurgedCut{req.params.gc_epoch, msg.gc_epoch, msg.gc_id,
                                   msg.purged.back().first, msg.purged.back().second};
    }
    batch.purged = std::move(msg.purged);
    absl::Status bad;
    // Compact headers rebuilt from their bodies first: from here on an
    // entry is as if its header had come whole (its signature decides).
    if (chains && compact_headers_) bad = ExpandPulled(msg.commits);
    if (bad.ok() && (chains || downgraded_)) {
      bad = keeper.Sort(msg.commits, &batch, &report->chain);
      statements.Take(msg.statements, &batch, &report->chain);
      if (msg.statement_cursor > 0) {
        batch.cursors.emplace_back(kStatementCursor, msg.statement_cursor);
      }
    } else if (bad.ok()) {
      for (PulledEntry& c : msg.commits) {
        absl::StatusOr<Commit> commit = DecodeCommit(c.canonical);
        if (!commit.ok()) {
          bad = commit.status();
          break;
        }
        commit->signature = std::move(c.signature);
        commit->omitted = std::move(c.omitted);
        batch.commits.emplace_back(c.position, *std::move(commit));
      }
    }
    if (!bad.ok()) {
      stopped.set = true;
      return stopped.status = absl::DataLossError(absl::StrCat(
                 "the hub sent a malformed pull batch (nothing of it was applied): ",
                 bad.message()));
    }
    // A bootstrap starts by forgetting the last one, and is complete only
    // with its last message (or, continued, the first with a cursor): a cut
    // in between continues it, or starts it over.
    if (msg.reset) batch.cursors.emplace_back(kBootstrappedCursor, 0);
    if (msg.cursor > 0 || msg.caught_up) {
      batch.bootstrap_done = true;
      boot.reset();
      batch.cursors.emplace_back(kPulledCursor, msg.cursor);
      batch.cursors.emplace_back(kBootstrappedCursor, 1);
      // Owing the full list, the epoch recorded stays 0 until a pull asked
      // with 0 catches up (the list comes before its caught-up message).
      // A hub of an earlier build says nothing of the list's end: then
      // owing, the epoch recorded stays 0 until a pull asked with 0
      // catches up (the whole list comes before its caught-up message).
      const bool owing = owes_now || (asked_every_purged && !purged_done && !msg.caught_up);
      batch.cursors.emplace_back(kGcEpochCursor, owing ? 0 : static_cast<int64_t>(msg.gc_epoch));
      batch.cursors.emplace_back(kGcIdCursor, owing ? 0 : static_cast<int64_t>(msg.gc_id));
      if (asked_every_purged && !owes_now && !purged_done && msg.caught_up) {
        batch.cursors.emplace_back(kOwesPurgedCursor, 0);
      }
      if (msg.cursor > 0 && msg.cursor_hash.size() == 32) {
        batch.mark = HubLogMark{msg.cursor, std::move(msg.cursor_hash), keys.clock().NowMillis()};
      }
    }
    absl::StatusOr<PullResult> r = replica.ApplyPulled(batch);
    if (!r.ok()) {
      stopped.set = true;
      if (r.status().code() == absl::StatusCode::kUnauthenticated ||
          r.status().code() == absl::StatusCode::kPermissionDenied) {
        // Another device's commit failed verification here: not this node's
        // credential. Nothing of the batch was applied; the pass fails and
        // is retried, and the administrator must look.
        return stopped.status = absl::DataLossError(absl::StrCat(
                   "the hub relayed a commit that does not verify, so nothing of that batch "
                   "was applied (tell the hub administrator): ",
                   r.status().message()));
      }
      return stopped.status = r.status();
    }
    if (r->deferred > 0) {
      stopped.set = true;
      return stopped.status = absl::AbortedError(absl::StrCat(
                 r->deferred, " pulled commits depend on commits this node does not hold; the "
                              "batch was applied without moving the cursor, sync again"));
    }
    // Progress is what the next pull need not fetch again: commits, a
    // verified page, rows of a bootstrap continued (kept with where it got
    // to), a cursor moved. Rows of newly visible records before their
    // message's cursor are fetched again after a cut, and are not; nor are
    // the rows of a bootstrap's first message (`reset`): a hub that starts
    // the bootstrap over at every try must not keep the daemon trying again
    // at once (attack review 59, finding 1).
    if (r->applied > 0 || msg.page || (boot_rows && !msg.reset && r->rows_installed > 0) ||
        msg.cursor > req.params.cursor ||
        msg.key_cursor > req.params.key_cursor ||
        msg.statement_cursor > req.params.statement_cursor) {
      progressed_ = true;
    }
    if (batch.reset || !batch.rows.empty()) {
      // Colleagues' commits a rebuild could not merge again, said once.
      absl::StatusOr<int64_t> unmerged = replica.GetCursor(kRelayUnmergedCursor);
      if (unmerged.ok() && *unmerged > 0) {
        report->relay_notes.push_back(absl::StrCat(
            *unmerged, " commits of other laptops held here were not merged again on the "
            "records rebuilt from the hub (not readable, not valid, or their author's key no "
            "longer trusted here); they stay in this laptop's log"));
        replica.DropCursor(kRelayUnmergedCursor).IgnoreError();
      }
    }
    report->pulled += r->applied;
    report->rows_installed += r->rows_installed;
    report->tombstones_purged += r->tombstones_purged;
    report->pull_messages += 1;
    carried += msg.wire_bytes;
    report->log_head = msg.log_head;
    if (msg.cursor > 0) report->cursor = msg.cursor;
    if (progress) progress(*report);
    if (msg.caught_up) caught_up = true;
    if (stop != nullptr && stop->load() && !caught_up) {
      stopped.set = true;
      return stopped.status =
                 OwnStop("stopped during the pull; what was applied is kept");
    }
    return absl::OkStatus();
  };
  const uint64_t messages_before = report->pull_messages;
  absl::Status s = transport_.Pull(req, on_chunk);
  // This laptop's own stop cancelled the call under way (the transport
  // answers CANCELLED, node/grpc_transport.cc): a stop, neither a cut of
  // the link (the budget stays) nor the hub's answer.
  if (!stopped.set && s.code() == absl::StatusCode::kCancelled && stop != nullptr &&
      stop->load()) {
    stopped.set = true;
    stopped.status = s;
  }
  // The budget learns how the link did: a pull caught up succeeded, one
  // the link or the hub cut after some messages made progress sizes the
  // next messages from what they carried, one cut before any halves it. A
  // stop on this side says nothing of the link.
  if (budget_ != nullptr && (!stopped.set || caught_up)) {
    const bool cut = !s.ok() ? Retryable(s) : !caught_up;
    if (caught_up || cut) {
      FS_RETURN_IF_ERROR(budget_->Record(
          caught_up ? CallOutcome::kSucceeded
          : report->pull_messages > messages_before ? CallOutcome::kFailedWithProgress
                                                    : CallOutcome::kFailedEmpty,
          carried));
    }
  }
  // A bootstrap cut: what it installed stays, said in the pass's failure.
  auto kept = [&](const absl::Status& why) {
    if (!boot || why.ok()) return why;
    return absl::Status(why.code(),
                        absl::StrCat(why.message(), "; the bootstrap under way keeps the records "
                                     "it installed (", report->rows_installed,
                                     " in this pass) and continues after them at the next sync"));
  };
  if (stopped.set) return kept(stopped.status);
  if (!s.ok()) return kept(Refused("the pull", s));
  if (!caught_up) {
    return kept(absl::UnavailableError(
        "the pull ended before the hub said it was complete; sync again"));
  }
  abandon.ended = true;
  if (chains || downgraded_) {
    FS_ASSIGN_OR_RETURN(std::vector<HeldEntry> held, replica.Held(std::nullopt));
    report->chain.held = held.size();
  }
  // Evidence not yet marked read keeps fieldnode sync at exit 5, whatever
  // version this pass spoke.
  FS_RETURN_IF_ERROR(CountEvidence(replica, &report->chain));
  return keys.EndPull();
}

}  // namespace fieldsync::sync
