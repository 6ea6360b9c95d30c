// Known-answer vectors for the crypto formats of sync-core/crypto (SECURITY.md,
// test 7): fixed inputs, and the bytes the format-version-1 code produced
// from them, frozen as hex.
//
// FROZEN. Never regenerate these to make a test pass: a mismatch means the
// on-disk or on-wire format changed, and data already written in it would no
// longer open. A new format version gets new vectors beside these; the old
// ones stay (so old data keeps its test).
#ifndef FIELDSYNC_TESTS_CRYPTO_KAT_VECTORS_H_
#define FIELDSYNC_TESTS_CRYPTO_KAT_VECTORS_H_

#include <cstdint>
#include <string_view>

namespace fieldsync::crypto_test::kat {

// ---- Inputs ----

// Device A (signs every record below) and device B (receives the share).
// Their secrets are those of RFC 8032 (Ed25519 tests 1 and 2) and RFC 7748
// (X25519, section 6.1, Alice and Bob), so their public keys can be checked
// against the RFCs.
inline constexpr std::string_view kDeviceA = "6f1c2a3b4d5e4f6081728394a5b6c7d8";
inline constexpr std::string_view kSignSeedA =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
inline constexpr std::string_view kBoxSecretA =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
inline constexpr std::string_view kDeviceB = "2b9e0d4c5a6f4e718293a4b5c6d7e8f9";
inline constexpr std::string_view kSignSeedB =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
inline constexpr std::string_view kBoxSecretB =
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";

// The office key (kind 1-2 records, and what kinds 3 and 5 are sealed to).
inline constexpr std::string_view kOfficeKeyId = "0f0e0d0c0b0a49088706050403020100";
inline constexpr std::string_view kOfficeSecret =
    "c8a9d5a91091ad851c668b0736c1c9a02936c0d3ad62670858088047ba057475";
inline constexpr std::string_view kProvince = "L\xc3\xa0o Cai";  // "Lào Cai"
inline constexpr uint32_t kGeneration = 1;

// A case, its data key and where one of its values is stored.
inline constexpr std::string_view kKeyRing = "0190f5d27c3e7a1b9c2d3e4f5a6b7c8d";
inline constexpr uint32_t kKeyVersion = 2;
inline constexpr std::string_view kDataKey =
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
inline constexpr std::string_view kRowId = "0190f5d27c3f7c4d8e5f60718293a4b5";
inline constexpr std::string_view kTable = "persons";
inline constexpr std::string_view kColumn = "full_name";
inline constexpr uint64_t kHlcPacked = 0x019AB697E8000003;  // 2025-11-24T16:00:00.000Z, counter 3
inline constexpr std::string_view kNonce = "404142434445464748494a4b4c4d4e4f5051525354555657";
// "Nguyễn Thị Hằng"
inline constexpr std::string_view kName = "Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b H\xe1\xba\xb1ng";

// What device A signs as a commit in vector (b).
inline constexpr std::string_view kCommitMessage = "fieldsync known-answer commit message";

// The passphrase of the frozen keystore of device A.
inline constexpr std::string_view kPassphrase = "fieldsync known-answer passphrase";

// ---- Outputs (format version 1) ----

// (a) The envelope of kName sealed with SealValueWithNonce.
inline constexpr std::string_view kEnvelope =
    "f5010190f5d27c3e7a1b9c2d3e4f5a6b7c8d0000000240414243444546474849"
    "4a4b4c4d4e4f5051525354555657496d9ad37a2be5617bad49ef928646c43a2c"
    "f380b4f0403e3cd1edddcb12fc909ab5667406d006e996b5c7b7ea0dd2ee7e28"
    "0d1b510a6b53b6fea877ecee998a8387b912a37d61c4009eba7f141ea111";

// (b) Device A's public keys and fingerprint, and its signature of
// kCommitMessage under kCommitSignDomain.
inline constexpr std::string_view kSignPublicA =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
inline constexpr std::string_view kBoxPublicA =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
inline constexpr std::string_view kFingerprintA = "acf02340-4af49035-3086ce7c-4a4e2319-2f8718db";
inline constexpr std::string_view kCommitSignature =
    "b72fe0d2582aa18c39ff91559ec1175047c9dce8ab46b56556b8536a7070debe"
    "4a78ef80fc2775b0a8d2b20ccd409e9a42464b63060d60a353b648485a467c02";

// (b') A whole commit signed by device A (crypto/commit_signature.h): author A,
// seq 1, HLC kHlcPacked, one row change to persons/kRowId writing full_name
// = the bytes of kEnvelope (no base) and province = kProvince (base: HLC
// kHlcPacked - 1 by device B). The signed message, then the signature.
inline constexpr std::string_view kCommitSignedMessage =
    "6f1c2a3b4d5e4f6081728394a5b6c7d80000000000000001019ab697e8000003"
    "000000016c903d09592a445f30710b1a83ac2705b744a5d7ab1ab416553ad00b"
    "aad19c7a";
inline constexpr std::string_view kSignedCommitSignature =
    "c0996ba8313c293a3ee1f422704f2a6c44077239c1d4fd0b1f9a8bfd359b29e0"
    "b83cacf3584727bb842ce5e6c6810c809d119d1dfd15d9238518746f7d7a8d0f";

// (c) Key records signed by device A. Kinds 1 and 4 are deterministic; kinds
// 2, 3 and 5 hold randomness (crypto_box_seal's ephemeral key, a random
// nonce), so one generated instance is frozen.
inline constexpr std::string_view kOfficePublic =
    "5f64b41cce8a6b3d6a38763088f615a4977d422288ae42b49ab3a57e2fcd6f6d";
inline constexpr std::string_view kOfficeKeyRecord =
    "f601016f1c2a3b4d5e4f6081728394a5b6c7d8019ab697e8000003084cc3a06f"
    "20436169000000010f0e0d0c0b0a490887060504030201005f64b41cce8a6b3d"
    "6a38763088f615a4977d422288ae42b49ab3a57e2fcd6f6d68398c64afb62313"
    "1531f2b981dd8d1aee2f24dc6c3d7a781bd308e0025650fc1d1c27613dd1ab3e"
    "a840ac3ca142f1a2563fbf7d49ae4c04573042c4a3920008";
inline constexpr std::string_view kOfficeKeyRecordId = "6d630b021076ac1ebc5aedf9152ebf8d";
inline constexpr std::string_view kErasureRecord =
    "f601046f1c2a3b4d5e4f6081728394a5b6c7d8019ab697e80000030190f5d27c"
    "3e7a1b9c2d3e4f5a6b7c8dca0d36afff1f203d699aeab23d43fd2171b502c538"
    "e2ac27027a6a96d42a342c15060badc2485e19b59c1fb07e45b539244c9bb84f"
    "7f1e0785fae1846875ac01";
// Kind 2, from device A to device B.
inline constexpr std::string_view kOfficeShareRecord =
    "f601026f1c2a3b4d5e4f6081728394a5b6c7d8019ab697e8000003084cc3a06f"
    "20436169000000010f0e0d0c0b0a490887060504030201002b9e0d4c5a6f4e71"
    "8293a4b5c6d7e8f962c36f2a7dfd9a66eb5603e13e19a710c63d315ca0e496e9"
    "ea8494427fee020dc6d509e5c71a1a38ba0fa212ec162825ccdc73dbc081b83d"
    "736e8398bfe172bd9374631655005c35a5a7f69118f0535992a73e4c091e4e50"
    "efa5a749967c6d15db1e8ef985f709618a0fae17c4417151540199fb588a51c4"
    "d408e84c236071e22fb3cbefa113bc3f7d95fadca969c9073afbd543817f07c6"
    "a0741be712cea706";
// Kind 3, purpose owner.
inline constexpr std::string_view kDataKeyRecord =
    "f601036f1c2a3b4d5e4f6081728394a5b6c7d8019ab697e80000030190f5d27c"
    "3e7a1b9c2d3e4f5a6b7c8d00000002084cc3a06f204361690f0e0d0c0b0a4908"
    "870605040302010001998d8c6cc4d7b87752aad0832c70686244e4921f541dfb"
    "fd464e87b7bcda9a696c78a5fae7a36be0d4053497c5aaf1bc2d7a959649a81b"
    "7b52b8b0efd4cb174c01d1ee82d3b2879e675c6169d7044299249fa659577ec0"
    "c16f8f4b7cf98b81232da39e3bebd7f2e42aaef2a44751c7529362e89a91141c"
    "f6b57ee96efa94316af58c1dc6874eacfc81123f653aeb787a569775b189d126"
    "d93b4573dcf05247282b86af04";
// Kind 5.
inline constexpr std::string_view kOfficeDataKeyRecord =
    "f601056f1c2a3b4d5e4f6081728394a5b6c7d8019ab697e80000030190f5d27c"
    "3e7a1b9c2d3e4f5a6b7c8d00000002084cc3a06f204361690f0e0d0c0b0a4908"
    "870605040302010083620bccee60e430a9bfcc306ce3326041db089ae5a09867"
    "b5404c27d3efa7670cb0c4fe9819165311e419dd2a7bb3593df57994406ac263"
    "9711c97839cb45760616b348b0f4aeb9f68a58ebfa889c7d0c61a42e7a88b577"
    "17364902";

// (d) Device A's keystore under kPassphrase (MODERATE limits).
inline constexpr std::string_view kKeystore =
    "46534b45595354000102000000000000000300000000100000009b50d92170ae"
    "c17240fdeb8bb88533cda36ad55ffef6dab2df39ed04e21de8d7ce81d3865d0a"
    "ea6c6f1c2a3b4d5e4f6081728394a5b6c7d88dc90f33d8772ac5ff6ab9ac34b3"
    "fd62feb26035bb6cbbc84d3cacc65d0d3680b96bf8ca7c16a20fa41e66526607"
    "17aaf2003c540277d69e9fb15c6acc7935495e5c13d050e67f4b63810446c5c9"
    "b673aee28c7368f4a44bf4bf0ca7a8a86574c760673e4621fce1e839a0ac00bb"
    "93654b4ccd017103402dbce8439e3a38a806";

}  // namespace fieldsync::crypto_test::kat

#endif  // FIELDSYNC_TESTS_CRYPTO_KAT_VECTORS_H_
