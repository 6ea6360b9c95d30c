#include "sync/checkpoint_keeper.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/tuning.h"
#include "clock/hlc.h"
#include "crypto/commit_header.h"
#include "crypto/merkle.h"
#include "store/row_state.h"
#include "sync/chain.h"
#include "sync/laptop_name.h"

namespace fieldsync::sync {

absl::StatusOr<CheckpointKeeper::Accepted> CheckpointKeeper::Accept(std::string_view bytes,
                                                                    const ClockLead& lead) {
  FS_ASSIGN_OR_RETURN(crypto::Statement s, crypto::DecodeStatement(bytes));
  const RegisteredDevice* dev = keys_.FindDevice(s.signer);
  auto refuse = [&](const std::string& why) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the hub's checkpoint of this office, signed by ", LaptopName(dev, s.signer),
        ", was not used: ", why));
  };
  if (s.kind != crypto::StatementKind::kSeenAndCheckpoint) {
    return refuse("it is a statement without a checkpoint");
  }
  if (s.province != keys_.province()) return refuse("it is another office's");
  if (dev == nullptr) return refuse("its signer is a device this laptop does not know");
  if (dev->province != s.province) return refuse("its signer is another office's device");
  if (dev->revoked()) return refuse("its signer was revoked");
  if (!crypto::VerifyStatement(bytes, dev->keys.sign_pk).ok()) {
    return refuse("its signature does not verify with the signer's key");
  }
  const auto created = static_cast<int64_t>(Hlc::FromPacked(s.created_hlc).wall_millis());
  if (created > clock_.NowMillis() + lead.taken + tuning::kDefaultMaxClockSkewMillis) {
    return refuse("it was made in the future by this laptop's clock");
  }
  Accepted out;
  FS_ASSIGN_OR_RETURN(out.member, keys_.IsMember(s.province, s.signer));
  // Who is a member is known once this laptop pinned its office's first
  // device (it joined); before, or while the hub shows it two first devices
  // (Office() says so), the signer is judged later (Confirm).
  absl::StatusOr<KeyRing::OfficeView> office = keys_.Office();
  if (!out.member && office.ok() && office->root) {
    return refuse("its signer is not a member of the office by the records this laptop holds");
  }
  out.statement = std::move(s);
  return out;
}

absl::Status CheckpointKeeper::Confirm(std::vector<std::string>* problems) {
  FS_ASSIGN_OR_RETURN(std::optional<BootstrapProgress> b, replica_.Bootstrap());
  if (!b || b->confirmed != 0) return absl::OkStatus();
  FS_ASSIGN_OR_RETURN(crypto::Statement s, crypto::DecodeStatement(b->statement));
  FS_ASSIGN_OR_RETURN(bool member, keys_.IsMember(s.province, s.signer));
  BootstrapJudgement j;
  std::vector<std::string> lines;
  if (member) {
    j.confirmed = 1;
    // Its heads become anchors now; a bootstrap not finished places them
    // with its last page (the signer is a member by then).
    if (b->next_index == s.leaf_count) {
      FS_RETURN_IF_ERROR(PlaceAnchors(s, b->statement, &j.chain, &lines));
    }
  } else {
    absl::StatusOr<KeyRing::OfficeView> office = keys_.Office();
    if (!office.ok() || !office->root) return absl::OkStatus();  // who is a member: not known yet
    const std::string what = absl::StrCat(
        "this laptop was bootstrapped from a checkpoint signed by ",
        LaptopName(keys_.FindDevice(s.signer), s.signer),
        ", which is not a member of the office: the records it installed then were as the hub "
        "served them; the next sync takes them again from the hub, unverified (what they say "
        "decides no key)");
    TrustEvidence e;
    e.device = s.signer;
    e.kind = static_cast<int>(ChainEvidence::Kind::kForgedCheckpointPage);
    e.other_header = b->statement;
    e.what = what;
    e.found_at_millis = clock_.NowMillis();
    j.chain.evidence.push_back(std::move(e));
    lines.push_back(what);
    j.confirmed = -1;
    // A build before this one placed its heads as anchors at install: a
    // forged link there would make a colleague's next genuine entry a fork.
    for (const crypto::StatedHead& h : s.heads) j.drop_anchors.emplace_back(h.author, h.seq);
    // The rows it installed are the hub's choice: taken again, once, as
    // after any refused checkpoint (the log of this laptop's own commits
    // not yet pushed is merged again on top, as at every reset).
    j.cursors = {{kBootstrappedCursor, 0}, {kCheckpointRefusedCursor, 1}};
  }
  FS_RETURN_IF_ERROR(replica_.ConfirmBootstrap(j));
  for (std::string& line : lines) problems->push_back(std::move(line));
  return absl::OkStatus();
}

absl::Status CheckpointKeeper::PlaceAnchors(const crypto::Statement& s,
                                            const std::string& statement_bytes,
                                            ChainWrites* chain, std::vector<std::string>* lines) {
  const std::string signer = LaptopName(keys_.FindDevice(s.signer), s.signer);
  for (const crypto::StatedHead& h : s.heads) {
    if (h.author == replica_.device_id()) continue;
    const std::string author = LaptopName(keys_.FindDevice(h.author), h.author);
    // Evidence against the hub, as a member's statement that contradicts
    // this laptop's chains is (sync/statement_keeper.h): nobody's signed
    // work is held back for it.
    auto evidence = [&](ChainEvidence::Kind kind, const ChainRow* mine, uint64_t seq,
                        std::string what) {
      TrustEvidence e;
      e.device = h.author;
      e.seq = seq;
      e.kind = static_cast<int>(kind);
      if (mine != nullptr) {
        e.held_header = mine->header;
        e.held_signature = mine->signature;
      }
      e.other_header = statement_bytes;
      e.what = std::move(what);
      e.found_at_millis = clock_.NowMillis();
      lines->push_back(e.what);
      chain->evidence.push_back(std::move(e));
    };
    auto contradicts = [&](const ChainRow& mine) {
      evidence(ChainEvidence::Kind::kStatementContradicts, &mine, h.seq,
               absl::StrCat("the checkpoint of ", signer, " this laptop was bootstrapped from "
                            "names another entry ", h.seq, " of ", author, " than the commits "
                            "this laptop received since: the hub showed the two laptops two "
                            "histories, or ", signer, " signs false statements"));
    };
    ChainRow anchor;
    anchor.device = h.author;
    anchor.seq = h.seq;
    anchor.link = h.link;
    anchor.state = ChainRow::State::kAnchor;
    // The first entry of that author received at or after the head: none,
    // and the next one must link to the head; the head itself, or the one
    // after it, must agree with it.
    FS_ASSIGN_OR_RETURN(std::optional<ChainRow> next, replica_.ChainEntryFrom(h.author, h.seq));
    if (!next) {
      chain->placed.push_back(std::move(anchor));
    } else if (next->seq == h.seq) {
      if (next->link != h.link) contradicts(*next);
    } else if (next->seq > h.seq + 1) {
      evidence(ChainEvidence::Kind::kWithheld, nullptr, next->seq - 1,
               absl::StrCat("the hub did not send commits ", h.seq + 1, "..", next->seq - 1, " of ",
                            author, ", which come after where the checkpoint of ", signer,
                            " this laptop was bootstrapped from says its history stood, and sent "
                            "its later ones: the hub withholds them from this laptop"));
      chain->placed.push_back(std::move(anchor));
    } else {
      absl::StatusOr<crypto::CommitHeader> header = crypto::DecodeCommitHeader(next->header);
      if (header.ok() && header->prev_link != h.link) {
        contradicts(*next);
      } else {
        chain->placed.push_back(std::move(anchor));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckpointKeeper::VerifiedPage> CheckpointKeeper::VerifyPage(
    const crypto::Statement& ck, std::string_view id, uint32_t next, const CheckpointPage& page,
    const std::optional<crypto::KeptProof>& kept) {
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat("a bootstrap page of the office's checkpoint was "
                                            "refused: ", why));
  };
  if (page.checkpoint != id) return bad("it is of another checkpoint");
  if (page.first != next) {
    return bad(absl::StrCat("it starts at row ", page.first, " where ", next, " was next"));
  }
  if (page.states.empty() || page.states.size() > ck.leaf_count - std::min(next, ck.leaf_count)) {
    return bad(absl::StrCat("it holds ", page.states.size(), " rows from ", next, " of ",
                            ck.leaf_count));
  }
  std::vector<std::string> leaves;
  leaves.reserve(page.states.size());
  for (const std::string& st : page.states) leaves.push_back(crypto::RowLeafHash(st));
  std::vector<std::string> whole;
  const std::vector<std::string>* proof = &page.proof;
  if (page.proof_delta) {
    if (!kept || kept->next != next) {
      return bad("its proof is a delta against a state this laptop does not hold");
    }
    absl::StatusOr<std::vector<std::string>> rebuilt =
        crypto::ProofFromDelta(ck.leaf_count, *kept, next + page.states.size(), page.proof);
    if (!rebuilt.ok()) return bad(std::string(rebuilt.status().message()));
    whole = *std::move(rebuilt);
    proof = &whole;
  }
  absl::StatusOr<std::string> root = crypto::RootFromRange(ck.leaf_count, page.first, leaves,
                                                           *proof);
  if (!root.ok()) return bad(std::string(root.status().message()));
  if (*root != ck.root) return bad("its rows are not the ones the checkpoint's root covers");
  VerifiedPage out;
  absl::StatusOr<crypto::KeptProof> after =
      crypto::KeptProofAfter(ck.leaf_count, page.first, leaves, *proof);
  if (!after.ok()) return bad(std::string(after.status().message()));
  out.kept = *std::move(after);
  std::vector<RowSnapshot>& rows = out.rows;
  rows.reserve(page.states.size());
  for (const std::string& st : page.states) {
    // Signed as they are: a state that does not decode was signed so (a
    // signer of another build?): refused the same way.
    absl::StatusOr<RowSnapshot> r = DecodeRowState(st);
    if (!r.ok()) return bad(std::string(r.status().message()));
    rows.push_back(*std::move(r));
  }
  return out;
}

absl::StatusOr<std::pair<uint32_t, std::string>> CheckpointKeeper::Root() {
  FS_ASSIGN_OR_RETURN(std::vector<std::string> leaves, replica_.StateLeaves());
  if (leaves.size() > UINT32_MAX) {
    return absl::ResourceExhaustedError("over 4 billion rows: no checkpoint");
  }
  return std::make_pair(static_cast<uint32_t>(leaves.size()), crypto::MerkleRoot(leaves));
}

absl::StatusOr<bool> CheckpointDue(Replica& replica, KeyRing& keys, const SyncReport& report,
                                   int64_t now_millis, int64_t interval_millis) {
  if (report.cursor <= 0 || report.cursor != report.log_head || report.bootstrapped) return false;
  FS_ASSIGN_OR_RETURN(bool member, keys.IsMember(keys.province(), replica.device_id()));
  if (!member) return false;
  auto within = [&](int64_t at, int64_t span) {
    return at != 0 && now_millis >= at && now_millis - at < span;
  };
  FS_ASSIGN_OR_RETURN(int64_t made, replica.GetCursor(kCheckpointMadeCursor));
  FS_ASSIGN_OR_RETURN(int64_t made_at, replica.GetCursor(kCheckpointPositionCursor));
  if (within(made, interval_millis) && report.cursor - made_at < tuning::kCheckpointPositions) {
    return false;
  }
  FS_ASSIGN_OR_RETURN(int64_t tried, replica.GetCursor(kCheckpointTriedCursor));
  if (within(tried, std::min(interval_millis, tuning::kCheckpointRetryMillis))) return false;
  FS_ASSIGN_OR_RETURN(int64_t bootstrapped, replica.GetCursor(kBootstrappedCursor));
  if (bootstrapped != 1) return false;
  FS_ASSIGN_OR_RETURN(std::optional<ChainRow> own, replica.OwnChainHead());
  FS_ASSIGN_OR_RETURN(int64_t pushed, replica.GetCursor(kPushedCursor));
  if (own && own->seq > static_cast<uint64_t>(std::max<int64_t>(pushed, 0))) return false;
  FS_ASSIGN_OR_RETURN(std::vector<HeldEntry> held, replica.Held(std::nullopt));
  return held.empty();
}

}  // namespace fieldsync::sync
