// The state digest: a hash of the replicated state that two replicas holding
// the same commits share, whatever the order they received them in.
#include "store/replica_impl.h"

#include "absl/strings/str_format.h"
#include "crypto/hash.h"

namespace fieldsync {

namespace {

class Hasher {
 public:
  void Bytes(std::string_view b) {
    U64(b.size());
    h_.Update(b);
  }
  void U64(uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    h_.Update(std::string_view(buf, sizeof(buf)));
  }
  void Val(const Value& v) {
    U64(static_cast<uint64_t>(v.kind()));
    if (v.kind() == Value::Kind::kInt) U64(static_cast<uint64_t>(v.int_value()));
    if (v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kBytes) Bytes(v.str());
  }
  void Ver(const std::optional<Version>& v) {
    U64(v ? 1 : 0);
    if (v) {
      U64(v->hlc.packed());
      Bytes(v->device.view());
    }
  }
  std::string HexDigest() { return crypto::HashHex(h_.Final()); }

 private:
  crypto::Blake2bHasher h_;
};

}  // namespace

absl::StatusOr<std::string> Replica::StateDigest() {
  Impl& m = *impl_;
  Hasher h;
  FS_RETURN_IF_ERROR(m.InReadTxn([&]() -> absl::Status {
    for (size_t ti = 0; ti < m.schema->tables().size(); ++ti) {
      const TableDef& t = m.schema->tables()[ti];
      h.Bytes(t.name);
      std::string cols;
      for (const ColumnDef& c : t.columns) absl::StrAppend(&cols, ", ", Quote(c.name));
      FS_ASSIGN_OR_RETURN(auto st,
                          m.db->Prepared(absl::StrCat("SELECT id, _live, _ver", cols, " FROM ",
                                                      Quote(t.name), " ORDER BY id")));
      const size_t n = t.columns.size() + 1;
      std::vector<SlotMeta> slots;
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        h.Bytes(st->ColumnBlob(0));
        FS_RETURN_IF_ERROR(DecodeRowMeta(st->ColumnBlob(2), n, &slots));
        for (size_t i = 0; i < n; ++i) {
          h.Val(st->ColumnValue(i == 0 ? 1 : static_cast<int>(i + 2)));
          const std::optional<FieldVersion> fv = m.ToFieldVersion(slots[i]);
          h.Ver(fv ? std::optional<Version>(fv->version) : std::nullopt);
          h.Ver(fv ? fv->base : std::nullopt);
        }
      }
    }
    h.Bytes("_fs_conflicts");
    FS_ASSIGN_OR_RETURN(std::vector<ConflictRecord> conflicts, Conflicts());
    for (const ConflictRecord& c : conflicts) {
      h.Bytes(c.table);
      h.Bytes(c.row.view());
      h.Bytes(c.column);
      h.Ver(c.version);
      h.Ver(c.base);
      h.Val(c.value);
    }
    return absl::OkStatus();
  }));
  return h.HexDigest();
}

}  // namespace fieldsync
