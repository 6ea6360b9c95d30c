#include "proto/wire.h"

#include <grpc/support/log.h>
#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/strings.h"

namespace fieldsync::wire {

namespace {

std::string Hex(std::string_view raw) {
  std::string hex(2 * raw.size() + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

// "<device id>.<64 hex digits>", the form of both the bearer (after its
// prefix) and the proof.
bool ParseDeviceAndHex32(std::string_view text, DeviceId* device, std::string* bytes) {
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return false;
  absl::StatusOr<DeviceId> id = Id16::Parse(text.substr(0, dot), "device id");
  if (!id.ok()) return false;
  const std::string_view hex = text.substr(dot + 1);
  if (hex.size() != 64) return false;
  std::string raw(32, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), hex.data(),
                     hex.size(), nullptr, &len, nullptr) != 0 ||
      len != 32) {
    return false;
  }
  *device = *id;
  *bytes = std::move(raw);
  return true;
}

// Exactly `n` bytes from 2n lowercase or uppercase hex digits.
bool FromHex(std::string_view hex, size_t n, std::string* out) {
  if (hex.size() != 2 * n) return false;
  std::string raw(n, '\0');
  size_t len = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), hex.data(),
                     hex.size(), nullptr, &len, nullptr) != 0 ||
      len != n) {
    return false;
  }
  *out = std::move(raw);
  return true;
}

absl::Status Unusable() {
  return absl::UnauthenticatedError(
      "the call carries no usable node credential: enrol this node first (fieldnode enroll "
      "--token TOKEN, with a token from the hub administrator)");
}

}  // namespace

std::string BearerToken(const DeviceId& device, const std::string& secret) {
  return absl::StrCat("Bearer ", device.ToString(), ".", Hex(secret));
}

absl::Status ParseBearer(std::string_view header, DeviceId* device, std::string* secret) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.substr(0, kPrefix.size()) != kPrefix) return Unusable();
  header.remove_prefix(kPrefix.size());
  return ParseDeviceAndHex32(header, device, secret) ? absl::OkStatus() : Unusable();
}

std::string ProofHeader(const DeviceId& device, std::string_view proof) {
  return absl::StrCat(device.ToString(), ".", Hex(proof));
}

absl::Status ParseProofHeader(std::string_view header, DeviceId* device, std::string* proof) {
  return ParseDeviceAndHex32(header, device, proof) ? absl::OkStatus() : Unusable();
}

std::string LinkProofHeader(const DeviceId& device, std::string_view certificate_digest,
                            std::string_view proof) {
  return absl::StrCat(device.ToString(), ".", Hex(certificate_digest), ".", Hex(proof));
}

absl::Status ParseLinkProofHeader(std::string_view header, DeviceId* device,
                                  std::string* certificate_digest, std::string* proof) {
  const size_t first = header.find('.');
  const size_t second =
      first == std::string_view::npos ? first : header.find('.', first + 1);
  if (second == std::string_view::npos) return Unusable();
  absl::StatusOr<DeviceId> id = Id16::Parse(header.substr(0, first), "device id");
  std::string digest, sig;
  if (!id.ok() || !FromHex(header.substr(first + 1, second - first - 1), 32, &digest) ||
      !FromHex(header.substr(second + 1), 64, &sig)) {
    return Unusable();
  }
  *device = *id;
  *certificate_digest = std::move(digest);
  *proof = std::move(sig);
  return absl::OkStatus();
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // The one mark a node acts on, as the status's details (sync/protocol.h).
  if (s.GetPayload(AV(sync::kWaitsForLostCommitsUrl)).has_value()) {
    return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                        sync::kWaitsForLostCommitsUrl);
  }
  if (s.code() == absl::StatusCode::kInternal || s.code() == absl::StatusCode::kUnknown) {
    return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                        kHubErrorDetails);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.error_details() == sync::kWaitsForLostCommitsUrl &&
      s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    return sync::WaitsForLostCommitsError(s.error_message());
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

void ToProto(const Value& v, fieldsync::v1::FieldValue* out) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      break;
    case Value::Kind::kInt:
      out->set_int_value(v.int_value());
      break;
    case Value::Kind::kText:
      out->set_text_value(v.str());
      break;
    case Value::Kind::kBytes:
      out->set_bytes_value(v.str());
      break;
  }
}

absl::StatusOr<Value> FromProto(const fieldsync::v1::FieldValue& v) {
  switch (v.kind_case()) {
    case fieldsync::v1::FieldValue::kIntValue:
      return Value::Int(v.int_value());
    case fieldsync::v1::FieldValue::kTextValue:
      return Value::Text(v.text_value());
    case fieldsync::v1::FieldValue::kBytesValue:
      return Value::Bytes(v.bytes_value());
    case fieldsync::v1::FieldValue::KIND_NOT_SET:
      return Value::Null();
  }
  return absl::InvalidArgumentError("a field value of an unknown kind");
}

void VersionToProto(const Version& v, fieldsync::v1::Version* out) {
  out->set_hlc(v.hlc.packed());
  out->set_device(std::string(v.device.view()));
}

absl::StatusOr<Version> VersionFromProto(const fieldsync::v1::Version& v) {
  FS_ASSIGN_OR_RETURN(DeviceId d, Id16::FromBytes(v.device(), "version device"));
  return Version{Hlc::FromPacked(v.hlc()), d};
}

void ToProto(const RowSnapshot& r, fieldsync::v1::RowState* out) {
  out->set_table(r.table);
  out->set_row(std::string(r.row.view()));
  for (const FieldState& f : r.fields) {
    auto* m = out->add_fields();
    m->set_column(f.column);
    ToProto(f.value, m->mutable_value());
    VersionToProto(f.version.version, m->mutable_version());
    if (f.version.base) VersionToProto(*f.version.base, m->mutable_base());
  }
  for (const ConflictRecord& c : r.conflicts) {
    auto* m = out->add_conflicts();
    m->set_column(c.column);
    VersionToProto(c.version, m->mutable_version());
    if (c.base) VersionToProto(*c.base, m->mutable_base());
    ToProto(c.value, m->mutable_value());
  }
}

absl::StatusOr<RowSnapshot> FromProto(const fieldsync::v1::RowState& r) {
  RowSnapshot out;
  out.table = r.table();
  FS_ASSIGN_OR_RETURN(out.row, Id16::FromBytes(r.row(), "row id"));
  for (const auto& f : r.fields()) {
    if (!f.has_version()) {
      return absl::InvalidArgumentError(absl::StrCat("field ", f.column(), " has no version"));
    }
    FieldState s;
    s.column = f.column();
    FS_ASSIGN_OR_RETURN(s.value, FromProto(f.value()));
    FS_ASSIGN_OR_RETURN(s.version.version, VersionFromProto(f.version()));
    if (f.has_base()) {
      FS_ASSIGN_OR_RETURN(Version b, VersionFromProto(f.base()));
      s.version.base = b;
    }
    out.fields.push_back(std::move(s));
  }
  for (const auto& c : r.conflicts()) {
    if (!c.has_version()) {
      return absl::InvalidArgumentError(absl::StrCat("conflict of ", c.column(), " has no version"));
    }
    ConflictRecord rec;
    rec.table = out.table;
    rec.row = out.row;
    rec.column = c.column();
    FS_ASSIGN_OR_RETURN(rec.version, VersionFromProto(c.version()));
    if (c.has_base()) {
      FS_ASSIGN_OR_RETURN(Version b, VersionFromProto(c.base()));
      rec.base = b;
    }
    FS_ASSIGN_OR_RETURN(rec.value, FromProto(c.value()));
    out.conflicts.push_back(std::move(rec));
  }
  return out;
}

namespace {

void GrpcLog(gpr_log_func_args* a) {
  static const bool show = std::getenv("FIELDSYNC_GRPC_LOG") != nullptr;
  if (!show || a == nullptr || a->message == nullptr) return;
  std::string line(a->message);
  for (char& ch : line) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  }
  std::fprintf(stderr, "grpc: %s:%d %s\n", a->file != nullptr ? a->file : "?", a->line,
               line.c_str());
}

}  // namespace

void QuietGrpcLogs() { gpr_set_log_function(&GrpcLog); }

}  // namespace fieldsync::wire
