// KeyedChecksum: HMAC-SHA256 (OpenSSL libcrypto) of a stored block under a
// secret: a remote value under the secret the deployment's stores share
// (options.remote.checksum_key), an NVMe slot under the store's own
// (options.nvme.checksum_key or checksum_key_file). The stored block's own
// XXH3 checksum finds damage; anyone can recompute it. This tag finds
// forgery: without the secret no writer can make a block that verifies.
//
// Thread safety: Tag and Verify may run concurrently (each call uses its own
// context, duplicated from one keyed at Create). A copy duplicates the keyed
// context too (one libcrypto cannot duplicate verifies nothing).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "kvtier/status.h"

struct evp_mac_ctx_st;

namespace kvtier::internal {

class KeyedChecksum {
 public:
  static constexpr size_t kTagBytes = 32;
  static constexpr size_t kMinSecretBytes = 16;
  using Tag = std::array<std::byte, kTagBytes>;

  // InvalidArgument naming `field` (the option the secret came from) when
  // it is shorter than kMinSecretBytes; Internal when libcrypto has no
  // HMAC-SHA256.
  static Result<KeyedChecksum> Create(std::string_view secret, std::string_view field);

  KeyedChecksum(const KeyedChecksum& other);
  KeyedChecksum& operator=(const KeyedChecksum& other);
  KeyedChecksum(KeyedChecksum&&) noexcept = default;
  KeyedChecksum& operator=(KeyedChecksum&&) noexcept = default;

  // HMAC over `name` (the Redis key; a constant for NVMe slots) then `value`.
  Tag Compute(std::string_view name, std::span<const std::byte> value) const;
  // Constant-time comparison with `tag`.
  bool Verify(std::string_view name, std::span<const std::byte> value,
              std::span<const std::byte> tag) const;

 private:
  struct CtxDeleter {
    void operator()(evp_mac_ctx_st* c) const;
  };
  explicit KeyedChecksum(evp_mac_ctx_st* keyed) : keyed_(keyed) {}
  std::unique_ptr<evp_mac_ctx_st, CtxDeleter> keyed_;  // initialized with the key
};

}  // namespace kvtier::internal
