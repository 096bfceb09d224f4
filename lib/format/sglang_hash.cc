// SGLang's page hashes (kvtier/engine_hashes.h) as get_hash_str in
// python/sglang/srt/mem_cache/hicache_storage.py computes them, chained
// page by page.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvtier/engine_hashes.h"
#include "lib/format/hex.h"
#include "lib/format/sha256.h"

namespace kvtier {
namespace {

// One page chained onto `prior` (empty = None; Python's `if prior_hash:`),
// the tokens written little-endian a chunk at a time.
Result<internal::Sha256Bytes> HashPage(internal::Sha256& h,
                                       std::span<const uint32_t> tokens,
                                       std::span<const uint8_t> prior) {
  h.Reset();
  h.Update(prior);
  uint8_t chunk[1024];
  for (size_t at = 0; at < tokens.size();) {
    const size_t n = std::min(tokens.size() - at, sizeof(chunk) / 4);
    for (size_t t = 0; t < n; ++t)
      for (int i = 0; i < 4; ++i)
        chunk[4 * t + i] = static_cast<uint8_t>(tokens[at + t] >> (8 * i));
    h.Update(std::span<const uint8_t>(chunk, 4 * n));
    at += n;
  }
  return h.Finish();
}

Result<std::vector<uint8_t>> PriorBytes(std::string_view prior_hex) {
  std::optional<std::vector<uint8_t>> bytes = internal::FromHex(prior_hex);
  if (!bytes) {
    return InvalidArgument("sglang.prior_hash: \"" +
                           std::string(prior_hex.substr(0, 80)) +
                           "\" is not an even number of hex digits");
  }
  return std::move(*bytes);
}

}  // namespace

Result<std::string> SglangHashPage(std::span<const uint32_t> tokens,
                                   std::string_view prior_hex) {
  Result<std::vector<uint8_t>> prior = PriorBytes(prior_hex);
  if (!prior.ok()) return prior.status();
  internal::Sha256 hasher;
  Result<internal::Sha256Bytes> h = HashPage(hasher, tokens, prior.value());
  if (!h.ok()) return h.status();
  return internal::ToHex(h.value());
}

Result<std::vector<std::string>> SglangPageHashes(std::span<const uint32_t> tokens,
                                                  uint32_t page_size,
                                                  std::string_view prior_hex) {
  if (page_size == 0) return InvalidArgument("sglang.page_size: must be at least 1");
  Result<std::vector<uint8_t>> first = PriorBytes(prior_hex);
  if (!first.ok()) return first.status();
  std::vector<uint8_t> prior = std::move(first).value();
  std::vector<std::string> out;
  out.reserve(tokens.size() / page_size);
  internal::Sha256 hasher;
  for (size_t start = 0; tokens.size() - start >= page_size; start += page_size) {
    Result<internal::Sha256Bytes> h =
        HashPage(hasher, tokens.subspan(start, page_size), prior);
    if (!h.ok()) return h.status();
    prior.assign(h.value().begin(), h.value().end());
    out.push_back(internal::ToHex(h.value()));
  }
  return out;
}

}  // namespace kvtier
