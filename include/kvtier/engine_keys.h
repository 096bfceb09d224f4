// Engine keys: blocks named by an inference engine's own block ids (vLLM's
// block hash and KV-group index, SGLang's page hash string, or any byte
// string) instead of kvtier's token chain (hash.h).
//
// Thread safety: EngineKeyMapper is immutable after construction; share it.
// Cost: one SHA-256 over 36 + key bytes per key (about 1 us for a 32-byte
// key, measured on these 2-vCPU machines under load).
//
// Chains. An engine hands its keys in prefix order (the keys of blocks
// 0..n-1 of one request) and gets BlockHashes back in that order. Store's
// Lookup, Load, Save and Erase take that chain exactly as they take
// PrefixHasher's: block i's parent is block i-1, so prefix lookups,
// chain-tails-first eviction and Erase of a block's descendants work
// unchanged. Each BlockHash depends on its own key only (the engines'
// keys already chain their parents' and so identify a whole prefix), so
// the keys of a chain's tail map to the same BlockHashes alone as within
// the whole chain: an engine that hands only new blocks' keys (vLLM's
// prepare_store, SGLang's batch_set) gets the right names.
//
// Mapping (version 1). Stored blocks are named by it, so it never changes
// silently; tests pin it with golden vectors computed outside this code:
//
//   digest = SHA-256 of
//       "kvtier.ek.v1"                 12 bytes ASCII, no terminator
//       root.lo (u64)  root.hi (u64)   the namespace root (hash.h) of the
//                                      store the chain is for
//       u32 profile                    KeyProfile's value
//       u32 group                      vLLM's KV-cache group index, SGLang's
//                                      pool index, or the caller's; 0 by default
//       key bytes                      as given (SGLang: the hex text itself)
//   BlockHash.lo = digest bytes 0..7, BlockHash.hi = digest bytes 8..15
//   All integers are little-endian.
//
// Why these choices:
// - SHA-256, truncated to kvtier's 128-bit BlockHash, not XXH3-128 as the
//   token chain: the engines chose SHA-256 so that a tenant cannot craft
//   prompts whose blocks collide with another's (vLLM dropped Python's
//   hash() for it); a non-cryptographic step after theirs, over keys that
//   may be any bytes, would be the weak link. 128 bits keep a birthday bound
//   of 2^64 keys. The cost is small beside the engine's own hashing.
// - The fixed-size header before the key, the key last: the encoding is
//   injective, so no two (root, profile, group, key) share input bytes.
//   Profiles and groups are apart by construction, and collide only as
//   SHA-256 does.
// - The namespace root: a store's blocks are those of its namespace (model,
//   layout, codecs, rank, tenant). Two stores that share a tier (Redis), or
//   two tensor-parallel ranks with the same engine keys, never share a
//   block, exactly as with token chains.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kvtier/engine_hashes.h"
#include "kvtier/export.h"
#include "kvtier/hash.h"
#include "kvtier/status.h"

namespace kvtier {

enum class KeyProfile : uint32_t {
  kBytes = 0,   // any byte string of 1..kMaxEngineKeyBytes bytes
  kVllm = 1,    // vLLM's BlockHash: 32 bytes (sha256, sha256_cbor) or 16 (xxhash)
  kSglang = 2,  // SGLang's page hash: 64 lowercase hex digits, as hexdigest()
};

// Longest key the kBytes profile takes: a key is a digest or an id, not data.
inline constexpr size_t kMaxEngineKeyBytes = 1024;

class KVTIER_EXPORT EngineKeyMapper {
 public:
  // `root`: the namespace root of the store the chains are for,
  // store.hasher().root() or PrefixHasher::NamespaceRoot(ns).
  EngineKeyMapper(const BlockHash& root, KeyProfile profile, uint32_t group = 0);

  KeyProfile profile() const { return profile_; }
  uint32_t group() const { return group_; }

  // The BlockHash of one key. InvalidArgument ("engine_keys.key: ...") for
  // a key the profile does not take (wrong size; for kSglang, not 64
  // lowercase hex digits; for kVllm, a 36- or 20-byte BlockHashWithGroupId
  // is refused with a hint to pass the group apart) or an unknown profile.
  Result<BlockHash> Map(std::string_view key) const;

  // keys[i] -> out[i], in prefix order. InvalidArgument naming
  // "engine_keys.keys[i]" for the first key refused (out is then partly
  // written), or when out.size() != keys.size().
  Status ChainInto(std::span<const std::string_view> keys,
                   std::span<BlockHash> out) const;
  // The same for vLLM's sha256 digests as VllmBlockHashes returns them.
  Status ChainInto(std::span<const Sha256Digest> keys, std::span<BlockHash> out) const;

  Result<std::vector<BlockHash>> Chain(std::span<const std::string_view> keys) const;
  Result<std::vector<BlockHash>> Chain(std::span<const Sha256Digest> keys) const;

 private:
  BlockHash root_;
  KeyProfile profile_;
  uint32_t group_;
};

}  // namespace kvtier
