// BlockCodec: the per-tier codec value, its stored sizes, and the checks
// Open runs before a tier is built with it.
#include "lib/codec/block_codec.h"

#include <cassert>
#include <string>

namespace kvtier::internal {

BlockCodec::BlockCodec(Codec codec, DType dtype, uint32_t group_values,
                       const CodecKernels* kernels)
    : codec_(codec),
      dtype_(dtype),
      group_values_(codec == Codec::kRaw ? 1 : group_values),
      kernels_(kernels != nullptr ? kernels : &BestCodecKernels()) {
  assert(group_values_ > 0);
  assert(codec == Codec::kRaw || dtype != DType::kFp8E4M3);
}

BlockCodec BlockCodec::For(Codec codec, const KvLayout& layout) {
  return BlockCodec(codec, layout.dtype, layout.head_dim);
}

size_t BlockCodec::GroupBytes() const {
  return raw() ? 1 : size_t{group_values_} * DTypeBytes(dtype_);
}

size_t BlockCodec::StoredBytes(size_t engine_bytes) const {
  if (raw()) return engine_bytes;
  assert(engine_bytes % GroupBytes() == 0);
  const size_t groups = engine_bytes / GroupBytes();
  return groups * (group_values_ + kCodecScaleBytes);
}

size_t BlockCodec::EngineBytes(size_t stored_bytes) const {
  if (raw()) return stored_bytes;
  const size_t group_stored = group_values_ + kCodecScaleBytes;
  assert(stored_bytes % group_stored == 0);
  return stored_bytes / group_stored * GroupBytes();
}

Status CheckCodec(Codec codec, const KvLayout& layout, const char* field) {
  switch (codec) {
    case Codec::kRaw:
      return Status::Ok();
    case Codec::kInt8:
    case Codec::kFp8:
      if (layout.dtype == DType::kFp8E4M3) {
        return InvalidArgument(std::string(field) + ": the " + CodecName(codec) +
                               " codec needs an fp16, bf16 or fp32 layout; "
                               "layout.dtype is already fp8 (use raw)");
      }
      return Status::Ok();
  }
  return InvalidArgument(std::string(field) + ": unknown codec " +
                         std::to_string(static_cast<int>(codec)));
}

size_t StoredPayloadBytes(const KvLayout& layout, Codec codec) {
  return layout.SegmentsPerBlock() *
         BlockCodec::For(codec, layout).StoredBytes(layout.SegmentBytes());
}

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kRaw:
      return "raw";
    case Codec::kInt8:
      return "int8";
    case Codec::kFp8:
      return "fp8";
  }
  return "unknown";
}

}  // namespace kvtier::internal
