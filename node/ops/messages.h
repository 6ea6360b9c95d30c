// The node library's messages as keys a front end says in its own words
// (base/message.h): every key the library attaches to a status it returns,
// listed once here, so that a front end's catalogue can be checked to hold
// each (the console's messages_library.js, vi and en:
// ConsoleMessagesTest). The English words stay the library's, for the
// command line. A key is attached with Coded(status, Msg::kX, params).
#ifndef FIELDSYNC_NODE_OPS_MESSAGES_H_
#define FIELDSYNC_NODE_OPS_MESSAGES_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "base/message.h"

namespace fieldsync::node::ops {

// X(enumerator, key): parameters in the comment of each group.
#define FIELDSYNC_NODE_MESSAGES(X)                                               \
  /* Values typed for a field (values.cc); "field": table.column. */             \
  X(kValueNotAllowed, "lib.value.not_allowed")              /* value, allowed */ \
  X(kValueNotAllowedSealed, "lib.value.not_allowed_sealed") /* allowed */        \
  X(kValueNotNumber, "lib.value.not_number")                                     \
  X(kValueNotYesNo, "lib.value.not_yes_no")                                      \
  X(kValueBadTime, "lib.value.bad_time")                                         \
  X(kValueBadId, "lib.value.bad_id")                                             \
  X(kValueBadDate, "lib.value.bad_date") /* example */                           \
  X(kValueTooLong, "lib.value.too_long") /* bytes, max */                        \
  X(kValueNotNationality, "lib.value.not_nationality")                           \
  X(kValueNotProvince, "lib.value.not_province")                                 \
  X(kValueUnknownProvince, "lib.value.unknown_province") /* value, known */      \
  X(kValueInFuture, "lib.value.in_future")               /* today */             \
  X(kValueRefused, "lib.value.refused")                                          \
  X(kNoSuchField, "lib.value.no_such_field") /* field: the name given */         \
  X(kFieldNotChangeable, "lib.case.field_not_changeable")                        \
  /* A case (cases.cc). */                                                       \
  X(kNameRequired, "lib.case.name_required")                                     \
  X(kNameNeeded, "lib.case.name_needed")                                         \
  X(kBirthYearsDisagree, "lib.case.birth_years_disagree")                        \
  X(kBirthYearImplausible, "lib.case.birth_year_implausible") /* min, max, field */\
  X(kClosedBeforeOpened, "lib.case.closed_before_opened")                        \
  X(kCaseClosedAlready, "lib.case.closed_already") /* code */                    \
  X(kCaseNoPerson, "lib.case.no_person")                                         \
  X(kCaseOtherOffice, "lib.case.other_office") /* code, office */                \
  X(kNoFreeCode, "lib.case.no_free_code")                                        \
  X(kUnknownStatus, "lib.case.unknown_status")                                   \
  X(kUnknownUrgency, "lib.case.unknown_urgency")                                 \
  X(kSearchNeedsText, "lib.case.search_needs_text")                              \
  /* Finding a record (resolve.cc, office.cc); "ref": what was given. */         \
  X(kRefNeeded, "lib.ref.needed")          /* what */                            \
  X(kRefNotFound, "lib.ref.not_found")     /* what, ref */                       \
  X(kRefSharedCode, "lib.ref.shared_code") /* ref, choices */                    \
  X(kRefSeveral, "lib.ref.several")        /* ref */                             \
  X(kRecordGone, "lib.ref.gone")                                                 \
  /* A date written while the clocks differ (office.cc: a warning). */         \
  X(kClockHubAhead, "lib.clock.hub_ahead")            /* days, today */            \
  X(kClockLaptopAhead, "lib.clock.laptop_ahead")      /* days, today */            \
  /* The keys (office.cc; unlocking: node/session.cc, the console's agent). */  \
  X(kNeedsUnlock, "lib.keys.locked")                                             \
  X(kPassphraseWeak, "lib.keys.passphrase_weak")                                 \
  X(kAgentNotServing, "lib.keys.agent_other")                                    \
  /* Consents and referrals (consents.cc, referrals.cc). */                      \
  X(kConsentScopeNeeded, "lib.consent.scope_needed")                             \
  X(kConsentOrgNeeded, "lib.consent.org_needed")                                 \
  X(kConsentOrgOnlyShare, "lib.consent.org_only_share")                          \
  X(kConsentWithdrawn, "lib.consent.withdrawn_already")                          \
  X(kNoConsentServices, "lib.referral.no_consent_services") /* code, office */   \
  X(kNoConsentOrg, "lib.referral.no_consent_org")           /* code */           \
  X(kReferralTarget, "lib.referral.target_needed")                               \
  X(kReferralReason, "lib.referral.reason_needed")                               \
  X(kReferralCaseClosed, "lib.referral.case_closed")       /* code */            \
  X(kReferralUnknownOffice, "lib.referral.unknown_office") /* office, known */   \
  X(kReferralOwnOffice, "lib.referral.own_office")                               \
  X(kReferralAlready, "lib.referral.already")            /* code, status */      \
  X(kReferralNotAddressed, "lib.referral.not_addressed") /* office */            \
  X(kReferralNotSent, "lib.referral.not_sent")           /* status */            \
  X(kReferralNotAccepted, "lib.referral.not_accepted")   /* status */            \
  X(kDeclineReason, "lib.referral.decline_reason_needed")                        \
  /* Conflicts (conflicts.cc). */                                                \
  X(kNoConflict, "lib.conflict.none")                                            \
  X(kConflictDeletion, "lib.conflict.deletion")                                  \
  X(kConflictSeveral, "lib.conflict.several") /* count */                        \
  X(kConflictSealed, "lib.conflict.sealed")                                      \
  /* The office's devices (devices.cc); "ref": what was given. */                \
  X(kDeviceIsName, "lib.device.is_name")     /* ref */                           \
  X(kDeviceNotFound, "lib.device.not_found") /* ref */                           \
  X(kDeviceSeveral, "lib.device.several")    /* ref, count */                    \
  X(kDeviceCodeForm, "lib.device.code_form")                                     \
  X(kDeviceWrongCode, "lib.device.wrong_code")                                   \
  /* Changes set aside (set_aside.cc); "seq": the change's number. */            \
  X(kSetAsideErased, "lib.setaside.erased")                                      \
  X(kSetAsideNotOpen, "lib.setaside.not_open") /* field */                       \
  X(kSetAsideAltered, "lib.setaside.altered")                                    \
  X(kSetAsideNotFound, "lib.setaside.not_found")                                 \
  X(kSetAsideResolved, "lib.setaside.resolved")                                  \
  X(kSetAsideClockAhead, "lib.setaside.clock_ahead")                             \
  X(kSetAsideDamaged, "lib.setaside.damaged")                                    \
  X(kSetAsideNotInLog, "lib.setaside.not_in_log")                                \
  X(kSetAsideNotCaseFile, "lib.setaside.not_case_file") /* table */              \
  X(kSetAsideDeletes, "lib.setaside.deletes")                                    \
  X(kSetAsidePersonMissing, "lib.setaside.person_missing")                       \
  /* A register brought in (import_*.cc); "line": the file's line. */            \
  X(kImportEncoding, "lib.import.encoding")      /* encoding */                  \
  X(kImportUnreadable, "lib.import.unreadable")  /* encoding */                  \
  X(kImportBomDiffers, "lib.import.bom_differs") /* bom, chosen */               \
  X(kImportNotUtf8, "lib.import.not_utf8")       /* line */                      \
  X(kImportQuoteOpen, "lib.import.quote_open")   /* line */                      \
  X(kImportAfterQuote, "lib.import.after_quote") /* line */                      \
  X(kImportEmpty, "lib.import.empty")                                            \
  X(kImportTooMany, "lib.import.too_many")            /* rows, max */            \
  X(kImportNoName, "lib.import.no_name_column")       /* columns */              \
  X(kImportNoKeyColumn, "lib.import.no_key_column")   /* column */               \
  X(kImportKeyBlank, "lib.import.key_blank")          /* column */               \
  X(kImportWideRow, "lib.import.wide_row")            /* cells, columns */       \
  X(kImportMapSyntax, "lib.import.map_syntax")        /* pair */                 \
  X(kImportNoSuchField, "lib.import.no_such_field")   /* field */                \
  X(kImportNoSuchColumn, "lib.import.no_such_column") /* column, columns */      \
  X(kImportSameField, "lib.import.same_field")        /* column, other, field */ \
  X(kImportNotYesNo, "lib.import.not_yes_no")         /* value */                \
  X(kImportNothingImported, "lib.import.nothing_imported")

enum class Msg {
#define FIELDSYNC_NODE_MESSAGE_ENUM(name, key) name,
  FIELDSYNC_NODE_MESSAGES(FIELDSYNC_NODE_MESSAGE_ENUM)
#undef FIELDSYNC_NODE_MESSAGE_ENUM
};

// The key of `m` ("lib.import.no_name_column").
std::string_view MessageKey(Msg m);

// `s` with the key of `m` and `params` attached (WithMessage).
absl::Status Coded(absl::Status s, Msg m, const MessageParams& params = {});

// Every key the node library attaches, its own, text/'s (NormalizeInput) and
// the store's (store/keyring_messages.h, store/store_messages.h).
std::vector<std::string_view> LibraryMessageKeys();

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_MESSAGES_H_
