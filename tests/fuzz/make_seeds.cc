// Writes the seed corpora of the fuzz targets (tests/fuzz/seeds/TARGET/):
//
//   fuzz_make_seeds OUT_DIR        (OUT_DIR: tests/fuzz/seeds)
//
// Valid inputs of every kind, each checked by the parser it seeds before it
// is written. Sealed values and key records use the fixed keys of
// fuzz_fixtures.h, so they open and verify in the fuzz targets. Run once and
// commit the output; re-run only when a format changes. Built, not run, by the
// suite (like make_replica_fixture). Sealing the keystore seed runs Argon2id
// (256 MiB, about a second).
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "change/commit.h"
#include "change/commit_codec.h"
#include "crypto/envelope.h"
#include "crypto/key_record.h"
#include "crypto/statement.h"
#include "crypto/keystore.h"
#include "crypto/merkle.h"
#include "fuzz_fixtures.h"
#include "schema/schema.h"
#include "schema/validate_commit.h"

namespace fieldsync::fuzz {
namespace {

std::string out_dir;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz_make_seeds: %s\n", what.c_str());
  std::exit(1);
}

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::string dir = out_dir + "/" + target;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    Die("cannot create " + dir + ": " + std::strerror(errno));
  }
  const std::string path = dir + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) Die("cannot write " + path);
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

void Check(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + std::string(s.message()));
}

// --- commit -----------------------------------------------------------------

Hlc At(uint64_t millis, uint64_t counter = 0) { return Hlc::FromParts(millis, counter); }
constexpr uint64_t kT = 1'764'000'000'000;

void WriteCommit(const std::string& name, const Commit& c) {
  const std::string bytes = EncodeCommit(c);
  absl::StatusOr<Commit> back = DecodeCommit(bytes);
  Check(back.status(), name + " does not decode");
  Check(ValidateCommit(FieldOfficeSchema(), *back), name + " is not valid");
  if (EncodeCommit(*back) != bytes) Die(name + " does not round-trip");
  Write("commit", name, bytes);
}

void Commits() {
  // Every part of the format (the commit of tests/commit_codec_test.cc).
  Commit c;
  c.author = FixedId(0xA1);
  c.seq = 300;
  c.hlc = At(kT, 2);
  RowChange person;
  person.table = "persons";
  person.row = FixedId(0x01);
  person.fields.push_back({"_live", Value::Int(1), std::nullopt, {}});
  person.fields.push_back({"full_name", Value::Text("Nguyễn Thị Hằng"),
                           Version{At(kT, 1), FixedId(0xB2)}, {}});
  person.fields.push_back({"birth_year", Value::Int(-5), std::nullopt,
                           {Version{At(kT - 1'000'000'000), FixedId(0xC3)}}});
  person.fields.push_back({"other_names", Value::Null(), std::nullopt, {}});
  c.changes.push_back(person);
  RowChange kase;
  kase.table = "cases";
  kase.row = FixedId(0x02);
  kase.fields.push_back(
      {"person_id", Value::Bytes(std::string(FixedId(0x01).view())), std::nullopt, {}});
  c.changes.push_back(kase);
  WriteCommit("every_part.bin", c);

  // A new case with enums, an enum set, a date, a timestamp and a bool.
  Commit open;
  open.author = FixedId(0xA2);
  open.seq = 1;
  open.hlc = At(kT + 5'000);
  RowChange k;
  k.table = "cases";
  k.row = FixedId(0x03);
  k.fields.push_back({"_live", Value::Int(1), std::nullopt, {}});
  k.fields.push_back({"case_code", Value::Text("HN-2025-0042"), std::nullopt, {}});
  k.fields.push_back({"status", Value::Text("intake"), std::nullopt, {}});
  k.fields.push_back({"exploitation_types", Value::Text("sexual,labour,forced_marriage"),
                      std::nullopt, {}});
  k.fields.push_back({"opened_on", Value::Text("2024-02-29"), std::nullopt, {}});
  k.fields.push_back({"crime_reported_at", Value::Int(1'700'000'000'000), std::nullopt, {}});
  k.fields.push_back({"urgency", Value::Text("urgent"), std::nullopt, {}});
  open.changes.push_back(k);
  RowChange p;
  p.table = "persons";
  p.row = FixedId(0x04);
  p.fields.push_back({"_live", Value::Int(1), std::nullopt, {}});
  p.fields.push_back({"is_child", Value::Int(1), std::nullopt, {}});
  p.fields.push_back({"age_band", Value::Text("12-15"), std::nullopt, {}});
  open.changes.push_back(p);
  WriteCommit("new_case.bin", open);

  // A deletion (tombstone) resolving two conflicting versions.
  Commit del;
  del.author = FixedId(0xA3);
  del.seq = 1'000'000;
  del.hlc = At(kT + 9'000, 7);
  RowChange d;
  d.table = "referrals";
  d.row = FixedId(0x05);
  d.fields.push_back({"_live", Value::Int(0), Version{At(kT + 8'000), FixedId(0xA3)},
                      {Version{At(kT + 8'500), FixedId(0xB4)},
                       Version{At(kT + 8'600, 3), FixedId(0xC5)}}});
  del.changes.push_back(d);
  WriteCommit("tombstone_resolves.bin", del);

  // Sensitive fields holding sealed envelopes (bytes), as a node writes them.
  Commit sealed;
  sealed.author = FixedId(0xA1);
  sealed.seq = 301;
  sealed.hlc = At(kT, 3);
  RowChange ps;
  ps.table = "persons";
  ps.row = FixedId(0x01);
  for (const char* column : {"full_name", "phones"}) {
    crypto::FieldContext where = FixedFieldContext();
    where.column = column;
    where.hlc = sealed.hlc;
    absl::StatusOr<std::string> env = crypto::SealValueWithNonce(
        FixedDataKey(), FixedKeyRing(), kFixedKeyVersion, where, Value::Text("0912 345 678"),
        Filled(24, 0x6F));
    Check(env.status(), "sealing a commit field");
    ps.fields.push_back({column, Value::Bytes(*env), std::nullopt, {}});
  }
  sealed.changes.push_back(ps);
  WriteCommit("sealed_fields.bin", sealed);
}

// --- envelope ---------------------------------------------------------------

void Envelopes() {
  const std::string nonce = Filled(24, 0x6E);
  auto seal = [&](const std::string& name, const Value& v) {
    absl::StatusOr<std::string> sealed = crypto::SealValueWithNonce(
        FixedDataKey(), FixedKeyRing(), kFixedKeyVersion, FixedFieldContext(), v, nonce);
    Check(sealed.status(), name);
    Check(crypto::ParseEnvelope(*sealed).status(), name + " does not parse");
    absl::StatusOr<Value> back = crypto::OpenValue(FixedDataKey(), *sealed, FixedFieldContext());
    Check(back.status(), name + " does not open");
    if (*back != v) Die(name + " opens to another value");
    Write("envelope", name, *sealed);
  };
  seal("int.bin", Value::Int(-1234567890123));
  seal("text_short.bin", Value::Text("Nguyễn Thị Hằng"));
  seal("text_128.bin", Value::Text(std::string(100, 'x')));
  seal("bytes_16.bin", Value::Bytes(std::string(FixedId(0x07).view())));
  seal("text_512.bin", Value::Text(std::string(300, 'y')));
  seal("text_empty.bin", Value::Text(""));
}

// --- statements -------------------------------------------------------------

void Statements() {
  const crypto::DeviceIdentity& signer = FixedSigner();
  auto write = [&](const std::string& name, const crypto::Statement& st) {
    const std::string bytes = Must(crypto::SignStatement(signer, st));
    Check(crypto::DecodeStatement(bytes).status(), name + " does not decode");
    Check(crypto::VerifyStatement(bytes, signer.public_keys().sign_pk), name + " does not verify");
    Write("statement", name, bytes);
  };
  crypto::Statement s;
  s.signer = signer.device();
  s.created_hlc = uint64_t{kFixedCreatedMillis} << 16;
  s.province = "LC";
  s.hub_id = FixedId(0x40);
  s.position = 77;
  s.key_cursor = 12;
  write("empty.bin", s);
  s.heads.push_back(crypto::StatedHead{FixedId(0x10), 5, Filled(32, 0x05)});
  s.heads.push_back(crypto::StatedHead{FixedId(0x20), 1, Filled(32, 0x01)});
  s.refused.push_back(crypto::StatedRange{3, 4});
  write("two_heads.bin", s);
  s.kind = crypto::StatementKind::kSeenAndCheckpoint;
  s.leaf_count = 4000;
  s.root = Filled(32, 0x52);
  write("checkpoint.bin", s);
}

// --- key records ------------------------------------------------------------

void KeyRecords() {
  const crypto::DeviceIdentity& signer = FixedSigner();
  auto write = [&](const std::string& name, const crypto::KeyRecord& r) {
    absl::StatusOr<crypto::KeyRecord> back = crypto::ParseKeyRecord(r.bytes);
    Check(back.status(), name + " does not parse");
    Check(crypto::VerifyKeyRecord(*back, signer.public_keys()), name + " does not verify");
    Write("key_record", name, r.bytes);
  };
  const crypto::KeyRecord& office = FixedOfficeKeyRecord();
  write("office_key.bin", office);

  crypto::KeyRecord share = Must(crypto::ShareOfficeKey(signer, At(kT, 1), FixedOfficeKey(),
                                                   signer.public_keys()));
  Check(crypto::OpenOfficeShare(signer, share, office).status(), "share does not open");
  write("office_share.bin", share);

  const crypto::SecretBytes data_key = crypto::SecretBytes::Copy(Filled(32, 0x5D));
  crypto::KeyRecord owner = Must(crypto::WrapDataKey(signer, At(kT, 2), FixedKeyRing(),
                                                kFixedKeyVersion, data_key, office,
                                                crypto::DataKeyPurpose::kOwner));
  Check(crypto::OpenDataKey(FixedOfficeKey(), owner).status(), "data key does not open");
  write("data_key_owner.bin", owner);
  crypto::KeyRecord referral = Must(crypto::WrapDataKey(signer, At(kT, 3), FixedId(0x4C), 1, data_key,
                                                   office, crypto::DataKeyPurpose::kReferral));
  write("data_key_referral.bin", referral);

  write("erasure.bin", Must(crypto::ErasureRecord(signer, At(kT, 4), FixedKeyRing())));

  // Kind 5: wrapped symmetrically for the creator's own office, unsigned.
  crypto::KeyRecord for_office = crypto::WrapDataKeyForOffice(
      signer.device(), At(kT, 5), FixedKeyRing(), kFixedKeyVersion + 1, data_key,
      FixedOfficeKey());
  Check(crypto::OpenDataKey(FixedOfficeKey(), for_office).status(),
        "office data key does not open");
  write("office_data_key.bin", for_office);

  // Kind 6: office membership (a first device, an approval, a removal
  // keeping one approval).
  const crypto::DeviceIdentity other = crypto::DeviceIdentity::Generate(FixedId(0x6E));
  write("membership_first.bin",
        Must(crypto::MembershipRecord(signer, At(kT, 6), "LC", crypto::MembershipAction::kFirstDevice,
                                 signer.public_keys())));
  write("membership_approve.bin",
        Must(crypto::MembershipRecord(signer, At(kT, 7), "LC", crypto::MembershipAction::kApprove,
                                 other.public_keys())));
  write("membership_remove.bin",
        Must(crypto::MembershipRecord(signer, At(kT, 8), "LC", crypto::MembershipAction::kRemove,
                                 other.public_keys(), {std::string(16, '\x6B')})));
}

// --- keystore ---------------------------------------------------------------

void Keystores() {
  absl::StatusOr<std::string> ks =
      crypto::SealKeystore(FixedSigner(), "correct horse battery staple");
  Check(ks.status(), "keystore");
  if (ks->size() != crypto::kKeystoreBytes) Die("keystore of unexpected length");
  Check(crypto::ParseKeystore(*ks).status(), "keystore does not parse");
  Write("keystore", "moderate.bin", *ks);
}

// --- checkpoint trees ---------------------------------------------------------

// Inputs of merkle_fuzz.cc (its header gives the layout): real pages with
// their proofs (mode 0, RootFromRange as given), and real trees (mode 1).
void MerkleProofs() {
  auto u32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  const std::vector<std::array<uint32_t, 3>> pages = {
      {1, 0, 1}, {7, 2, 5}, {70, 0, 64}, {70, 69, 70}, {33, 10, 11}};
  for (const auto& [n, b, e] : pages) {
    std::vector<std::string> leaves;
    for (uint32_t i = 0; i < n; ++i) {
      leaves.push_back(crypto::RowLeafHash("row " + std::to_string(i)));
    }
    const std::vector<std::string> proof = Must(crypto::RangeProof(leaves, b, e));
    std::string in = std::string(1, '\x00') + u32(n) + u32(b);
    in += static_cast<char>(e - b);
    in += static_cast<char>(proof.size());
    for (uint32_t i = b; i < e; ++i) in += leaves[i];
    for (const std::string& h : proof) in += h;
    const std::vector<std::string> page(leaves.begin() + b, leaves.begin() + e);
    Check(crypto::VerifyRange(n, b, page, proof, crypto::MerkleRoot(leaves)), "merkle seed");
    Write("merkle", "page_" + std::to_string(n) + "_" + std::to_string(b) + "_" +
                        std::to_string(e) + ".bin", in);
  }
  std::string tree = std::string(1, '\x01') + u32(40) + u32(9) + std::string(2, '\x05');
  for (int i = 0; i < 41; ++i) tree += crypto::RowLeafHash("leaf " + std::to_string(i));
  Write("merkle", "tree_41.bin", tree);
}

}  // namespace
}  // namespace fieldsync::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR   (tests/fuzz/seeds)\n", argv[0]);
    return 2;
  }
  fieldsync::fuzz::out_dir = argv[1];
  if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "cannot create %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  fieldsync::fuzz::Commits();
  fieldsync::fuzz::Envelopes();
  fieldsync::fuzz::KeyRecords();
  fieldsync::fuzz::Statements();
  fieldsync::fuzz::Keystores();
  fieldsync::fuzz::MerkleProofs();
  return 0;
}
