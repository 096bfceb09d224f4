// KvLayout: validation, equality and the stable fingerprint that seeds the
// hash namespace.
//
// Fingerprint serialization, version 1 (never change it in place: persisted
// caches are keyed by it; a new layout field means "kvtier.layout.v2"):
//
//   "kvtier.layout.v1"            16 bytes ASCII, no terminator
//   u32 num_layers
//   u32 kv_heads
//   u32 head_dim
//   u32 dtype                     the DType enum value (1..4), widened
//   u32 block_tokens
//   u32 parts_per_layer
//   u32 len(layer_windows)        0 when empty
//   u32 layer_windows[i]          for each entry, in order
//
// All integers little-endian. fingerprint = XXH3_64bits(seed 0) of those bytes.
// The serialization is literal: an empty layer_windows and an explicit
// all-zero one describe the same attention but fingerprint differently (as
// operator== also tells them apart); the cost is only a missed reuse.
#include "kvtier/layout.h"

#include <cstdint>
#include <string>

// GCC 12's AVX-512 intrinsics warn about their own _mm512_undefined_*()
// placeholders once XXH3 inlines them; the warning is spurious.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define XXH_INLINE_ALL
#include <xxhash.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace kvtier {
namespace {

// Upper bounds: far beyond any model shipped today, and small enough that
// SegmentBytes() and BlockBytes() cannot overflow size_t even before the
// segment size limit below (2^16 * 2^10 * 2^14 * 4 * 2 * 2^10 = 2^53).
constexpr uint32_t kMaxLayers = 1024;
constexpr uint32_t kMaxKvHeads = 1024;
constexpr uint32_t kMaxHeadDim = 16384;
constexpr uint32_t kMaxBlockTokens = 65536;
// One segment is read and written as one I/O; 1 GiB is also the largest
// registered io_uring buffer.
constexpr size_t kMaxSegmentBytes = size_t{1} << 30;
// The bounds above keep SegmentBytes() and BlockBytes() exact (checked
// here, so a raised limit cannot let them wrap unnoticed).
constexpr uint64_t kMaxSegmentProduct =
    uint64_t{kMaxBlockTokens} * kMaxKvHeads * kMaxHeadDim * 4;  // 2^42
static_assert(kMaxSegmentProduct / kMaxBlockTokens / kMaxKvHeads / kMaxHeadDim == 4);
static_assert(kMaxSegmentProduct <= SIZE_MAX / (uint64_t{kMaxLayers} * 2),
              "BlockBytes() of any layout within the limits fits in size_t");

constexpr char kFingerprintTag[] = "kvtier.layout.v1";

bool IsValidDType(DType dtype) { return DTypeBytes(dtype) != 0; }

Status CheckRange(const char* field, uint32_t value, uint32_t max) {
  if (value == 0) return InvalidArgument(std::string(field) + ": must be > 0");
  if (value > max) {
    return InvalidArgument(std::string(field) + ": " + std::to_string(value) +
                           " exceeds the limit of " + std::to_string(max));
  }
  return Status::Ok();
}

void AppendU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

size_t DTypeBytes(DType dtype) {
  switch (dtype) {
    case DType::kFp16:
    case DType::kBf16:
      return 2;
    case DType::kFp32:
      return 4;
    case DType::kFp8E4M3:
      return 1;
  }
  return 0;  // not a DType: Validate() rejects it
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFp16:
      return "fp16";
    case DType::kBf16:
      return "bf16";
    case DType::kFp32:
      return "fp32";
    case DType::kFp8E4M3:
      return "fp8_e4m3";
  }
  return "invalid";
}

Status KvLayout::Validate() const {
  if (Status s = CheckRange("layout.num_layers", num_layers, kMaxLayers); !s.ok())
    return s;
  if (Status s = CheckRange("layout.kv_heads", kv_heads, kMaxKvHeads); !s.ok()) return s;
  if (Status s = CheckRange("layout.head_dim", head_dim, kMaxHeadDim); !s.ok()) return s;
  if (Status s = CheckRange("layout.block_tokens", block_tokens, kMaxBlockTokens);
      !s.ok())
    return s;
  if (!IsValidDType(dtype)) {
    return InvalidArgument(
        "layout.dtype: " + std::to_string(static_cast<unsigned>(dtype)) +
        " is not a DType (fp16=1, bf16=2, fp32=3, fp8_e4m3=4)");
  }
  if (parts_per_layer != 1 && parts_per_layer != 2) {
    return InvalidArgument(
        "layout.parts_per_layer: must be 1 (combined) or 2 (K and V), got " +
        std::to_string(parts_per_layer));
  }
  if (!layer_windows.empty() && layer_windows.size() != num_layers) {
    return InvalidArgument(
        "layout.layer_windows: has " + std::to_string(layer_windows.size()) +
        " entries; must be empty or one per layer (" + std::to_string(num_layers) + ")");
  }
  if (SegmentBytes() > kMaxSegmentBytes) {
    return InvalidArgument(
        "layout.block_tokens: a segment of block_tokens * kv_heads * "
        "head_dim * dtype = " +
        std::to_string(SegmentBytes()) + " bytes exceeds 1 GiB");
  }
  return Status::Ok();
}

bool operator==(const KvLayout& a, const KvLayout& b) {
  return a.num_layers == b.num_layers && a.kv_heads == b.kv_heads &&
         a.head_dim == b.head_dim && a.dtype == b.dtype &&
         a.block_tokens == b.block_tokens && a.parts_per_layer == b.parts_per_layer &&
         a.layer_windows == b.layer_windows;
}

uint64_t KvLayout::Fingerprint() const {
  std::string bytes(kFingerprintTag, sizeof(kFingerprintTag) - 1);
  bytes.reserve(bytes.size() + 4 * (7 + layer_windows.size()));
  AppendU32(bytes, num_layers);
  AppendU32(bytes, kv_heads);
  AppendU32(bytes, head_dim);
  AppendU32(bytes, static_cast<uint32_t>(dtype));
  AppendU32(bytes, block_tokens);
  AppendU32(bytes, parts_per_layer);
  AppendU32(bytes, static_cast<uint32_t>(layer_windows.size()));
  for (uint32_t w : layer_windows) AppendU32(bytes, w);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace kvtier
