// Helpers shared by the stored-block and tier-front tests: engine
// segments over aligned buffers, hashes, header field access.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

// GCC 12: false -Wmaybe-uninitialized in its AVX-512 intrinsics under XXH3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define XXH_INLINE_ALL
#include <xxhash.h>
#pragma GCC diagnostic pop

#include "kvtier/kvtier.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier::stored_block_testing {

using internal::BlockCodec;
using internal::StoredBlockBytes;
using internal::WriteStoredBlock;

constexpr BlockHash kHashA{0x0123456789abcdefull, 0xfedcba9876543210ull};
constexpr BlockHash kHashB{0x1111111111111111ull, 0x2222222222222222ull};

// Memory `misalign` bytes past a 64-byte boundary, zero-filled.
class Buffer {
 public:
  Buffer(size_t bytes, size_t misalign = 0) : raw_(bytes + 128) {
    const auto addr = reinterpret_cast<uintptr_t>(raw_.data());
    data_ = raw_.data() + ((64 - addr % 64) % 64) + misalign;
    size_ = bytes;
  }
  std::byte* data() { return data_; }
  std::span<std::byte> span() { return {data_, size_}; }

 private:
  std::vector<std::byte> raw_;
  std::byte* data_;
  size_t size_;
};

// One block's worth of engine segments of the given sizes.
class Segments {
 public:
  explicit Segments(const std::vector<size_t>& sizes, size_t misalign = 0) {
    for (size_t s : sizes) buffers_.emplace_back(s, misalign);
    for (size_t i = 0; i < sizes.size(); ++i)
      segments_.push_back(Segment{buffers_[i].data(), sizes[i]});
  }
  std::span<const Segment> all() const { return segments_; }
  size_t total() const {
    size_t t = 0;
    for (const Segment& s : segments_) t += s.bytes;
    return t;
  }
  void FillFrom(const BlockHash& h) {
    for (size_t i = 0; i < segments_.size(); ++i)
      testing::FillFromHash(h, i, segments_[i].data, segments_[i].bytes);
  }
  void Fill(unsigned char value) {
    for (const Segment& s : segments_) std::memset(s.data, value, s.bytes);
  }
  std::vector<std::byte> Concat() const {
    std::vector<std::byte> out;
    for (const Segment& s : segments_) {
      const auto* p = static_cast<const std::byte*>(s.data);
      out.insert(out.end(), p, p + s.bytes);
    }
    return out;
  }

 private:
  std::vector<Buffer> buffers_;
  std::vector<Segment> segments_;
};

// A slot exactly big enough for `payload` bytes, filled by WriteStoredBlock.
struct WrittenSlot {
  WrittenSlot(const Segments& src, const BlockHash& h, size_t misalign = 0)
      : buffer(StoredBlockBytes(src.total()), misalign) {
    WriteStoredBlock(h, BlockCodec(), src.all(), buffer.span());
  }
  std::span<std::byte> bytes() { return buffer.span(); }
  Buffer buffer;
};

inline uint64_t GetLe64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

// Recomputes the header checksum after a test edited a header field.
inline void Reseal(std::span<std::byte> slot) {
  const uint64_t sum = XXH3_64bits_withSeed(slot.data(), 56, 0);
  for (int i = 0; i < 8; ++i) slot[56 + i] = std::byte(sum >> (8 * i));
}

inline bool AllBytesAre(const Segments& s, unsigned char value) {
  const std::vector<std::byte> all = s.Concat();
  return std::all_of(all.begin(), all.end(),
                     [&](std::byte b) { return b == std::byte{value}; });
}

// ---- the format -------------------------------------------------------------

}  // namespace kvtier::stored_block_testing
