// libsodium's randomness for the simulation: a ChaCha20 stream from a seed
// instead of the system's generator, so that every key, nonce, row id and
// credential a schedule makes is the same each time its seed runs (exact
// replay). Installed once, before sodium_init, in the simulation's binary
// only; products keep the system's generator.
#ifndef FIELDSYNC_TESTS_SIM_SIM_RANDOM_H_
#define FIELDSYNC_TESTS_SIM_SIM_RANDOM_H_

#include <cstdint>

namespace fieldsync::sim {

// Installs the stream and initialises libsodium. False if libsodium was
// initialised before (then its randomness is not the stream's).
bool InstallDeterministicSodium();
// Restarts the stream from `seed`.
void SeedSodium(uint64_t seed);

}  // namespace fieldsync::sim

#endif  // FIELDSYNC_TESTS_SIM_SIM_RANDOM_H_
