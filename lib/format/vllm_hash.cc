// vLLM's sha256_cbor block hashes (kvtier/engine_hashes.h), step for step
// as vllm/v1/core/kv_cache_utils.py computes them, including its
// multimodal scan state (the index of the next item, -1 = "the last one").
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvtier/engine_hashes.h"
#include "lib/format/cbor_writer.h"
#include "lib/format/sha256.h"

namespace kvtier {
namespace {

using internal::CborWriter;

// cbor2.dumps((parent, tuple(tokens), extra_keys), canonical=True) into buf.
void EncodeBlock(std::vector<uint8_t>& buf, const Sha256Digest& parent,
                 std::span<const uint32_t> tokens,
                 const std::optional<std::vector<CborValue>>& extra_keys) {
  buf.clear();
  CborWriter w(buf);
  w.ArrayHead(3);
  w.Bytes(parent);
  w.ArrayHead(tokens.size());
  for (uint32_t t : tokens) w.Uint(t);
  if (!extra_keys) return w.Null();
  w.ArrayHead(extra_keys->size());
  for (const CborValue& v : *extra_keys) w.Value(v);
}

Result<Sha256Digest> HashEncoded(const std::vector<uint8_t>& buf) {
  return internal::Sha256Of(buf);
}

CborValue Text(const std::string& s) { return CborValue{s}; }

// _gen_mm_extra_hash_keys: appends (identifier, offset - start) for every
// item block [start, end) overlaps, from item `start_idx` (-1 = the last);
// returns the index the next block starts from.
int64_t AppendMmKeys(const std::vector<VllmMmFeature>& mm, int64_t start, int64_t end,
                     int64_t start_idx, std::vector<CborValue>& keys) {
  if (mm.empty()) return start_idx;
  const VllmMmFeature& last = mm.back();
  if (last.offset + last.length <= start) return start_idx;
  const int64_t count = static_cast<int64_t>(mm.size());
  if (start_idx < 0) start_idx = count + start_idx;
  int64_t idx = start_idx;
  while (idx < count) {
    const VllmMmFeature& f = mm[static_cast<size_t>(idx)];
    if (end <= f.offset) break;          // the block has not reached this item
    if (start >= f.offset + f.length) {  // the block is past it
      ++idx;
      continue;
    }
    keys.push_back(CborValue{
        std::vector<CborValue>{Text(f.identifier), CborValue{f.offset - start}}});
    if (end < f.offset + f.length) break;  // the item goes on into the next block
    ++idx;
  }
  return idx;
}

// generate_block_hash_extra_keys, without prompt embeddings.
std::optional<std::vector<CborValue>> ExtraKeys(const VllmRequestKeys& r, int64_t start,
                                                int64_t end, int64_t& mm_idx) {
  std::vector<CborValue> keys;
  if (r.lora_name) keys.push_back(Text(*r.lora_name));
  mm_idx = AppendMmKeys(r.mm_features, start, end, mm_idx, keys);
  if (start == 0 && !r.cache_salt.empty()) keys.push_back(Text(r.cache_salt));
  if (keys.empty()) return std::nullopt;
  return keys;
}

Status CheckMmFeatures(const std::vector<VllmMmFeature>& mm) {
  for (size_t i = 0; i < mm.size(); ++i) {
    const std::string field = "vllm.mm_features[" + std::to_string(i) + "]";
    if (mm[i].length < 0 || mm[i].offset < 0) {
      return InvalidArgument(field + ": offset " + std::to_string(mm[i].offset) +
                             " and length " + std::to_string(mm[i].length) +
                             " must not be negative");
    }
    if (i > 0 && mm[i].offset < mm[i - 1].offset) {
      return InvalidArgument(field + ".offset: " + std::to_string(mm[i].offset) +
                             " is before the previous item's " +
                             std::to_string(mm[i - 1].offset) +
                             " (vLLM keeps items sorted by offset)");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Sha256Digest> VllmNoneHash(std::string_view python_hash_seed) {
  std::vector<uint8_t> buf;
  CborWriter(buf).Text(python_hash_seed);
  return HashEncoded(buf);
}

Result<Sha256Digest> VllmHashBlock(
    const Sha256Digest& parent, std::span<const uint32_t> tokens,
    const std::optional<std::vector<CborValue>>& extra_keys) {
  std::vector<uint8_t> buf;
  EncodeBlock(buf, parent, tokens, extra_keys);
  return HashEncoded(buf);
}

Result<std::vector<Sha256Digest>> VllmBlockHashes(const Sha256Digest& none_hash,
                                                  uint32_t block_size,
                                                  std::span<const uint32_t> all_tokens,
                                                  const VllmRequestKeys& request,
                                                  std::span<const Sha256Digest> prior) {
  if (block_size == 0) return InvalidArgument("vllm.block_size: must be at least 1");
  if (Status s = CheckMmFeatures(request.mm_features); !s.ok()) return s;
  std::vector<Sha256Digest> out;
  // As vLLM: nothing new unless a full block follows the prior ones
  // (compared by division: prior.size() * block_size may not fit).
  if (prior.size() >= all_tokens.size() / block_size) return out;
  size_t start = prior.size() * block_size;
  int64_t mm_idx = start > 0 ? -1 : 0;
  Sha256Digest parent = prior.empty() ? none_hash : prior.back();
  std::vector<uint8_t> buf;
  internal::Sha256 hasher;
  out.reserve((all_tokens.size() - start) / block_size);
  for (; start + block_size <= all_tokens.size(); start += block_size) {
    const auto extra = ExtraKeys(request, static_cast<int64_t>(start),
                                 static_cast<int64_t>(start + block_size), mm_idx);
    EncodeBlock(buf, parent, all_tokens.subspan(start, block_size), extra);
    hasher.Reset();
    hasher.Update(buf);
    Result<Sha256Digest> h = hasher.Finish();
    if (!h.ok()) return h.status();
    parent = h.value();
    out.push_back(parent);
  }
  return out;
}

}  // namespace kvtier
