// Referral authority: whether a referral lets its case's keys go to the
// office it is addressed to, and which offices its letter is sealed for --
// judged from the signed authors of its fields (change/referral_rules.h),
// never from its current values alone (docs/CRYPTO.md, "Referral
// authority"). Functions over the versions that wrote each field and the
// offices' memberships (crypto::KeyFacts); the store reads the referral and
// supplies what needs its log (signed commits showing those versions, an
// answer applied here, no concurrent answer left open, a referral noted
// final here), the costly ones as callbacks asked only when the decision
// reaches them: store/keyring_referrals.cc.
#ifndef FIELDSYNC_CRYPTO_REFERRAL_AUTHORITY_H_
#define FIELDSYNC_CRYPTO_REFERRAL_AUTHORITY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "change/commit.h"
#include "change/value.h"
#include "crypto/key_policy.h"

namespace fieldsync::crypto {

// Whether a referral from `from_office` to `to_office` of a case `owner`
// owns (as held) can grant at all: only the owning office refers its case's
// keys, and never to itself. Asked before the referral is read.
bool ReferralOfficesMayGrant(std::string_view owner, std::string_view from_office,
                             std::string_view to_office);

// A referral's fields as held: the version that wrote each (null: none),
// and the version its status write was based on.
struct ReferralAuthorship {
  const std::string& owner;      // the office that owns the case (its from_office)
  const std::string& to_office;  // the office it is addressed to
  const Version* case_id = nullptr;
  const Version* from_office = nullptr;
  const Version* to_office_written = nullptr;  // the creation
  const Version* status = nullptr;             // the answer
  const Version* status_base = nullptr;
  // Whether the creation is a commit of this laptop the hub refused, set
  // aside here (sync/set_aside.h); asked last. Null: not asked (none).
  std::function<absl::StatusOr<bool>()> created_set_aside = nullptr;
};

// Whether the referral's creation and answer authorise its case's keys to
// go to to_office: case_id, from_office and to_office written in one write
// (its creation) by a member *now* of the owning office (a referral made by
// a device removed since grants nothing more, however it was dated: a
// creation's HLC is its author's choice), answered by a device to_office
// approved (a member then or now), in a write based on that creation; and
// that creation not set aside here: the hub refused it, so no referral was
// made, whatever answer a hub relays (attack review 72, H1 and LOW 4).
absl::StatusOr<bool> ReferralAuthorises(const ReferralAuthorship& r, KeyFacts& facts);

// A referral whose case's keys may go to its receiving office: one
// ReferralAuthorises, and the store's checks of its log, let grant
// (AuthorisedReferrals in store/keyring_referrals.cc).
struct AuthorisedReferral {
  RowId referral;
  RowId case_id;
  std::optional<RowId> person;
  std::string to_office;
  std::string owner;  // the office that owns the case and referred it
};

// A referral's offices as this laptop holds them, for its letter.
struct LetterAuthorship {
  bool live = false;
  const Value* from_office = nullptr;      // its value
  const Value* to_office = nullptr;        // its value
  const Version* created = nullptr;        // the version of from_office
  const Version* case_id = nullptr;
  const Version* to_office_written = nullptr;
  const Version* to_organisation = nullptr;
};

// Whether the referral holds the offices its referring office wrote when
// it made it: live, from_office text and to_office text or NULL, case_id
// written in the creation, to_office and to_organisation never rewritten
// since (written in it, or never), and the creation by a device from_office
// approved. A rewrite the hub should have refused must not choose who
// reads a letter.
absl::StatusOr<bool> LetterOfficesHold(const LetterAuthorship& r, KeyFacts& facts);

// The offices a referral's creation wrote (LetterOfficesHold): the
// referring one, and the receiving one ("" for an organisation).
struct LetterOffices {
  std::string from;
  std::string to;
};

// The offices an owning office referred a case to, whose versions of the
// case's key ring it passes on: those with a referral still open (sent or
// accepted, never seen final here), and those whose referrals all ended.
struct ReferralSources {
  std::set<std::string> open;
  std::set<std::string> ended;
};

// One live referral `mine` made of a case it owns, to `to`, as held here.
struct SourceReferral {
  // The offices its creation wrote, if the row is vouched for here and they
  // hold (LetterOfficesHold); null otherwise.
  const LetterOffices* letter = nullptr;
  const Version* created = nullptr;  // the version of its from_office
  const Value* status = nullptr;     // its answer as held
  // Whether this laptop saw it declined, completed or deleted (an answer
  // the merge did not keep); asked only of a referral open as held.
  std::function<absl::StatusOr<bool>()> noted_final;
};

enum class SourceStanding : uint8_t {
  kNone = 0,   // not a source: not vouched, its offices rewritten, or made by a non-member
  kOpen = 1,   // a partner now
  kEnded = 2,  // declined or completed as held, or seen final here
};

// What referral `r` makes of `to` for the office `mine`: a source only if
// its creation wrote `mine` and `to`, by a member of `mine` now; ended if
// its answer as held is final or it was seen final here.
absl::StatusOr<SourceStanding> ReferralSourceStanding(const std::string& mine,
                                                      const std::string& to,
                                                      const SourceReferral& r, KeyFacts& facts);

// Folds a referral's standing into `sources`: one open referral to an
// office makes it open, whatever others of it ended (and none is asked
// once it is: SourceSettled).
void AddReferralSource(ReferralSources& sources, const std::string& to, SourceStanding s);
bool SourceSettled(const ReferralSources& sources, const std::string& to);

// EndedSince, for version `made` of a key ring (the HLC of its earliest
// record here): whether an office no longer entitled to it may hold it.

// A referral deleted (the row cleared), to `to`, at `deleted_hlc`, as the
// deletion found it: ends the version if `to` is not entitled and the
// deletion is dated after the version was made.
bool DeletionEndsVersion(const std::string& to, uint64_t deleted_hlc,
                         const std::set<std::string>& entitled, uint64_t made);

// A referral of the key ring's case (or of a case of its person), as held.
struct HeldReferral {
  std::string to;  // its to_office
  bool live = false;
  const Value* status = nullptr;          // its answer as held
  const Version* answer = nullptr;        // the version of that answer; null: none
  const Version* deletion = nullptr;      // the version of its deletion (not live); null: none
  // Whether a commit applied here wrote `answer` (not an answer the hub
  // chose among the versions of a referral taken whole).
  std::function<absl::StatusOr<bool>(const Version& answer)> answered_here;
  // Whether this laptop holds a record of the version it signed itself.
  std::function<absl::StatusOr<bool>()> made_here;
  // Whether this laptop saw it declined, completed or deleted.
  std::function<absl::StatusOr<bool>()> final_here;
  // Whether this laptop made the version and `ending`, applied here,
  // reached its log after the commit that made it (its own order).
  std::function<absl::StatusOr<bool>(const Version& ending)> ended_after_made_here;
};

// Whether referral `r` ends version `made` for an office not `entitled`:
// its answer not written by a commit applied here (it may be a replay of
// an ended acceptance) and the version not one this laptop signed; or
// ended (deleted, final as held, seen final here) with the ending dated
// after the version was made, or not dated at all, or dated before by the
// ender's word but reaching this laptop's log after the version was made
// here. A referral to an entitled office ends nothing.
absl::StatusOr<bool> ReferralEndsVersion(const HeldReferral& r,
                                         const std::set<std::string>& entitled, uint64_t made);

}  // namespace fieldsync::crypto

#endif  // FIELDSYNC_CRYPTO_REFERRAL_AUTHORITY_H_
