// KvLayout: how the engine holds its KV cache, described once at Open().
// Every later call speaks in block hashes and segments whose sizes follow
// from this description.
//
// Thread safety: a value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/status.h"

namespace kvtier {

// Element type of the engine's K/V tensors.
enum class DType : uint8_t { kFp16 = 1, kBf16 = 2, kFp32 = 3, kFp8E4M3 = 4 };

KVTIER_EXPORT size_t DTypeBytes(DType dtype);
KVTIER_EXPORT std::string_view DTypeName(DType dtype);

// One block is `block_tokens` tokens of K and V for every layer. In the
// engine's memory a block is `SegmentsPerBlock()` segments, layer-major:
//   segment (layer l, part p) is index l * parts_per_layer + p,
//   p = 0 for K and 1 for V (parts_per_layer = 2), or the single combined
//   K/V (or MLA latent) page when parts_per_layer = 1.
// Each segment holds block_tokens * kv_heads * head_dim elements of `dtype`,
// token-major then head then head_dim (the (token, head) group of head_dim
// values is contiguous; the 8-bit codecs scale per such group).
struct KVTIER_EXPORT KvLayout {
  uint32_t num_layers = 0;
  uint32_t kv_heads = 0;
  uint32_t head_dim = 0;
  DType dtype = DType::kFp16;
  uint32_t block_tokens = 16;    // tokens per block; a chain hashes only full blocks
  uint32_t parts_per_layer = 2;  // 2 = separate K and V pages; 1 = combined
  // Per-layer attention window in tokens; 0 = full attention. Empty means
  // every layer is full attention; otherwise exactly num_layers entries.
  // Drives sliding-window trimming (store.h): a block keeps all of its
  // sliding-window layers or none, for the largest window among them.
  // ("= {}" lets designated initializers omit it without a -Wextra warning.)
  std::vector<uint32_t> layer_windows = {};

  // InvalidArgument naming the field ("layout.head_dim: ...") when a field is
  // zero, out of range, or layer_windows has the wrong length.
  Status Validate() const;

  size_t SegmentsPerBlock() const { return size_t{num_layers} * parts_per_layer; }
  size_t SegmentBytes() const {
    return size_t{block_tokens} * kv_heads * head_dim * DTypeBytes(dtype);
  }
  size_t BlockBytes() const { return SegmentsPerBlock() * SegmentBytes(); }
  uint32_t WindowOf(uint32_t layer) const {
    return layer_windows.empty() ? 0 : layer_windows[layer];
  }

  // A stable 64-bit fingerprint of every field above (XXH3-64 over a fixed
  // little-endian serialization, documented in lib/layout.cc). It never
  // changes for the same layout across builds or machines: persisted caches
  // and the hash namespace depend on it.
  uint64_t Fingerprint() const;
};

KVTIER_EXPORT bool operator==(const KvLayout& a, const KvLayout& b);

}  // namespace kvtier
