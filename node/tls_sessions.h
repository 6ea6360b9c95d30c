// TLS session resumption for the connections a node process makes to its
// hub (issue 13, "Performance": a link that cuts every connection after
// 20 KB pays a handshake at every connection). gRPC keeps a client's TLS
// sessions in a cache given as a channel argument
// (GRPC_SSL_SESSION_CACHE_ARG); the node's transport drops its channel after
// every failed pass (node/grpc_transport.h, Reset), so the cache must outlive
// channels: one per process and per (hub address, CA file contents), for
// the process's life.
//
// Why per CA: gRPC files sessions under the server name alone, and a
// resumed handshake does not check the hub's certificate again. A session
// made by a channel that checked the hub against one CA must never be
// offered by a channel pinned to another (docs/PROTOCOL.md, "Credentials":
// "TLS session resumption").
//
// gRPC resumes only under a server name (SNI): a hub reached by an IP
// address makes a full handshake every time.
#ifndef FIELDSYNC_NODE_TLS_SESSIONS_H_
#define FIELDSYNC_NODE_TLS_SESSIONS_H_

#include <grpcpp/support/channel_arguments.h>

#include <string>

namespace fieldsync::node {

// Adds to `args` this process's session cache for `address` (HOST:PORT)
// checked against the CA certificates `ca_pem`, made at its first use.
void UseTlsSessionCache(const std::string& address, const std::string& ca_pem,
                        grpc::ChannelArguments& args);

}  // namespace fieldsync::node

#endif  // FIELDSYNC_NODE_TLS_SESSIONS_H_
