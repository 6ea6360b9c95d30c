#include "proto/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace fieldsync::wire {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Bio Reader(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Never asks for a passphrase (OpenSSL's default would prompt on the
// terminal): an encrypted key is refused, as gRPC cannot use one either.
int NoPassphrase(char*, int, int, void*) { return 0; }

// OpenSSL's last error, in words, and the error queue emptied.
std::string LastError() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "no PEM block";
}

// Whether OpenSSL stopped reading PEM blocks only because there were no
// more (PEM_R_NO_START_LINE), not on one it could not read.
bool CleanEnd() {
  const unsigned long e = ERR_peek_last_error();
  return e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

absl::StatusOr<Cert> FirstCertificate(std::string_view pem) {
  ERR_clear_error();
  Bio bio = Reader(pem);
  Cert cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!cert) return absl::InvalidArgumentError(LastError());
  ERR_clear_error();
  return cert;
}

}  // namespace

absl::StatusOr<int> CountCertificates(std::string_view pem) {
  ERR_clear_error();
  Bio bio = Reader(pem);
  if (!bio) return absl::InvalidArgumentError(LastError());
  int n = 0;
  while (Cert cert{PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)}) ++n;
  if (n == 0) return absl::InvalidArgumentError(LastError());
  if (!CleanEnd()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate ", n + 1, " cannot be read: ", LastError()));
  }
  ERR_clear_error();
  return n;
}

absl::StatusOr<ValidityWindow> CertificatesValidity(std::string_view pem) {
  ERR_clear_error();
  Bio bio = Reader(pem);
  if (!bio) return absl::InvalidArgumentError(LastError());
  std::optional<ValidityWindow> out;
  while (Cert cert{PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)}) {
    struct tm from {}, to {};
    if (ASN1_TIME_to_tm(X509_get0_notBefore(cert.get()), &from) != 1 ||
        ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &to) != 1) {
      continue;
    }
    const ValidityWindow w{static_cast<int64_t>(timegm(&from)), static_cast<int64_t>(timegm(&to))};
    if (!out) {
      out = w;
    } else {
      out->not_before = std::min(out->not_before, w.not_before);
      out->not_after = std::max(out->not_after, w.not_after);
    }
  }
  ERR_clear_error();
  if (!out) return absl::InvalidArgumentError("no certificate with a validity period");
  return *out;
}

absl::Status CheckPrivateKey(std::string_view pem) {
  ERR_clear_error();
  Bio bio = Reader(pem);
  Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) return absl::InvalidArgumentError(LastError());
  ERR_clear_error();
  return absl::OkStatus();
}

absl::Status CheckKeyPair(std::string_view cert_pem, std::string_view key_pem) {
  absl::StatusOr<Cert> cert = FirstCertificate(cert_pem);
  if (!cert.ok()) return cert.status();
  ERR_clear_error();
  Bio bio = Reader(key_pem);
  Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) return absl::InvalidArgumentError(LastError());
  const bool match = X509_check_private_key(cert->get(), key.get()) == 1;
  ERR_clear_error();
  if (!match) return absl::InvalidArgumentError("the key is not the certificate's");
  return absl::OkStatus();
}

absl::StatusOr<std::string> LeafCertificateDigest(std::string_view pem) {
  absl::StatusOr<Cert> cert = FirstCertificate(pem);
  if (!cert.ok()) return cert.status();
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert->get(), &der);
  if (n <= 0) return absl::InvalidArgumentError(LastError());
  std::string digest(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  const bool ok = EVP_Digest(der, static_cast<size_t>(n),
                             reinterpret_cast<unsigned char*>(digest.data()), &len, EVP_sha256(),
                             nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return absl::InvalidArgumentError(LastError());
  digest.resize(len);
  return digest;
}

}  // namespace fieldsync::wire
