// The directories every office shares: organisations, and the contacts
// (agencies, units, officers) and services attached to them. A restricted
// entry's private fields are sealed for the office that wrote it.
#ifndef FIELDSYNC_NODE_OPS_DIRECTORY_H_
#define FIELDSYNC_NODE_OPS_DIRECTORY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "node/ops/office.h"
#include "node/ops/values.h"

namespace fieldsync::node::ops {

struct NewOrg {
  std::string name;
  TypedColumns columns;  // of organisations: kind (required), province, public_phone
};
struct AddedOrg {
  RowId id;
  std::string name;  // as stored (NFC)
};
// AlreadyExists if an organisation of that name (diacritics and case
// aside) is in the directory.
absl::StatusOr<AddedOrg> AddOrg(const Office& o, const NewOrg& in);

struct OrgLine {
  std::string id, name, kind, province;
};
absl::StatusOr<std::vector<OrgLine>> ListOrgs(const Office& o);

// Contacts or services: the table and what a list shows and searches.
struct Directory {
  std::string table;  // contacts, services
  std::string noun;   // contact, service
  std::vector<std::string> list_columns;
  std::vector<std::string> search_columns;
};
const Directory& Contacts();
const Directory& Services();

struct NewEntry {
  std::string org_ref;   // the organisation: name or id
  TypedColumns columns;  // name required; contacts: listing_consent_on; services: kind
};
// A contact is listed only with their prior consent (listing_consent_on).
absl::StatusOr<RowId> AddEntry(const Office& o, const Directory& d, const NewEntry& in);

struct EntryEdit {
  std::string ref;    // the entry's id or its start
  std::string field;  // a column, not province
  std::string value;  // as typed; "" clears
};
struct EditedEntry {
  RowId id;
  std::string column;
};
absl::StatusOr<EditedEntry> EditEntry(const Office& o, const Directory& d, const EntryEdit& in);

// A listed field: the text shown is the value, "•••••• (sealed)" while
// locked, or "(restricted)" where it cannot be opened (another office's
// restricted entry); `state` says which (kClear or kOpened: the value).
struct ShownField {
  std::string column;
  std::string text;
  State state = State::kClear;
};
struct EntryLine {
  RowId id;
  std::vector<ShownField> shown;  // d.list_columns in order
  RowId org_id;                   // the organisation it belongs to
  std::string org;                // its name (clear), "" if not in the directory
};
struct EntryList {
  std::vector<EntryLine> entries;
  bool masked = false;  // some field is sealed and the keystore locked
};
// Every entry, or with `query` those whose searched columns or organisation
// hold every word of it (diacritics and case ignored).
absl::StatusOr<EntryList> ListEntries(const Office& o, const Directory& d,
                                      const std::string& query);

}  // namespace fieldsync::node::ops

#endif  // FIELDSYNC_NODE_OPS_DIRECTORY_H_
