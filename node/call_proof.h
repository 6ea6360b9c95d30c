// A node's credential on a gRPC call, as proofs of its secret bound to the
// server certificate of the connection that carries the call
// (crypto/credential_proof.h; docs/PROTOCOL.md, "Credentials"), never the
// secret itself: attack review 22, MED 1. Version 1 (keyed by the secret's
// hash) and version 2 (signed by the link key derived from the secret;
// attack review 23, MED 2) on every call.
#ifndef FIELDSYNC_NODE_CALL_PROOF_H_
#define FIELDSYNC_NODE_CALL_PROOF_H_

#include <grpcpp/grpcpp.h>

#include "change/id.h"
#include "sync/messages.h"

namespace fieldsync::node {

// Gives `ctx` the proof of `cred` for hub `hub`. Over TLS it is computed by
// a call credential once gRPC has the connection the call goes on, from the
// certificate that connection's far end showed (the channel's AuthContext,
// "x509_pem_cert"): every connection, one gRPC made again by itself
// included (idle, GOAWAY, a DNS change), gets a proof for its own peer,
// useless at any other. A connection showing none fails the call
// UNAVAILABLE with nothing of the credential sent. `insecure` (plain-text
// loopback): bound to no certificate (crypto::NoCertificateDigest).
void AttachProof(grpc::ClientContext* ctx, const sync::Credential& cred, const DeviceId& hub,
                 bool insecure);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_CALL_PROOF_H_
