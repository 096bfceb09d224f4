// SHA-256 over OpenSSL 3's EVP interface. The algorithm is fetched once per
// process (an implicit fetch on every digest would cost a provider lookup
// per block).
#include "lib/format/sha256.h"

#include <openssl/evp.h>

namespace kvtier::internal {
namespace {

// Fetched on first use; never freed (process lifetime, like OpenSSL's own
// default provider). nullptr when OpenSSL offers no SHA-256.
const EVP_MD* Sha256Algorithm() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { Reset(); }

void Sha256::Reset() {
  const EVP_MD* md = Sha256Algorithm();
  failed_ = ctx_ == nullptr || md == nullptr || EVP_DigestInit_ex(ctx_, md, nullptr) != 1;
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(std::span<const uint8_t> bytes) {
  if (failed_ || bytes.empty()) return;
  failed_ = EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1;
}

Result<Sha256Bytes> Sha256::Finish() {
  Sha256Bytes out{};
  unsigned int len = 0;
  if (failed_ || EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
    failed_ = true;
    return Internal("libcrypto: SHA-256 failed (is OpenSSL's default provider loaded?)");
  }
  return out;
}

Result<Sha256Bytes> Sha256Of(std::span<const uint8_t> bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.Finish();
}

}  // namespace kvtier::internal
