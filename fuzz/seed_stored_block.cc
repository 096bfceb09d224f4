// Writes seed slots for fuzz_stored_block: one valid stored block per codec,
// as the fuzzer reads them (a codec byte, then the slot). Usage:
//   fuzz_seed_stored_block DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "kvtier/layout.h"
#include "lib/codec/block_codec.h"
#include "lib/stored_block.h"

using namespace kvtier;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  KvLayout l;
  l.num_layers = 2;
  l.kv_heads = 2;
  l.head_dim = 8;
  l.dtype = DType::kFp16;
  l.block_tokens = 4;
  std::vector<unsigned char> memory(l.BlockBytes());
  for (size_t i = 0; i < memory.size(); ++i)
    memory[i] = static_cast<unsigned char>(i * 37 % 61);
  std::vector<Segment> src;
  for (size_t s = 0; s < l.SegmentsPerBlock(); ++s)
    src.push_back(Segment{memory.data() + s * l.SegmentBytes(), l.SegmentBytes()});
  for (int c = 0; c < 3; ++c) {
    const auto codec = internal::BlockCodec::For(static_cast<Codec>(c), l);
    std::vector<std::byte> slot(
        internal::StoredBlockBytes(internal::StoredPayloadBytes(codec, src)));
    internal::WriteStoredBlock(BlockHash{0x1234 + uint64_t(c), 0x5678}, codec, src, slot);
    std::ofstream out(std::string(argv[1]) + "/block-codec" + std::to_string(c),
                      std::ios::binary);
    const char codec_byte = static_cast<char>(c);
    out.write(&codec_byte, 1);
    out.write(reinterpret_cast<const char*>(slot.data()), slot.size());
  }
  return 0;
}
