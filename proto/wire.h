// What node and hub share around the generated code: conversions between
// sync-core's types and the wire messages, status codes across the gRPC
// boundary, and the credential metadata. Linked by node/ and hub/, never by
// sync-core.
#ifndef FIELDSYNC_PROTO_WIRE_H_
#define FIELDSYNC_PROTO_WIRE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fieldsync/v1/sync.pb.h"
#include "store/replica.h"
#include "sync/protocol.h"

namespace fieldsync::wire {

// The protocol this build speaks, and the limits of docs/PROTOCOL.md
// (sync-core/sync/protocol.h: the same for every transport).
static_assert(sync::kProtocolVersion == fieldsync::v1::PROTOCOL_VERSION_2);
using sync::kProtocolVersion;
using sync::kMaxMessageBytes;
using sync::kMaxPushCommits;
using sync::kMaxPushKeyRecords;
using sync::kDefaultPullBatch;
using sync::kMaxPullBatch;
using sync::kEnrolChallengeMillis;
using sync::CheckProtocol;

// The metadata key that carries a node's credential.
inline constexpr char kAuthKey[] = "authorization";
// "Bearer <device id>.<secret hex>"
std::string BearerToken(const DeviceId& device, const std::string& secret);
// INVALID_ARGUMENT-free parse: UNAUTHENTICATED with a message on anything odd.
absl::Status ParseBearer(std::string_view header, DeviceId* device, std::string* secret);

// The metadata key that carries a node's credential proof instead
// (crypto/credential_proof.h; docs/PROTOCOL.md, "Credentials", proof
// version 1). A node of session 23 on sends only this; hubs still take the
// bearer from older nodes.
inline constexpr char kProofKey[] = "fieldsync-proof";
// "<device id>.<proof hex>"
std::string ProofHeader(const DeviceId& device, std::string_view proof);
// As ParseBearer; the words never repeat the header.
absl::Status ParseProofHeader(std::string_view header, DeviceId* device, std::string* proof);

// The metadata key of a node's link proof (crypto/credential_proof.h,
// proof version 2; session 24), sent with the version 1 proof: a hub that
// holds the device's link key reads it alone.
inline constexpr char kLinkProofKey[] = "fieldsync-link-proof";
// "<device id>.<certificate digest hex>.<signature hex>": the digest of the
// certificate the node saw, so that the hub can say a proof was made over
// a certificate it does not serve (a TLS proxy without --proof-cert).
std::string LinkProofHeader(const DeviceId& device, std::string_view certificate_digest,
                            std::string_view proof);
// As ParseBearer.
absl::Status ParseLinkProofHeader(std::string_view header, DeviceId* device,
                                  std::string* certificate_digest, std::string* proof);

// The details a hub's own INTERNAL or UNKNOWN answer carries, so that a
// node tells it from a link that broke under the call, which gRPC reports
// with the same codes (node/grpc_transport.h, LinkBroke).
inline constexpr char kHubErrorDetails[] = "fieldsync.v1/hub-error";

grpc::Status ToGrpc(const absl::Status& s);
absl::Status FromGrpc(const grpc::Status& s);

void ToProto(const Value& v, fieldsync::v1::FieldValue* out);
absl::StatusOr<Value> FromProto(const fieldsync::v1::FieldValue& v);
void VersionToProto(const Version& v, fieldsync::v1::Version* out);
absl::StatusOr<Version> VersionFromProto(const fieldsync::v1::Version& v);
void ToProto(const RowSnapshot& r, fieldsync::v1::RowState* out);
absl::StatusOr<RowSnapshot> FromProto(const fieldsync::v1::RowState& r);

// Keeps gRPC's own log lines ("E1204 ... ssl_transport_security.cc:807]
// Could not load any root certificate") off the user's screen: the
// programs say what went wrong in one line of their own. With
// FIELDSYNC_GRPC_LOG set, they are printed to stderr, prefixed "grpc: ",
// control characters replaced. Call once, first thing in main.
void QuietGrpcLogs();

}  // namespace fieldsync::wire

#endif  // FIELDSYNC_PROTO_WIRE_H_
