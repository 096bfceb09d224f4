// SHA-256 through OpenSSL's libcrypto: the digest engines' own block hashes
// use (vLLM's sha256_cbor, SGLang's page hash) and engine keys map through.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kvtier/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace kvtier::internal {

using Sha256Bytes = std::array<uint8_t, 32>;

// Accumulates input, then yields its digest; Reset() starts the next one
// on the same context (a chain of blocks reuses one: creating a context
// costs about as much as hashing a block). Single owner; not thread-safe.
// Internal (libcrypto's context creation or digest refused: a broken
// OpenSSL configuration) is the only failure.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Reset();
  void Update(std::span<const uint8_t> bytes);
  Result<Sha256Bytes> Finish();

 private:
  ::evp_md_ctx_st* ctx_;  // owned
  bool failed_ = false;
};

// One shot over one buffer.
Result<Sha256Bytes> Sha256Of(std::span<const uint8_t> bytes);

}  // namespace kvtier::internal
