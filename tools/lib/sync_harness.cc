#include "tools/lib/sync_harness.h"

#include "crypto/pairing_code.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "store/data_dir.h"
#include "sync/forwarding_transport.h"

namespace fieldsync::harness {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (out >= 0) dup2(out, 1);
  if (err >= 0) dup2(err, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

std::string BinDir() { return FIELDSYNC_BIN_DIR; }
std::string SourceDir() { return FIELDSYNC_SOURCE_DIR; }

CommandResult Run(const std::vector<std::string>& argv) {
  char out_tmpl[] = "/tmp/fieldsync-run-out-XXXXXX";
  char err_tmpl[] = "/tmp/fieldsync-run-err-XXXXXX";
  const int fo = mkstemp(out_tmpl);
  const int fe = mkstemp(err_tmpl);
  if (fo >= 0) close(fo);
  if (fe >= 0) close(fe);
  CommandResult r;
  const pid_t pid = Spawn(argv, out_tmpl, err_tmpl);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadAll(out_tmpl);
  r.err = ReadAll(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return r;
}

absl::StatusOr<Pki> MakePki(const std::string& dir) {
  CommandResult r = Run({"/bin/bash", SourceDir() + "/tools/make-certs", dir});
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("tools/make-certs failed: ", r.err));
  }
  return Pki{dir};
}

absl::StatusOr<Pki> CopyRunPki(const std::string& dir) {
  namespace fs = std::filesystem;
  // test_pki_setup moves the set into place whole (made beside it, then
  // renamed): either every file is there or the directory is not.
  const fs::path made = fs::path(BinDir()).parent_path() / "test-pki";
  constexpr const char* kFiles[] = {"ca.key", "ca.crt", "hub.key", "hub.crt"};
  std::error_code ec;
  for (const char* f : kFiles) {
    if (!fs::is_regular_file(made / f, ec)) return MakePki(dir);
  }
  fs::create_directories(dir, ec);
  if (!ec) fs::permissions(dir, fs::perms::owner_all, ec);
  for (const char* f : kFiles) {
    if (ec) break;
    const fs::path to = fs::path(dir) / f;
    fs::copy_file(made / f, to, ec);
    // As tools/make-certs leaves them: keys the owner's alone, certificates
    // readable by all (a test hands ca.crt to another user).
    const bool key = std::string_view(f).ends_with(".key");
    if (!ec) {
      fs::permissions(to,
                      key ? fs::perms::owner_read | fs::perms::owner_write
                          : fs::perms::owner_read | fs::perms::owner_write |
                                fs::perms::group_read | fs::perms::others_read,
                      ec);
    }
  }
  if (ec) {
    // The set replaced under us (a test program run by hand during a ctest
    // run): a set of this test's own instead.
    fs::remove_all(dir, ec);
    return MakePki(dir);
  }
  return Pki{dir};
}

HubProcess::HubProcess(std::string data_dir, Pki pki, bool insecure)
    : dir_(std::move(data_dir)), pki_(std::move(pki)), insecure_(insecure) {}

HubProcess::~HubProcess() {
  if (pid_ > 0) Kill();
  if (in_process_running_) in_process_->Stop();
}

namespace {

[[noreturn]] void NeedsAHubProcess(const char* what) {
  std::fprintf(stderr,
               "HubProcess::%s: this test needs a hub process (a socket), but its hub is served "
               "in process: give the test a fixture that serves it with fieldhub "
               "(SyncProcessTest, tests/support/sync_fixture.h)\n",
               what);
  std::fflush(stderr);
  std::abort();
}

// A node's link to a hub served in this process: each call goes to the
// hub's side of the protocol as it is now (the hub may have been stopped
// and started again), UNAVAILABLE while it is stopped.
class InProcessLink final : public sync::ForwardingTransport {
 public:
  explicit InProcessLink(const HubProcess* hub) : hub_(hub) {}

 private:
  absl::StatusOr<sync::Transport*> Next() const override {
    sync::Transport* t = hub_->in_process_transport();
    if (t == nullptr) {
      return absl::UnavailableError("the hub (in this process) is not running");
    }
    return t;
  }
  const HubProcess* hub_;
};

// A client for `address`: the hub in this process for kInProcessAddress,
// else gRPC.
absl::StatusOr<std::unique_ptr<node::SyncClient>> ClientFor(const HubProcess* hub,
                                                            const node::ClientOptions& o) {
  if (o.address == kInProcessAddress) {
    if (hub == nullptr || !hub->in_process()) {
      return absl::FailedPreconditionError("no hub is served in this process");
    }
    return node::SyncClient::Over(std::make_unique<InProcessLink>(hub), o);
  }
  return node::SyncClient::Create(o);
}

}  // namespace

void HubProcess::set_in_process(std::unique_ptr<InProcessServer> server) {
  in_process_ = std::move(server);
}

sync::Transport* HubProcess::in_process_transport() const {
  return in_process_running_ ? in_process_->transport() : nullptr;
}

int HubProcess::port() const {
  if (in_process_) NeedsAHubProcess("port");
  return port_;
}

std::string HubProcess::address() const {
  if (in_process_) return kInProcessAddress;
  return absl::StrCat("localhost:", port_);
}

CommandResult HubProcess::Admin(std::vector<std::string> args) const {
  args.insert(args.begin(), BinDir() + "/fieldhub");
  args.push_back("--data-dir");
  args.push_back(dir_);
  if (!store_.empty()) args.insert(args.end(), {"--store", store_});
  return Run(args);
}

absl::Status HubProcess::AddProvince(const std::string& code, const std::string& name) const {
  CommandResult r = Admin({"province", "add", code, name});
  if (r.exit_code != 0) return absl::InternalError(r.err);
  return absl::OkStatus();
}

absl::StatusOr<std::string> HubProcess::Token(const std::string& province,
                                              const std::string& valid_for) const {
  CommandResult r = Admin({"enroll-token", "--province", province, "--valid-for", valid_for});
  if (r.exit_code != 0) return absl::InternalError(r.err);
  std::string t = r.out;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t;
}

absl::Status HubProcess::Start() {
  if (running()) return absl::FailedPreconditionError("hub already running");
  struct stat st;
  if (!store_.empty()) {
    // The database holds the hub; the data directory its serve lock, TLS
    // files and log, made as `fieldhub init` makes it (owner only).
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec || ::chmod(dir_.c_str(), 0700) != 0) {
      return absl::InternalError(absl::StrCat("cannot make ", dir_));
    }
    if (!store_initialised_) {
      CommandResult r = Admin({"init"});
      if (r.exit_code != 0) return absl::InternalError(absl::StrCat("fieldhub init: ", r.err));
      store_initialised_ = true;
    }
  } else if (stat((dir_ + "/hub.db").c_str(), &st) != 0) {
    CommandResult r = Admin({"init"});
    if (r.exit_code != 0) return absl::InternalError(absl::StrCat("fieldhub init: ", r.err));
  }
  if (in_process_) {
    FS_RETURN_IF_ERROR(in_process_->Start(dir_, store_));
    in_process_running_ = true;
    return absl::OkStatus();
  }
  const std::string port_file = dir_ + "/port";
  unlink(port_file.c_str());
  std::vector<std::string> argv = {BinDir() + "/" + serve_program_, "serve", "--data-dir", dir_,
                                   "--listen", absl::StrCat("127.0.0.1:", port_),
                                   "--port-file", port_file, "--verbose"};
  argv.insert(argv.end(), serve_args_.begin(), serve_args_.end());
  if (!store_.empty()) argv.insert(argv.end(), {"--store", store_});
  if (insecure_) {
    argv.push_back("--insecure");
  } else {
    argv.insert(argv.end(), {"--tls-cert", pki_.cert(), "--tls-key", pki_.key()});
  }
  pid_ = Spawn(argv, "/dev/null", log_path());
  for (int i = 0; i < 400; ++i) {
    std::string p = ReadAll(port_file);
    if (!p.empty() && p.back() == '\n') {
      port_ = std::stoi(p);
      return absl::OkStatus();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("fieldhub serve exited: ", ReadAll(log_path())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  Kill();
  return absl::DeadlineExceededError("fieldhub serve did not start listening within 10 s");
}

int HubProcess::Stop() {
  if (in_process_running_) {
    in_process_->Stop();
    in_process_running_ = false;
    return 0;
  }
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void HubProcess::Kill() {
  if (in_process_running_) NeedsAHubProcess("Kill");
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int64_t HubProcess::PeakRssKib() const {
  std::istringstream in(ReadAll(absl::StrCat("/proc/", pid_, "/status")));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

absl::StatusOr<std::unique_ptr<LocalNode>> LocalNode::Create(const std::string& dir,
                                                              bool crypto, ClockSource* clock) {
  auto n = std::make_unique<LocalNode>();
  n->dir_ = dir;
  n->crypto_ = crypto;
  n->clock_ = clock;
  DataDir d{dir, "replica.db", "fieldnode init", "FIELDSYNC_NODE_DIR"};
  FS_ASSIGN_OR_RETURN(n->replica_, CreateReplicaIn(d));
  if (clock != nullptr) {
    // Opened again on that clock.
    n->replica_.reset();
    ReplicaOptions o;
    o.path = d.ReplicaPath();
    o.clock = clock;
    FS_ASSIGN_OR_RETURN(n->replica_, Replica::Open(o));
  }
  n->identity_ = std::make_unique<crypto::DeviceIdentity>(
      crypto::DeviceIdentity::Generate(n->replica_->device_id()));
  return n;
}

absl::Status LocalNode::Enroll(const HubProcess& hub, const std::string& province,
                               const std::string& address) {
  FS_ASSIGN_OR_RETURN(std::string token, hub.Token(province));
  node::ClientOptions o;
  o.address = address.empty() ? hub.address() : address;
  o.ca_file = hub.pki().ca();
  o.insecure = hub.insecure();
  hub_process_ = &hub;
  FS_ASSIGN_OR_RETURN(client_, ClientFor(hub_process_, o));
  std::string got_province, hub_id;
  FS_ASSIGN_OR_RETURN(cred_, client_->Enroll(token, *identity_, "test node", &got_province,
                                             &hub_id));
  FS_ASSIGN_OR_RETURN(keys_, KeyRing::Open(replica_.get(), got_province, clock_));
  hub_.address = o.address;
  hub_.ca_file = o.ca_file;
  hub_.insecure = o.insecure;
  hub_.province = got_province;
  hub_.hub_id = hub_id;
  if (crypto_) {
    FS_RETURN_IF_ERROR(keys_->Unlock(identity_->Clone()));
    replica_->SetSecurity(keys_->Security());
  }
  return node::SaveEnrolment(dir_, hub_, cred_);
}

absl::Status LocalNode::Connect(const std::string& address, uint32_t pull_batch,
                                uint32_t push_batch, bool compress) {
  node::ClientOptions o;
  o.compress = compress;
  if (pull_batch > 0) o.pull_batch = pull_batch;
  if (push_batch > 0) o.push_batch = push_batch;
  return Connect(address, o);
}

absl::Status LocalNode::Connect(const std::string& address, node::ClientOptions o) {
  o.address = address;
  o.hub_id = hub_.hub_id;
  o.ca_file = hub_.ca_file;
  o.insecure = hub_.insecure;
  FS_ASSIGN_OR_RETURN(client_, ClientFor(hub_process_, o));
  return absl::OkStatus();
}

absl::StatusOr<node::SyncReport> LocalNode::Sync() {
  if (!keys_) return absl::FailedPreconditionError("the node is not enrolled");
  client_->set_clock(clock_);
  return client_->Sync(*replica_, *keys_, cred_);
}

absl::Status LocalNode::BecomeFirstDevice() {
  if (!crypto_) return absl::OkStatus();
  FS_RETURN_IF_ERROR(Sync().status());
  const crypto::DevicePublic me = identity_->public_keys();
  FS_RETURN_IF_ERROR(keys_->ApproveFirst(crypto::PairingCode(me, me)));
  return Sync().status();
}

absl::Status LocalNode::JoinOffice(LocalNode& member) {
  if (!crypto_) return absl::OkStatus();
  FS_RETURN_IF_ERROR(Sync().status());
  FS_RETURN_IF_ERROR(member.Sync().status());
  FS_ASSIGN_OR_RETURN(KeyRing::OfficeView mine, keys_->Office());
  FS_RETURN_IF_ERROR(member.keys()->Approve(replica_->device_id(), mine.my_code));
  // The officer at this laptop types the code the member shows for it.
  FS_ASSIGN_OR_RETURN(KeyRing::OfficeView theirs, member.keys()->Office());
  std::string shown;
  for (const KeyRing::OfficeDevice& d : theirs.devices) {
    if (d.device.keys.device == replica_->device_id()) shown = d.code;
  }
  FS_RETURN_IF_ERROR(keys_->Join(shown.empty() ? mine.my_code : shown));
  FS_RETURN_IF_ERROR(member.Sync().status());
  return Sync().status();
}

OpenedField LocalNode::Read(const std::string& table, const RowId& row,
                            const std::string& column) {
  OpenedField out;
  absl::StatusOr<std::optional<Row>> r = replica_->Get(table, row);
  const TableDef* t = replica_->schema().FindTable(table);
  const int ci = t == nullptr ? -1 : t->ColumnIndex(column);
  if (!r.ok() || !*r || ci < 0 || !keys_) {
    out.state = OpenedField::State::kFailed;
    out.problem = r.ok() ? "no such row, column, or key ring" : std::string(r.status().message());
    return out;
  }
  const auto i = static_cast<size_t>(ci);
  std::optional<Version> v;
  if ((*r)->versions[i]) v = (*r)->versions[i]->version;
  return keys_->Read(table, row, column, (*r)->values[i], v);
}

}  // namespace fieldsync::harness
