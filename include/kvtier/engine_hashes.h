// Engines' own block hashes, bit-exact: vLLM's sha256_cbor block hash and
// SGLang's page hash, so a C++ engine or a router computes the keys the
// Python engines use and names kvtier blocks by them (engine_keys.h).
//
// Thread safety: every function here is pure; call from any thread.
// Cost: one SHA-256 per block over ~40 + 5 * tokens bytes (vLLM) or
// 32 + 4 * tokens bytes (SGLang): 1-2 us per 16-token block measured here
// (2 vCPUs, loaded), SHA-256 itself most of it.
//
// ---- vLLM: sha256_cbor ------------------------------------------------------
// Matched against vllm-project/vllm at commit
// 001cabc1be16a59a70d720ed61a13b678c060a18: vllm/v1/core/kv_cache_utils.py
// (init_none_hash, hash_block_tokens, generate_block_hash_extra_keys,
// get_request_block_hasher) and vllm/utils/hashing.py (sha256_cbor). vLLM
// must run with --prefix-caching-hash-algo sha256_cbor (its default,
// "sha256", hashes a pickle, which no other language reproduces) and with
// PYTHONHASHSEED set (unset, NONE_HASH is 32 random bytes per process).
//
//   sha256_cbor(x)  = SHA-256(cbor2.dumps(x, canonical=True))
//   NONE_HASH       = sha256_cbor(os.environ["PYTHONHASHSEED"])   (a text string)
//   block i hash    = sha256_cbor((parent, tuple(block_tokens), extra_keys))
//                     parent = NONE_HASH for block 0, else block i-1's hash
//                     (32-byte byte strings); extra_keys = None or a tuple
//   extra_keys      = lora + mm + salt (+ prompt-embeds digests, not built here):
//     lora  [lora_name]            when the request has a LoRA, every block
//     mm    (identifier, offset - block_start) for each multimodal item the
//           block overlaps (items sorted by offset)
//     salt  [cache_salt]           block 0 only, when the salt is non-empty
//   Only full blocks are hashed; a trailing partial block has no hash.
// Releases before the multimodal-offset change hash an mm item as its bare
// identifier: build those extra keys with CborValue and VllmHashBlock.
//
// ---- SGLang: page hash ------------------------------------------------------
// Matched against sgl-project/sglang at commit
// bb424de23a4659f89cfd97dcad3aa1935a1e1d3e:
// python/sglang/srt/mem_cache/hicache_storage.py (get_hash_str), chained
// page by page as its HiCache controller and radix tree do:
//
//   page hash = SHA-256(bytes.fromhex(prior) if prior else b""
//                       + token ids, each u32 little-endian).hexdigest()
//   prior     = None for the first page, else the previous page's hash
//
// Later SGLang's EAGLE bigram pages (tuples of token ids) hash each element
// the same way: pass the pairs flattened. A release that seeds a chain with
// a namespace digest passes it as the first page's prior.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/status.h"

namespace kvtier {

// A vLLM block hash with sha256 / sha256_cbor: the 32-byte digest.
using Sha256Digest = std::array<uint8_t, 32>;

// The values vLLM's extra keys are made of, as cbor2 encodes them:
// None, int, str (UTF-8), bytes, tuple/list (an array).
struct CborValue {
  std::variant<std::monostate, int64_t, std::string, std::vector<uint8_t>,
               std::vector<CborValue>>
      value;
};

// One multimodal item of a request (vLLM's MultiModalFeatureSpec):
// `identifier` (its mm hash) at token positions [offset, offset + length).
struct VllmMmFeature {
  std::string identifier;
  int64_t offset = 0;
  int64_t length = 0;
};

// What of a vLLM Request its block hashes depend on besides the tokens.
struct VllmRequestKeys {
  std::optional<std::string> lora_name;    // set iff the request has a LoRA
  std::vector<VllmMmFeature> mm_features;  // sorted by offset, as vLLM keeps them
  std::string cache_salt;                  // empty = none
};

// NONE_HASH of a vLLM process started with PYTHONHASHSEED=python_hash_seed.
// Internal only if libcrypto fails.
KVTIER_EXPORT Result<Sha256Digest> VllmNoneHash(std::string_view python_hash_seed);

// hash_block_tokens(sha256_cbor, parent, tokens, extra_keys): one block.
// extra_keys: nullopt = None; otherwise the tuple's items.
KVTIER_EXPORT Result<Sha256Digest> VllmHashBlock(
    const Sha256Digest& parent, std::span<const uint32_t> tokens,
    const std::optional<std::vector<CborValue>>& extra_keys);

// vLLM's request_block_hasher: the hashes of the full blocks of
// `all_tokens` that follow the `prior` ones (request.block_hashes so far;
// empty for a new request), with the extra keys vLLM derives from
// `request`. As vLLM, a call that resumes after `prior` considers only
// the last multimodal item; pass the blocks in the same increments vLLM
// hashed them (the prompt, then each block decoding completes) to get its
// hashes exactly. InvalidArgument for block_size 0 or
// mm features out of order or negative. Like vLLM, prior blocks covering
// every full block yield no hashes (not an error).
KVTIER_EXPORT Result<std::vector<Sha256Digest>> VllmBlockHashes(
    const Sha256Digest& none_hash, uint32_t block_size,
    std::span<const uint32_t> all_tokens, const VllmRequestKeys& request,
    std::span<const Sha256Digest> prior = {});

// get_hash_str(tokens, prior): one page, of any length (SGLang hashes full
// pages only; a short list hashes as given). `prior_hex`: the previous
// page's hash, empty = None. InvalidArgument when it is not an even
// number of hex digits.
KVTIER_EXPORT Result<std::string> SglangHashPage(std::span<const uint32_t> tokens,
                                                 std::string_view prior_hex = {});

// The chained hashes of the full pages of `tokens` (a trailing partial page
// is not hashed: SGLang aligns its keys to pages first), the first chained
// onto `prior_hex` (empty = the sequence start). InvalidArgument for
// page_size 0 or a bad prior.
KVTIER_EXPORT Result<std::vector<std::string>> SglangPageHashes(
    std::span<const uint32_t> tokens, uint32_t page_size,
    std::string_view prior_hex = {});

}  // namespace kvtier
