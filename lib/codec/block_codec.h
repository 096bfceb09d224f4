// BlockCodec: how a tier turns a block's segments into the payload of its
// slots (lib/stored_block.h) and back. One value per tier, fixed at Open.
//
// Stored format. The payload is the block's segments in segment order, each
// one encoded on its own. Raw: the segment's bytes. int8 and fp8: the
// segment's G = bytes / (group_values * dtype bytes) groups, a group being
// one (token, head) run of head_dim values (layout.h), stored as
//
//   offset          size       field
//   0               G * D      codes, group after group, element order kept:
//                              int8: two's-complement int8 in [-127, 127]
//                              fp8:  OCP FP8 E4M3 ("E4M3FN"; 0x7F/0xFF unused)
//   G * D           G * 4      scales: float32 little-endian, one per group,
//                              unaligned
//
// with D = group_values (head_dim), so a segment stores G * (D + 4) bytes
// and a block's payload is fixed for a given layout and codec
// (StoredPayloadBytes). A value decodes as code * scale (codec_math.h gives
// the exact rule, including NaN, Inf and all-zero groups).
//
// Thread safety: a value type; Encode/Decode are const and may run on many
// threads at once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "kvtier/status.h"
#include "lib/codec/codec_kernels.h"

namespace kvtier::internal {

inline constexpr size_t kCodecScaleBytes = 4;  // one float32 per group

class BlockCodec {
 public:
  // Raw: the stored bytes are the engine's bytes.
  BlockCodec() = default;
  // REQUIRES: CheckCodec(codec, layout-with-dtype) is Ok and group_values > 0.
  // `kernels` defaults to the fastest this CPU runs; tests force one.
  BlockCodec(Codec codec, DType dtype, uint32_t group_values,
             const CodecKernels* kernels = nullptr);
  // The codec for blocks of `layout`: groups of head_dim values.
  static BlockCodec For(Codec codec, const KvLayout& layout);

  Codec codec() const { return codec_; }
  bool raw() const { return codec_ == Codec::kRaw; }
  DType dtype() const { return dtype_; }
  uint32_t group_values() const { return group_values_; }
  const CodecKernels& kernels() const { return *kernels_; }

  // Engine bytes of one group (raw: 1, every size is whole "groups").
  size_t GroupBytes() const;
  // Stored bytes of a segment of `engine_bytes`.
  // REQUIRES: engine_bytes is a multiple of GroupBytes().
  size_t StoredBytes(size_t engine_bytes) const;
  // The inverse: engine bytes of a payload of `stored_bytes` (whole groups),
  // for counting a stored block copied verbatim between tiers.
  size_t EngineBytes(size_t stored_bytes) const;

  // Encodes `groups` groups from `src` into `codes` and `scales` (the two
  // regions of the stored format; a caller may encode a segment in runs of
  // groups). REQUIRES: !raw().
  void Encode(const void* src, size_t groups, uint8_t* codes, uint8_t* scales) const {
    kernels_->encode(codec_, dtype_, group_values_, groups, src, codes, scales);
  }
  // The inverse of Encode. REQUIRES: !raw().
  void Decode(const uint8_t* codes, const uint8_t* scales, size_t groups,
              void* dst) const {
    kernels_->decode(codec_, dtype_, group_values_, groups, codes, scales, dst);
  }

 private:
  Codec codec_ = Codec::kRaw;
  DType dtype_ = DType::kFp16;
  uint32_t group_values_ = 1;
  const CodecKernels* kernels_ = &ScalarCodecKernels();
};

// Ok when `codec` can store blocks of `layout`; InvalidArgument naming
// `field` for an unknown codec or an 8-bit codec over an fp8 layout (its
// bytes are already 8-bit: int8/fp8 would only add scales and error).
Status CheckCodec(Codec codec, const KvLayout& layout, const char* field);

// Payload bytes of one stored block of `layout` under `codec` (what follows
// the 64-byte header in a slot). Every tier sizes its slots from this.
// REQUIRES: CheckCodec(codec, layout) is Ok.
size_t StoredPayloadBytes(const KvLayout& layout, Codec codec);

const char* CodecName(Codec codec);

}  // namespace kvtier::internal
