// The C API's engine calls (kvtier_c.h): engine keys to a store's chain, and
// vLLM's and SGLang's block hashes. Every pointer, size and count is checked
// (overflow-safe) before C++ sees it; no exception crosses into C.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/engine_hashes.h"
#include "kvtier/engine_keys.h"
#include "lib/c_api/c_api_support.h"

namespace {

using kvtier::InvalidArgument;
using kvtier::Sha256Digest;
using kvtier::Status;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::CNull;
using kvtier::internal::RawEnum;

// The keys laid end to end, as views; InvalidArgument when the sizes do not
// add up to `total` (each step compared, so a sum cannot wrap).
Status SplitKeys(const uint8_t* bytes, size_t total, const size_t* sizes, size_t n,
                 std::vector<std::string_view>* keys) {
  size_t at = 0;
  keys->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (sizes[i] > total - at) {
      return InvalidArgument("engine_key_chain.key_sizes[" + std::to_string(i) +
                             "]: keys 0.." + std::to_string(i) + " need more than the " +
                             std::to_string(total) + " bytes of key_bytes");
    }
    keys->emplace_back(reinterpret_cast<const char*>(bytes) + at, sizes[i]);
    at += sizes[i];
  }
  if (at != total) {
    return InvalidArgument("engine_key_chain.key_bytes_len: " + std::to_string(total) +
                           " bytes, but the key sizes add up to " + std::to_string(at));
  }
  return Status::Ok();
}

Status CheckOutRoom(const char* call, size_t n_out, size_t needed) {
  if (n_out >= needed) return Status::Ok();
  return InvalidArgument(std::string(call) + ".n_out: room for " + std::to_string(n_out) +
                         " hashes, " + std::to_string(needed) + " to write");
}

kvtier::VllmRequestKeys RequestKeysOf(const kvtier_vllm_request_keys* r) {
  kvtier::VllmRequestKeys keys;
  if (r == nullptr) return keys;
  if (r->has_lora) keys.lora_name = std::string(r->lora_name, r->lora_name_len);
  keys.cache_salt.assign(r->cache_salt, r->cache_salt_len);
  for (size_t i = 0; i < r->mm_feature_count; ++i) {
    const kvtier_vllm_mm_feature& f = r->mm_features[i];
    keys.mm_features.push_back(
        {std::string(f.identifier, f.identifier_len), f.offset, f.length});
  }
  return keys;
}

// Null pointers with non-zero lengths, and the struct's size.
Status CheckRequestKeys(const kvtier_vllm_request_keys* r) {
  if (r == nullptr) return Status::Ok();
  if (Status s = kvtier::internal::CheckStructSize(
          "vllm_block_hashes.request", r->struct_size, sizeof(*r), sizeof(*r));
      !s.ok()) {
    return s;
  }
  auto null_with_length = [](const void* p, size_t n) { return p == nullptr && n > 0; };
  if (r->has_lora && null_with_length(r->lora_name, r->lora_name_len)) {
    return InvalidArgument("vllm_block_hashes.request.lora_name: NULL");
  }
  if (null_with_length(r->cache_salt, r->cache_salt_len)) {
    return InvalidArgument("vllm_block_hashes.request.cache_salt: NULL");
  }
  if (null_with_length(r->mm_features, r->mm_feature_count)) {
    return InvalidArgument("vllm_block_hashes.request.mm_features: NULL");
  }
  for (size_t i = 0; i < r->mm_feature_count; ++i) {
    if (null_with_length(r->mm_features[i].identifier,
                         r->mm_features[i].identifier_len)) {
      return InvalidArgument("vllm_block_hashes.request.mm_features[" +
                             std::to_string(i) + "].identifier: NULL");
    }
  }
  return Status::Ok();
}

}  // namespace

namespace kvtier::internal {

kvtier_code EngineKeyChainC(const BlockHash& root, kvtier_key_profile profile,
                            uint32_t group, const uint8_t* key_bytes,
                            size_t key_bytes_len, const size_t* key_sizes, size_t n_keys,
                            kvtier_block_hash* out, size_t n_out, kvtier_error* err) {
  if (key_bytes == nullptr && key_bytes_len > 0) return CNull("key_bytes", err);
  if (key_sizes == nullptr && n_keys > 0) return CNull("key_sizes", err);
  if (out == nullptr && n_out > 0) return CNull("out", err);
  if (n_out != n_keys) {
    return CFail(InvalidArgument("engine_key_chain.n_out: " + std::to_string(n_out) +
                                 " hashes for " + std::to_string(n_keys) + " keys"),
                 err);
  }
  return CGuarded(err, [&] {
    std::vector<std::string_view> keys;
    if (Status s = SplitKeys(key_bytes, key_bytes_len, key_sizes, n_keys, &keys);
        !s.ok()) {
      return CFail(s, err);
    }
    kvtier::EngineKeyMapper mapper(
        root, static_cast<kvtier::KeyProfile>(RawEnum(profile)), group);
    std::span<kvtier::BlockHash> hashes(reinterpret_cast<kvtier::BlockHash*>(out), n_out);
    Status s = mapper.ChainInto(keys, hashes);
    return s.ok() ? KVTIER_OK : CFail(s, err);
  });
}

}  // namespace kvtier::internal

extern "C" {

kvtier_code kvtier_engine_key_chain(const kvtier_store* store, kvtier_key_profile profile,
                                    uint32_t group, const uint8_t* key_bytes,
                                    size_t key_bytes_len, const size_t* key_sizes,
                                    size_t n_keys, kvtier_block_hash* out, size_t n_out,
                                    kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  return kvtier::internal::EngineKeyChainC(store->store->hasher().root(), profile, group,
                                           key_bytes, key_bytes_len, key_sizes, n_keys,
                                           out, n_out, err);
}

kvtier_code kvtier_vllm_none_hash(const char* seed, size_t seed_len,
                                  uint8_t out[KVTIER_VLLM_HASH_BYTES],
                                  kvtier_error* err) {
  if (seed == nullptr && seed_len > 0) return CNull("seed", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    auto h = kvtier::VllmNoneHash(std::string_view(seed, seed_len));
    if (!h.ok()) return CFail(h.status(), err);
    std::copy(h.value().begin(), h.value().end(), out);
    return KVTIER_OK;
  });
}

kvtier_code kvtier_vllm_block_hashes(const uint8_t* none_hash, uint32_t block_size,
                                     const uint32_t* tokens, size_t n_tokens,
                                     const kvtier_vllm_request_keys* request,
                                     const uint8_t* prior, size_t n_prior, uint8_t* out,
                                     size_t n_out, size_t* n_written, kvtier_error* err) {
  if (none_hash == nullptr) return CNull("none_hash", err);
  if (tokens == nullptr && n_tokens > 0) return CNull("tokens", err);
  if (prior == nullptr && n_prior > 0) return CNull("prior", err);
  if (out == nullptr && n_out > 0) return CNull("out", err);
  if (n_written == nullptr) return CNull("n_written", err);
  if (block_size == 0) {
    return CFail(InvalidArgument("vllm_block_hashes.block_size: must be at least 1"),
                 err);
  }
  if (Status s = CheckRequestKeys(request); !s.ok()) return CFail(s, err);
  const size_t full = n_tokens / block_size;
  const size_t needed = n_prior < full ? full - n_prior : 0;
  if (Status s = CheckOutRoom("vllm_block_hashes", n_out, needed); !s.ok()) {
    return CFail(s, err);
  }
  return CGuarded(err, [&] {
    Sha256Digest seed;
    std::copy(none_hash, none_hash + seed.size(), seed.begin());
    std::vector<Sha256Digest> prior_hashes(n_prior);
    for (size_t i = 0; i < n_prior; ++i) {
      std::copy(prior + i * seed.size(), prior + (i + 1) * seed.size(),
                prior_hashes[i].begin());
    }
    auto hashes = kvtier::VllmBlockHashes(seed, block_size, {tokens, n_tokens},
                                          RequestKeysOf(request), prior_hashes);
    if (!hashes.ok()) return CFail(hashes.status(), err);
    for (size_t i = 0; i < hashes.value().size(); ++i) {
      std::copy(hashes.value()[i].begin(), hashes.value()[i].end(),
                out + i * seed.size());
    }
    *n_written = hashes.value().size();
    return KVTIER_OK;
  });
}

kvtier_code kvtier_sglang_page_hashes(const uint32_t* tokens, size_t n_tokens,
                                      uint32_t page_size, const char* prior_hex,
                                      size_t prior_hex_len, char* out, size_t n_out,
                                      size_t* n_written, kvtier_error* err) {
  if (tokens == nullptr && n_tokens > 0) return CNull("tokens", err);
  if (prior_hex == nullptr && prior_hex_len > 0) return CNull("prior_hex", err);
  if (out == nullptr && n_out > 0) return CNull("out", err);
  if (n_written == nullptr) return CNull("n_written", err);
  if (page_size == 0) {
    return CFail(InvalidArgument("sglang_page_hashes.page_size: must be at least 1"),
                 err);
  }
  if (Status s = CheckOutRoom("sglang_page_hashes", n_out, n_tokens / page_size);
      !s.ok()) {
    return CFail(s, err);
  }
  return CGuarded(err, [&] {
    auto hashes = kvtier::SglangPageHashes({tokens, n_tokens}, page_size,
                                           std::string_view(prior_hex, prior_hex_len));
    if (!hashes.ok()) return CFail(hashes.status(), err);
    for (size_t i = 0; i < hashes.value().size(); ++i) {
      hashes.value()[i].copy(out + i * KVTIER_SGLANG_HASH_CHARS,
                             KVTIER_SGLANG_HASH_CHARS);
    }
    *n_written = hashes.value().size();
    return KVTIER_OK;
  });
}

}  // extern "C"
