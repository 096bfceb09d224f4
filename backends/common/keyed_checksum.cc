// HMAC-SHA256 through OpenSSL 3's EVP_MAC.
#include "backends/common/keyed_checksum.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <string>

namespace kvtier::internal {

void KeyedChecksum::CtxDeleter::operator()(evp_mac_ctx_st* c) const {
  EVP_MAC_CTX_free(c);
}

Result<KeyedChecksum> KeyedChecksum::Create(std::string_view secret,
                                            std::string_view field) {
  if (secret.size() < kMinSecretBytes) {
    return InvalidArgument(std::string(field) + ": " + std::to_string(secret.size()) +
                           " bytes; a secret needs at least " +
                           std::to_string(kMinSecretBytes));
  }
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return Internal("libcrypto: no HMAC");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context keeps its own reference
  if (ctx == nullptr) return Internal("libcrypto: cannot make an HMAC context");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()),
                   secret.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return Internal("libcrypto: HMAC-SHA256 refused the key");
  }
  return KeyedChecksum(ctx);
}

KeyedChecksum::KeyedChecksum(const KeyedChecksum& other)
    : keyed_(other.keyed_ ? EVP_MAC_CTX_dup(other.keyed_.get()) : nullptr) {}

KeyedChecksum& KeyedChecksum::operator=(const KeyedChecksum& other) {
  if (this != &other) {
    keyed_.reset(other.keyed_ ? EVP_MAC_CTX_dup(other.keyed_.get()) : nullptr);
  }
  return *this;
}

KeyedChecksum::Tag KeyedChecksum::Compute(std::string_view name,
                                          std::span<const std::byte> value) const {
  Tag tag{};
  std::unique_ptr<evp_mac_ctx_st, CtxDeleter> ctx(keyed_ ? EVP_MAC_CTX_dup(keyed_.get())
                                                         : nullptr);
  size_t out = 0;
  // A failure leaves the tag zero: it then verifies nothing.
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(name.data()),
                     name.size()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(value.data()),
                     value.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(tag.data()), &out,
                    tag.size()) != 1) {
    tag.fill(std::byte{0});
  }
  return tag;
}

bool KeyedChecksum::Verify(std::string_view name, std::span<const std::byte> value,
                           std::span<const std::byte> tag) const {
  if (tag.size() != kTagBytes) return false;
  const Tag want = Compute(name, value);
  static const Tag kZero{};
  if (want == kZero) return false;
  return CRYPTO_memcmp(want.data(), tag.data(), kTagBytes) == 0;
}

}  // namespace kvtier::internal
