// Putting back what resolved set-aside work still shows here (an officer's
// discard or keep; docs/PROTOCOL.md, "Refusals per commit and set-aside
// work"): a commit the hub refused never reached it, so a field whose
// version here is one of it must go back to the last version not of one,
// or the next edit of the field names the refused version as its base and
// the hub refuses that edit too (DEPENDS_ON_REFUSED). Recomputed from what
// this replica holds: the writes of the log, and the conflict records (a
// colleague's write the refused one beat). A field whose earlier version is
// neither (a row installed whole from the hub, then edited) is counted and
// left: the hub's state reaches it when this laptop is next rebuilt.
// A commit refused COLLEAGUE_REFUSED stood on a colleague's version the hub
// will never hold: the versions its refusal names (never_coming) that its
// writes name as their base are passed over too (walking back to what they
// stood on), and those it names as resolved are dropped as conflict
// records, or the officer's keep would name them again and be refused again
// (since session 26; only the named ones since session 27: a colleague's
// stored version another field of the commit stood on stays, attack review
// 26, H-MED 1 and H-LOW 1). Where such a base is a revoked colleague's,
// the refusal also says the highest seq of its commits the hub holds
// (never_after): that colleague's later versions the base stood on, lost
// with it by a hub put back from a backup, are passed over too (since
// session 28; attack review 27, MED 1). The hub's word, but it can name only a version
// the commit itself names (and, with never_after, that version's author's
// later versions on the same field: a lying hub can understate what it
// holds of an author, undetectably; attack review 28, LOW 1), it is
// believed only for a version this laptop
// pulled before the hub last said its log went back (H-LOW 2), and it moves
// only this laptop's own field back to an earlier version it holds, as a
// refusal moves its edit aside; a later edit over it is merged at the hub
// as any.
#include <map>
#include <set>
#include <tuple>

#include "store/replica_impl.h"

namespace fieldsync {
namespace {

struct Candidate {
  Version version;
  std::optional<Version> base;
  Value value;
};

using SlotKey = std::tuple<size_t, RowId, size_t>;  // table index, row, slot

// A colleague's version a COLLEAGUE_REFUSED commit stood on: what it stood
// on in turn, once its write is found in the log.
struct Lost {
  bool logged = false;
  std::optional<Version> base;
};

constexpr size_t kVersionBytes = 8 + 16;

}  // namespace

std::string Replica::Impl::EncodeVersions(const std::vector<Version>& versions) {
  std::string out;
  out.reserve(versions.size() * kVersionBytes);
  for (const Version& v : versions) {
    const uint64_t h = v.hlc.packed();
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(h >> shift));
    out.append(v.device.view());
  }
  return out;
}

std::vector<Version> Replica::Impl::DecodeVersions(std::string_view blob) {
  std::vector<Version> out;
  if (blob.size() % kVersionBytes != 0) return out;
  for (size_t at = 0; at < blob.size(); at += kVersionBytes) {
    uint64_t h = 0;
    for (size_t i = 0; i < 8; ++i) h = (h << 8) | static_cast<uint8_t>(blob[at + i]);
    absl::StatusOr<DeviceId> d = DeviceId::FromBytes(blob.substr(at + 8, 16), "device");
    if (!d.ok()) return {};
    out.push_back(Version{Hlc::FromPacked(h), *d});
  }
  return out;
}

std::string Replica::Impl::EncodeHeads(const std::vector<std::pair<DeviceId, uint64_t>>& heads) {
  std::vector<Version> as_versions;
  as_versions.reserve(heads.size());
  for (const auto& [author, seq] : heads) {
    as_versions.push_back(Version{Hlc::FromPacked(seq), author});
  }
  return EncodeVersions(as_versions);
}

std::vector<std::pair<DeviceId, uint64_t>> Replica::Impl::DecodeHeads(std::string_view blob) {
  std::vector<std::pair<DeviceId, uint64_t>> out;
  for (const Version& v : DecodeVersions(blob)) out.emplace_back(v.device, v.hlc.packed());
  return out;
}

absl::StatusOr<size_t> Replica::Impl::ForgetResolvedSetAside() {
  std::vector<uint64_t> seqs;
  // Refused COLLEAGUE_REFUSED: the versions its refusal named.
  std::map<uint64_t, std::set<Version>> over_lost;
  // And, of a revoked author among those, the highest seq the hub holds.
  std::map<uint64_t, std::map<DeviceId, uint64_t>> over_after;
  {
    // Not one the hub kept stored and this laptop wrote over
    // (_fs_superseded): the hub holds its versions, as colleagues do.
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT seq, code, never_coming, never_after FROM "
                                              "_fs_set_aside "
                                              "WHERE discarded_at > 0 AND seq NOT IN (SELECT "
                                              "seq FROM _fs_superseded) ORDER BY seq"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      seqs.push_back(static_cast<uint64_t>(st->ColumnInt(0)));
      if (st->ColumnInt(1) == kColleagueRefusedCode && !st->ColumnIsNull(2)) {
        for (const Version& v : DecodeVersions(st->ColumnBlob(2))) {
          if (v.device != self) over_lost[seqs.back()].insert(v);
        }
        if (!st->ColumnIsNull(3)) {
          for (const auto& [author, held] : DecodeHeads(st->ColumnBlob(3))) {
            if (author != self) over_after[seqs.back()].emplace(author, held);
          }
        }
      }
    }
  }
  if (seqs.empty()) return size_t{0};
  auto slot_of = [&](const TableDef& t, std::string_view col) -> int {
    if (col == kLiveColumn) return 0;
    const int ci = t.ColumnIndex(col);
    return ci < 0 ? -1 : ci + 1;
  };
  // The resolved commits: their stamps, the rows they wrote, and the base
  // of each of their writes (to walk back over several of them).
  std::set<uint64_t> gone;
  std::set<std::pair<size_t, RowId>> rows;
  std::map<SlotKey, std::map<uint64_t, std::optional<Version>>> gone_bases;
  // A colleague's versions a COLLEAGUE_REFUSED one stood on, by slot, with
  // what each stood on (filled from the log below); those it resolved.
  std::map<SlotKey, std::map<Version, Lost>> lost;
  std::map<SlotKey, std::set<Version>> lost_records;
  // Where a named base is a revoked author's: its later commits than the
  // hub holds, which that base may stand on in turn (attack review 27,
  // MED 1: two lost writes in a row, the walk stopped at the first).
  std::map<SlotKey, std::map<DeviceId, uint64_t>> lost_after;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT body FROM _fs_log WHERE device = ?1 AND "
                                              "seq = ?2"));
    for (uint64_t seq : seqs) {
      st->Reset();
      st->BindInt(1, self_idx);
      st->BindInt(2, static_cast<int64_t>(seq));
      FS_ASSIGN_OR_RETURN(bool found, st->Step());
      if (!found) continue;
      FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(0)));
      gone.insert(c.hlc.packed());
      for (const RowChange& rc : c.changes) {
        const int ti = schema->TableIndex(rc.table);
        if (ti < 0) continue;
        const auto tidx = static_cast<size_t>(ti);
        rows.emplace(tidx, rc.row);
        for (const FieldWrite& f : rc.fields) {
          const int s = slot_of(schema->tables()[tidx], f.column);
          if (s < 0) continue;
          const SlotKey key{tidx, rc.row, static_cast<size_t>(s)};
          gone_bases[key][c.hlc.packed()] = f.base;
          const auto named = over_lost.find(seq);
          if (named == over_lost.end()) continue;
          if (f.base && named->second.count(*f.base) > 0) {
            lost[key].try_emplace(*f.base);
            if (auto after = over_after.find(seq); after != over_after.end()) {
              if (auto h = after->second.find(f.base->device); h != after->second.end()) {
                lost_after[key].emplace(h->first, h->second);
              }
            }
          }
          for (const Version& v : f.resolves) {
            if (named->second.count(v) > 0) lost_records[key].insert(v);
          }
        }
      }
    }
  }
  if (rows.empty()) return size_t{0};
  // A named version this laptop pulled after the hub last said its log went
  // back is one the hub has held since (a hub that stored it keeps it: a
  // revocation or a refusal later leaves it stored): that refusal is not
  // borne out here, and the version is not passed over (attack review 26,
  // H-LOW 2). One logged before may be lost at a hub put back.
  int64_t went_back_pos = 0;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT value FROM _fs_cursors WHERE name = ?1"));
    st->BindText(1, kWentBackLogPosCursor);
    FS_ASSIGN_OR_RETURN(bool r, st->Step());
    if (r) went_back_pos = st->ColumnInt(0);
  }
  // Every other write of those rows in the log.
  std::map<SlotKey, std::vector<Candidate>> written;
  {
    FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT device, hlc, body, pos FROM _fs_log ORDER "
                                              "BY pos"));
    while (true) {
      FS_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      if (st->ColumnInt(0) == self_idx &&
          gone.count(static_cast<uint64_t>(st->ColumnInt(1))) > 0) {
        continue;
      }
      const bool since_went_back = st->ColumnInt(3) > went_back_pos;
      FS_ASSIGN_OR_RETURN(Commit c, DecodeCommit(st->ColumnBlob(2)));
      for (const RowChange& rc : c.changes) {
        const int ti = schema->TableIndex(rc.table);
        if (ti < 0 || rows.count({static_cast<size_t>(ti), rc.row}) == 0) continue;
        const auto tidx = static_cast<size_t>(ti);
        for (const FieldWrite& f : rc.fields) {
          const int s = slot_of(schema->tables()[tidx], f.column);
          if (s < 0) continue;
          const SlotKey key{tidx, rc.row, static_cast<size_t>(s)};
          if (!since_went_back) {
            if (auto a = lost_after.find(key); a != lost_after.end()) {
              if (auto h = a->second.find(c.author); h != a->second.end() && c.seq > h->second) {
                lost[key].try_emplace(c.version());
              }
            }
          }
          if (auto l = lost.find(key); l != lost.end()) {
            if (auto v = l->second.find(c.version()); v != l->second.end()) {
              if (!since_went_back) {
                v->second = Lost{true, f.base};
                continue;
              }
              l->second.erase(v);
            }
          }
          if (since_went_back) {
            if (auto l = lost_records.find(key); l != lost_records.end()) {
              l->second.erase(c.version());
            }
          }
          written[key].push_back(Candidate{c.version(), f.base, f.value});
        }
      }
    }
  }
  const Value null_value = Value::Null();
  size_t left = 0;
  for (const auto& [tidx, row] : rows) {
    const TableDef& t = schema->tables()[tidx];
    FS_ASSIGN_OR_RETURN(RowState rs, LoadRow(tidx, row, /*all_values=*/true));
    if (!rs.exists) continue;  // collected, or out of this laptop's view
    // Its conflict records: a resolved commit's dropped, the others
    // candidates (a write the resolved one beat).
    std::map<size_t, std::vector<Candidate>> kept;
    std::vector<std::pair<std::string, Version>> drop;
    {
      FS_ASSIGN_OR_RETURN(auto st, db->Prepared("SELECT col, hlc, device, base_hlc, "
                                                "base_device, value FROM _fs_conflicts WHERE "
                                                "tbl = ?1 AND row = ?2"));
      st->BindText(1, t.name);
      st->BindBlob(2, row.view());
      while (true) {
        FS_ASSIGN_OR_RETURN(bool r, st->Step());
        if (!r) break;
        const std::string col = st->ColumnString(0);
        const int s = slot_of(t, col);
        FS_ASSIGN_OR_RETURN(DeviceId dev, DeviceId::FromBytes(st->ColumnBlob(2), "device"));
        const Version v{Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(1))), dev};
        if (dev == self && gone.count(v.hlc.packed()) > 0) {
          drop.emplace_back(col, v);
          continue;
        }
        if (s < 0) continue;
        if (auto l = lost.find({tidx, row, static_cast<size_t>(s)});
            l != lost.end() && l->second.count(v) > 0) {
          continue;
        }
        // Resolved by the commit, and never held by the hub: no officer
        // could settle it here (the resolution names it and is refused).
        if (auto l = lost_records.find({tidx, row, static_cast<size_t>(s)});
            l != lost_records.end() && l->second.count(v) > 0) {
          drop.emplace_back(col, v);
          continue;
        }
        Candidate c{v, std::nullopt, st->ColumnValue(5)};
        if (!st->ColumnIsNull(3)) {
          FS_ASSIGN_OR_RETURN(DeviceId bdev, DeviceId::FromBytes(st->ColumnBlob(4), "device"));
          c.base = Version{Hlc::FromPacked(static_cast<uint64_t>(st->ColumnInt(3))), bdev};
        }
        kept[static_cast<size_t>(s)].push_back(std::move(c));
      }
    }
    std::vector<Candidate> chosen;
    chosen.reserve(rs.slots.size());
    for (size_t s = 0; s < rs.slots.size(); ++s) {
      SlotMeta& meta = rs.slots[s];
      if (!meta.set || meta.device != self_idx || gone.count(meta.hlc) == 0) continue;
      // The version the resolved writes stood on, walking back over them.
      std::optional<Version> before;
      if (meta.has_base) before = ToVersion(meta.base_hlc, meta.base_device);
      bool unknown = false;
      const auto bases = gone_bases.find({tidx, row, s});
      const auto lost_here = lost.find({tidx, row, s});
      std::set<Version> passed;  // a colleague's bases that loop (crafted) end the walk
      while (before) {
        if (lost_here != lost.end()) {
          if (auto it = lost_here->second.find(*before); it != lost_here->second.end()) {
            if (!it->second.logged || !passed.insert(*before).second) {
              unknown = true;
              break;
            }
            before = it->second.base;
            continue;
          }
        }
        if (before->device != self || gone.count(before->hlc.packed()) == 0) break;
        if (bases == gone_bases.end()) {
          unknown = true;
          break;
        }
        auto it = bases->second.find(before->hlc.packed());
        if (it == bases->second.end()) {
          unknown = true;
          break;
        }
        before = it->second;
      }
      const Candidate* best = nullptr;
      for (const std::vector<Candidate>* from :
           {&written[{tidx, row, s}], &kept[s]}) {
        for (const Candidate& c : *from) {
          if (best == nullptr || best->version < c.version) best = &c;
        }
      }
      if (unknown || (before && (best == nullptr || best->version < *before))) {
        ++left;  // its earlier value is not held here
        continue;
      }
      const uint32_t conflicts = meta.conflicts;
      meta = SlotMeta{};
      meta.conflicts = conflicts;
      if (best == nullptr) {  // never written before the resolved commits
        rs.written[s] = &null_value;
        continue;
      }
      chosen.push_back(*best);
      const Candidate& w = chosen.back();
      FS_ASSIGN_OR_RETURN(meta.device, DeviceIndex(w.version.device, /*create=*/true));
      meta.set = true;
      meta.hlc = w.version.hlc.packed();
      if (w.base) {
        FS_ASSIGN_OR_RETURN(meta.base_device, DeviceIndex(w.base->device, /*create=*/true));
        meta.has_base = true;
        meta.base_hlc = w.base->hlc.packed();
      }
      rs.written[s] = &w.value;
      // Once it wins again it is no conflict record.
      drop.emplace_back(s == 0 ? std::string(kLiveColumn) : std::string(t.columns[s - 1].name),
                        w.version);
    }
    for (const auto& [col, v] : drop) {
      FS_ASSIGN_OR_RETURN(auto del, db->Prepared("DELETE FROM _fs_conflicts WHERE tbl = ?1 AND "
                                                 "row = ?2 AND col = ?3 AND hlc = ?4 AND "
                                                 "device = ?5"));
      del->BindText(1, t.name);
      del->BindBlob(2, row.view());
      del->BindText(3, col);
      del->BindInt(4, static_cast<int64_t>(v.hlc.packed()));
      del->BindBlob(5, v.device.view());
      FS_RETURN_IF_ERROR(del->Run());
      const int s = slot_of(t, col);
      if (s >= 0 && db->Changes() > 0 && rs.slots[static_cast<size_t>(s)].conflicts > 0) {
        --rs.slots[static_cast<size_t>(s)].conflicts;
      }
    }
    if (!rs.slots[0].set) {
      // Only resolved commits ever made the row live: it was never here.
      for (const std::string& sql :
           {absl::StrCat("DELETE FROM ", Quote(t.name), " WHERE id = ?1"),
            std::string("DELETE FROM _fs_conflicts WHERE tbl = ?2 AND row = ?1")}) {
        FS_ASSIGN_OR_RETURN(auto del, db->Prepared(sql));
        del->BindBlob(1, row.view());
        if (sql.find("?2") != std::string::npos) del->BindText(2, t.name);
        FS_RETURN_IF_ERROR(del->Run());
      }
      continue;
    }
    FS_RETURN_IF_ERROR(StoreRow(tidx, row, rs));
  }
  return left;
}

}  // namespace fieldsync
