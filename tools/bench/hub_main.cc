// fieldsync-bench-hub: fieldhub plus one option of `serve`,
// --benchmark-without-crypto, which accepts unsigned commits and sensitive
// fields in clear. Only the sync benchmark runs it (tools/bench/sync/,
// --crypto off or both), to measure what encryption and signatures cost;
// the production fieldhub does not have the option, so no hub that real
// nodes use can be started without crypto by mistake.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "hub/cli.h"

int main(int argc, char** argv) {
  bool without_crypto = false;
  fieldsync::hub::ServeExtension extension;
  extension.declare = [&](CLI::App& serve) {
    serve.add_flag("--benchmark-without-crypto", without_crypto);
  };
  extension.before_serving = [&](fieldsync::hub::HubEngine& store,
                                 const fieldsync::hub::Io& io) {
    if (without_crypto) {
      store.set_crypto_checks(false);
      std::fprintf(io.err,
                   "fieldsync-bench-hub: WARNING: --benchmark-without-crypto: unsigned commits "
                   "and clear sensitive fields are accepted. For benchmarks only; victim data "
                   "sent to this hub is not protected\n");
    }
    return absl::OkStatus();
  };
  return fieldsync::hub::Main(argc, argv, extension);
}
