// Referral lifecycles in the simulation (sim/world.h): each referral draws
// its fate when it is made (kept accepted; accepted, then completed;
// declined), and the receiving office's laptops answer as it says
// (sent -> accepted | declined, accepted -> completed: the rules of
// change/referral_rules.h). The invariant: the receiving office opens the
// case's sealed narrative only where the rules allow it, tried with its
// own key ring on every narrative the referring office wrote: nothing
// while the referral was never accepted, nothing written by a laptop that
// already held the referral declined or completed (docs/CRYPTO.md,
// "Referrals, revocation, erasure"); and, once converged, each referral
// ended as answered.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "change/referral_rules.h"
#include "sim/world.h"

namespace fieldsync::sim {
namespace {

double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

std::string Ending(World::Fate fate);

absl::StatusOr<std::string> StatusAt(Replica& replica, const RowId& referral) {
  FS_ASSIGN_OR_RETURN(std::optional<Row> row, replica.Get("referrals", referral));
  if (!row || !row->live) return std::string();
  const TableDef& t = *replica.schema().FindTable("referrals");
  const Value& v = row->values[static_cast<size_t>(t.ColumnIndex("status"))];
  return v.kind() == Value::Kind::kText ? v.str() : std::string();
}

}  // namespace

World::Fate World::DrawFate() {
  if (shape_.decline == 0 && shape_.complete == 0) return Fate::kAccept;
  if (Unit(more_rng_) < shape_.decline) return Fate::kDecline;
  return Unit(more_rng_) < shape_.complete ? Fate::kComplete : Fate::kAccept;
}

const World::SimReferral* World::ReferralOf(size_t kase) const {
  for (const SimReferral& r : referrals_) {
    if (r.kase == cases_[kase].id) return &r;
  }
  return nullptr;
}

absl::StatusOr<bool> World::HoldsFinal(Laptop& l, const SimReferral& r) {
  FS_ASSIGN_OR_RETURN(std::string status, StatusAt(*l.replica, r.id));
  return referral::IsFinal(status);
}

void World::NoteNarrative(size_t kase, const Commit& c, bool after_final) {
  for (const RowChange& rc : c.changes) {
    if (rc.table != "cases" || rc.row != cases_[kase].id) continue;
    for (const FieldWrite& f : rc.fields) {
      if (f.column == "narrative") narratives_.push_back({kase, f.value, c.version(), after_final});
    }
  }
}

absl::Status World::AnswerReferrals(Laptop& l, bool all) {
  for (SimReferral& r : referrals_) {
    if (r.to != l.province) continue;
    FS_ASSIGN_OR_RETURN(std::string status, StatusAt(*l.replica, r.id));
    referral::Status answer;
    if (status == referral::StatusName(referral::Status::kSent)) {
      answer = r.fate == Fate::kDecline ? referral::Status::kDeclined : referral::Status::kAccepted;
    } else if (status == referral::StatusName(referral::Status::kAccepted) &&
               r.fate == Fate::kComplete) {
      answer = referral::Status::kCompleted;
    } else {
      continue;
    }
    LocalTxn txn;
    txn.Set("referrals", r.id, {{"status", Value::Text(std::string(referral::StatusName(answer)))}});
    FS_ASSIGN_OR_RETURN(std::optional<Commit> c, WriteOn(l, txn));
    if (c) {
      ++writes_;
      r.accepted |= answer == referral::Status::kAccepted;
    }
    if (!all) break;
  }
  return absl::OkStatus();
}

absl::Status World::WriteAfterFinal() {
  for (const SimReferral& r : referrals_) {
    if (r.fate == Fate::kAccept) continue;
    size_t k = 0;
    while (cases_[k].id != r.kase) ++k;
    Laptop& l = *laptops_[cases_[k].creator];
    FS_ASSIGN_OR_RETURN(bool final_here, HoldsFinal(l, r));
    if (!final_here) {
      // A clock beyond the tolerance may hold the answer up for good.
      if (shape_.far_off_laptops > 0) continue;
      return absl::InternalError(absl::StrCat(l.name, " does not hold referral ", r.id.ToString(),
                                              " ", Ending(r.fate), " after three rounds"));
    }
    LocalTxn t;
    t.Set("cases", r.kase,
          {{"narrative", Value::Text(absl::StrCat("Sau khi kết thúc, bản ", more_rng_() % 1000))}});
    FS_ASSIGN_OR_RETURN(std::optional<Commit> c, WriteOn(l, t));
    ++writes_;
    NoteNarrative(k, *c, /*after_final=*/true);
  }
  return absl::OkStatus();
}

absl::Status World::CheckReferrals(bool converged) {
  for (const SimReferral& r : referrals_) {
    for (const SimNarrative& n : narratives_) {
      if (cases_[n.kase].id != r.kase) continue;
      for (auto& l : laptops_) {
        if (l->province != r.to) continue;
        const OpenedField f = l->keys->Read("cases", r.kase, "narrative", n.sealed, n.version);
        const bool opened = f.state == OpenedField::State::kOpened;
        if (opened && (!r.accepted || n.after_final)) {
          return absl::InternalError(absl::StrCat(
              l->name, " opens the narrative of case ", r.kase.ToString(), " written at ",
              n.version.hlc.ToString(),
              !r.accepted ? ", whose referral to it was never accepted"
                          : absl::StrCat(" by a laptop that held its referral ", Ending(r.fate))));
        }
        reads_refused_ += !opened && (!r.accepted || n.after_final);
      }
    }
    if (!converged) continue;
    FS_ASSIGN_OR_RETURN(std::string status, StatusAt(store_->replica(), r.id));
    if (status != Ending(r.fate)) {
      return absl::InternalError(absl::StrCat("referral ", r.id.ToString(), " to ", r.to,
                                              " is \"", status, "\" at the hub, answered \"",
                                              Ending(r.fate), "\""));
    }
  }
  return absl::OkStatus();
}

namespace {

std::string Ending(World::Fate fate) {
  switch (fate) {
    case World::Fate::kAccept: return std::string(referral::StatusName(referral::Status::kAccepted));
    case World::Fate::kComplete: return std::string(referral::StatusName(referral::Status::kCompleted));
    case World::Fate::kDecline: return std::string(referral::StatusName(referral::Status::kDeclined));
  }
  return "?";
}

}  // namespace
}  // namespace fieldsync::sim
