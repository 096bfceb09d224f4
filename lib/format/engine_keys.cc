// EngineKeyMapper: engine keys to BlockHashes, byte for byte as
// include/kvtier/engine_keys.h lays the mapping out.
#include "kvtier/engine_keys.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "lib/format/sha256.h"

namespace kvtier {
namespace {

constexpr char kTag[] = "kvtier.ek.v1";
constexpr size_t kTagBytes = sizeof(kTag) - 1;
constexpr size_t kHeaderBytes = kTagBytes + 16 + 4 + 4;

void PutLe(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t GetLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// Empty when the profile takes `key`; otherwise why not.
std::string ProfileRefuses(KeyProfile profile, std::string_view key) {
  const std::string size = std::to_string(key.size()) + " bytes";
  switch (profile) {
    case KeyProfile::kBytes:
      if (key.empty() || key.size() > kMaxEngineKeyBytes) {
        return size + "; the bytes profile takes 1 to " +
               std::to_string(kMaxEngineKeyBytes);
      }
      return {};
    case KeyProfile::kVllm:
      if (key.size() == 32 || key.size() == 16) return {};
      if (key.size() == 36 || key.size() == 20) {
        return size +
               ": a BlockHashWithGroupId? pass get_block_hash(key) and the "
               "group index apart";
      }
      return size +
             "; vLLM's block hash is 32 bytes (sha256, sha256_cbor) or 16 (xxhash)";
    case KeyProfile::kSglang:
      if (key.size() == 64 && IsLowerHex(key)) return {};
      return size + "; SGLang's page hash is 64 lowercase hex digits";
  }
  return "unknown profile " + std::to_string(static_cast<uint32_t>(profile));
}

// The BlockHash of `key` (engine_keys.h's layout), or InvalidArgument
// naming `field` when the profile does not take it.
Result<BlockHash> NameKey(internal::Sha256& hasher, const BlockHash& root,
                          KeyProfile profile, uint32_t group, std::string_view key,
                          std::string_view field) {
  if (std::string why = ProfileRefuses(profile, key); !why.empty()) {
    return InvalidArgument(std::string(field) + ": " + why);
  }
  uint8_t header[kHeaderBytes];
  std::memcpy(header, kTag, kTagBytes);
  PutLe(header + kTagBytes, root.lo, 8);
  PutLe(header + kTagBytes + 8, root.hi, 8);
  PutLe(header + kTagBytes + 16, static_cast<uint32_t>(profile), 4);
  PutLe(header + kTagBytes + 20, group, 4);
  hasher.Reset();
  hasher.Update(header);
  hasher.Update({reinterpret_cast<const uint8_t*>(key.data()), key.size()});
  Result<internal::Sha256Bytes> d = hasher.Finish();
  if (!d.ok()) return d.status();
  return BlockHash{GetLe64(d.value().data()), GetLe64(d.value().data() + 8)};
}

}  // namespace

EngineKeyMapper::EngineKeyMapper(const BlockHash& root, KeyProfile profile,
                                 uint32_t group)
    : root_(root), profile_(profile), group_(group) {}

Result<BlockHash> EngineKeyMapper::Map(std::string_view key) const {
  internal::Sha256 hasher;
  return NameKey(hasher, root_, profile_, group_, key, "engine_keys.key");
}

Status EngineKeyMapper::ChainInto(std::span<const std::string_view> keys,
                                  std::span<BlockHash> out) const {
  if (out.size() != keys.size()) {
    return InvalidArgument("engine_keys.out: room for " + std::to_string(out.size()) +
                           " hashes, " + std::to_string(keys.size()) + " keys given");
  }
  internal::Sha256 hasher;  // one context for the chain
  for (size_t i = 0; i < keys.size(); ++i) {
    Result<BlockHash> h = NameKey(hasher, root_, profile_, group_, keys[i],
                                  "engine_keys.keys[" + std::to_string(i) + "]");
    if (!h.ok()) return h.status();
    out[i] = h.value();
  }
  return Status::Ok();
}

Status EngineKeyMapper::ChainInto(std::span<const Sha256Digest> keys,
                                  std::span<BlockHash> out) const {
  std::vector<std::string_view> views;
  views.reserve(keys.size());
  for (const Sha256Digest& k : keys) {
    views.emplace_back(reinterpret_cast<const char*>(k.data()), k.size());
  }
  return ChainInto(std::span<const std::string_view>(views), out);
}

Result<std::vector<BlockHash>> EngineKeyMapper::Chain(
    std::span<const std::string_view> keys) const {
  std::vector<BlockHash> out(keys.size());
  if (Status s = ChainInto(keys, out); !s.ok()) return s;
  return out;
}

Result<std::vector<BlockHash>> EngineKeyMapper::Chain(
    std::span<const Sha256Digest> keys) const {
  std::vector<BlockHash> out(keys.size());
  if (Status s = ChainInto(keys, out); !s.ok()) return s;
  return out;
}

}  // namespace kvtier
