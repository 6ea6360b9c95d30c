// Real hubs and nodes for integration tests and benchmarks: a `fieldhub
// serve` child process on loopback (TLS by default, with a throwaway CA made
// by tools/make-certs), administrator commands run as processes, and nodes
// whose replica and sync client run in this process over real gRPC.
#ifndef FIELDSYNC_TOOLS_LIB_SYNC_HARNESS_H_
#define FIELDSYNC_TOOLS_LIB_SYNC_HARNESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/identity.h"
#include "node/client.h"
#include "store/keyring.h"
#include "store/replica.h"
#include "sync/transport.h"

namespace fieldsync::harness {

// Where the programs and the source tree are (compiled in).
std::string BinDir();
std::string SourceDir();

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `argv` (argv[0] a path) to completion.
CommandResult Run(const std::vector<std::string>& argv);

// A CA and a hub certificate for localhost/127.0.0.1, made in `dir`.
struct Pki {
  std::string dir;
  std::string ca() const { return dir + "/ca.crt"; }
  std::string cert() const { return dir + "/hub.crt"; }
  std::string key() const { return dir + "/hub.key"; }
};
absl::StatusOr<Pki> MakePki(const std::string& dir);
// A test hub's TLS files in `dir`: a copy of the set ctest's test_pki_setup
// made once for the run (build/test-pki, tests/CMakeLists.txt), or a new set
// from tools/make-certs where there is none (a test program run by hand).
// Throwaway keys either way. Making a set takes a quarter of a second, and
// some 600 test processes of the suite each made one.
absl::StatusOr<Pki> CopyRunPki(const std::string& dir);

// A hub served in the caller's own process instead of by `fieldhub serve`:
// the hub's engine over its data directory, answering the protocol without
// gRPC or sockets (tests/support/in_process_hub.h implements it). Tests of
// sync behaviour that need no socket run on it.
class InProcessServer {
 public:
  virtual ~InProcessServer() = default;
  // Opens the hub's store (made by `fieldhub init`): hub.db in `data_dir`,
  // or `store` if not empty (a postgresql:// URI, `fieldhub --store`),
  // holding the serve lock of `data_dir` as `fieldhub serve` does; its log
  // lines go to `data_dir`/serve.log.
  virtual absl::Status Start(const std::string& data_dir, const std::string& store) = 0;
  virtual void Stop() = 0;
  // The hub's side of the protocol; null while stopped.
  virtual sync::Transport* transport() = 0;
};

class HubProcess {
 public:
  // `data_dir` is created with `fieldhub init` if empty.
  HubProcess(std::string data_dir, Pki pki, bool insecure = false);
  ~HubProcess();  // kills the process if running

  // From the next Start() on, the hub is served by `server` in this
  // process, not by a `fieldhub serve` process: nodes enrolled with no
  // address reach it without a socket, administrator commands (Admin) still
  // run fieldhub on its data directory. Call before the first Start().
  void set_in_process(std::unique_ptr<InProcessServer> server);
  bool in_process() const { return in_process_ != nullptr; }
  // The hub's store from the next Start() on: `uri` (postgresql://, made
  // with `fieldhub init --store` at the first Start) instead of hub.db in
  // the data directory; every Admin command and `serve` get `--store uri`.
  // Call before the first Start(). `made`: the database holds the hub
  // already (another hub process on it): no `fieldhub init`.
  void set_store(std::string uri, bool made = false) {
    store_ = std::move(uri);
    store_initialised_ = made;
  }
  const std::string& store() const { return store_; }
  // The in-process hub's side of the protocol; null if stopped or not in
  // process.
  sync::Transport* in_process_transport() const;

  // Starts `fieldhub serve` on 127.0.0.1 (port 0 the first time, the same
  // port on restarts) and waits until it listens.
  absl::Status Start();
  // SIGTERM and wait; the exit code.
  int Stop();
  // SIGKILL and wait. A hub in process cannot be killed: the test aborts
  // saying it needs a hub process.
  void Kill();
  bool running() const { return pid_ > 0 || in_process_running_; }
  pid_t pid() const { return pid_; }
  // The port it listens on; a hub in process has none: the test aborts
  // saying it needs a hub process (a proxy in front of the hub, say).
  int port() const;
  // "localhost:<port>"; kInProcessAddress for a hub in process.
  std::string address() const;
  const std::string& data_dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/serve.log"; }
  // VmHWM of the running process, KiB.
  int64_t PeakRssKib() const;

  // fieldhub <args...> --data-dir DIR, as a process.
  CommandResult Admin(std::vector<std::string> args) const;
  absl::Status AddProvince(const std::string& code, const std::string& name) const;
  absl::StatusOr<std::string> Token(const std::string& province,
                                    const std::string& valid_for = "1h") const;

  const Pki& pki() const { return pki_; }
  bool insecure() const { return insecure_; }
  // More `fieldhub serve` options, from the next Start() on (a benchmark's
  // --benchmark-without-crypto).
  void set_serve_args(std::vector<std::string> args) { serve_args_ = std::move(args); }
  // The program Start() runs `serve` with, in BinDir(), from the next
  // Start() on: fieldhub by default; the benchmark's crypto-off hub is
  // "fieldsync-bench-hub" (tools/bench/hub_main.cc). Administrator commands
  // (Admin) still run fieldhub.
  void set_serve_program(std::string name) { serve_program_ = std::move(name); }

 private:
  std::string dir_;
  Pki pki_;
  bool insecure_;
  std::vector<std::string> serve_args_;
  std::string serve_program_ = "fieldhub";
  std::string store_;
  bool store_initialised_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
  std::unique_ptr<InProcessServer> in_process_;
  bool in_process_running_ = false;
};

// The address of a hub served in process (HubProcess::set_in_process).
inline constexpr char kInProcessAddress[] = "in-process";

// A node whose replica and sync client live in this process.
class LocalNode {
 public:
  // Creates the replica in `dir`, and a device identity for it (held in
  // memory: the keystore file is the CLI's).
  // With `crypto` false (a benchmark's baseline, against a hub serving
  // --benchmark-without-crypto: fieldsync-bench-hub) nothing is signed,
  // sealed or verified.
  // With `clock`, the laptop's clock (its replica, key ring and passes):
  // tests give a laptop a clock ahead; null: the system clock.
  static absl::StatusOr<std::unique_ptr<LocalNode>> Create(const std::string& dir,
                                                           bool crypto = true,
                                                           ClockSource* clock = nullptr);
  // Enrols with the hub (`address` may be a proxy in front of it), then
  // opens the key ring of its province, unlocked, and installs signing,
  // verification and sealing on the replica.
  absl::Status Enroll(const HubProcess& hub, const std::string& province,
                      const std::string& address = "");
  // Points the client at another address (a proxy), keeping the enrolment;
  // batch sizes 0 keep the defaults.
  absl::Status Connect(const std::string& address, uint32_t pull_batch = 0,
                       uint32_t push_batch = 0, bool compress = true);
  // ... with the other settings of `o` (keepalives, deadlines).
  absl::Status Connect(const std::string& address, node::ClientOptions o);
  absl::StatusOr<node::SyncReport> Sync();

  // Office membership (docs/CRYPTO.md): makes this node its office's first
  // device, as its officer would with the code the hub administrator reads
  // out (syncing before, so that the registry lists it, and after, to
  // publish it).
  absl::Status BecomeFirstDevice();
  // `member` approves this node after "comparing" the code this node shows,
  // and this node joins with the code the member shows for it, with the
  // syncs an office would do: this node (it sees the first device), the
  // member (it sees this node), approve and join, the member again
  // (approval and office key shares pushed), this node (keys received).
  absl::Status JoinOffice(LocalNode& member);

  Replica& replica() { return *replica_; }
  const std::string& dir() const { return dir_; }
  const std::string& province() const { return hub_.province; }
  const node::Credential& credential() const { return cred_; }
  node::SyncClient& client() { return *client_; }
  // Null before Enroll.
  KeyRing* keys() { return keys_.get(); }
  const crypto::DeviceIdentity& identity() const { return *identity_; }
  // Opens one field of a row as this node reads it.
  OpenedField Read(const std::string& table, const RowId& row, const std::string& column);

 private:
  std::string dir_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<crypto::DeviceIdentity> identity_;
  std::unique_ptr<KeyRing> keys_;
  bool crypto_ = true;
  ClockSource* clock_ = nullptr;
  node::HubConfig hub_;
  const HubProcess* hub_process_ = nullptr;  // the hub enrolled with
  node::Credential cred_;
  std::unique_ptr<node::SyncClient> client_;
};

}  // namespace fieldsync::harness

#endif  // FIELDSYNC_TOOLS_LIB_SYNC_HARNESS_H_
