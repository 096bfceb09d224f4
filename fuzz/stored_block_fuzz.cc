// Fuzzes the stored-block check (header, then payload): ReadStoredBlock over
// arbitrary slot bytes, for each codec, expecting the hash the header names
// (so inputs get past the hash check). Any slot is read or refused with a
// Status, never read or written past its buffers.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kvtier/layout.h"
#include "lib/codec/block_codec.h"
#include "lib/stored_block.h"

namespace {

using namespace kvtier;

KvLayout FuzzLayout() {
  KvLayout l;  // 2 layers x K,V of 4 tokens x 2 heads x 8 dims fp16: 128 B segments
  l.num_layers = 2;
  l.kv_heads = 2;
  l.head_dim = 8;
  l.dtype = DType::kFp16;
  l.block_tokens = 4;
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const KvLayout layout = FuzzLayout();
  const Codec codec = static_cast<Codec>(data[0] % 3);
  const internal::BlockCodec block_codec = internal::BlockCodec::For(codec, layout);
  std::vector<std::byte> slot(size - 1);
  std::memcpy(slot.data(), data + 1, slot.size());
  BlockHash expected;
  if (slot.size() >= 32) {
    std::memcpy(&expected.lo, slot.data() + 16, 8);
    std::memcpy(&expected.hi, slot.data() + 24, 8);
  }
  const size_t seg_bytes = layout.SegmentBytes();
  std::vector<unsigned char> memory(layout.SegmentsPerBlock() * seg_bytes);
  std::vector<Segment> dst;
  for (size_t s = 0; s < layout.SegmentsPerBlock(); ++s) {
    // Odd segments null: verified, not copied (a trimmed load's dropped layers).
    dst.push_back(
        Segment{(data[0] >> 2 & 1) && s % 2 ? nullptr : memory.data() + s * seg_bytes,
                seg_bytes});
  }
  (void)internal::ReadStoredBlock(expected, block_codec, slot, dst);
  return 0;
}
