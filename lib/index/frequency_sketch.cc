// FrequencySketch: 4-bit counters, four per key within one 64-bit word.
#include "lib/index/frequency_sketch.h"

#include <algorithm>
#include <bit>

namespace kvtier::internal {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  return x ^ (x >> 33);
}

// The 4 counters (nibble indexes 0..15) of a key within its word: 4 bits of
// the mixed key each, made distinct by spreading them over the 4 quarters.
int Nibble(uint64_t mixed, int i) {
  return i * 4 + static_cast<int>((mixed >> (32 + 2 * i)) & 3);
}

}  // namespace

FrequencySketch::FrequencySketch(size_t keys, uint32_t sample_factor) {
  // One 16-counter word per 4 keys: about 4 counters per key.
  const size_t words = std::bit_ceil(std::max<size_t>(keys / 4, 64));
  words_.assign(words, 0);
  mask_ = words - 1;
  sample_ = uint64_t{sample_factor} * std::max<size_t>(keys, 64);
}

uint32_t FrequencySketch::Add(uint64_t key) {
  const uint64_t mixed = Mix(key);
  uint64_t& word = words_[mixed & mask_];
  uint32_t low = kMaxCount;
  for (int i = 0; i < 4; ++i) {
    low = std::min<uint32_t>(low, (word >> (4 * Nibble(mixed, i))) & 0xF);
  }
  if (low < kMaxCount) {
    // Conservative update: only the counters at the minimum grow.
    for (int i = 0; i < 4; ++i) {
      const int shift = 4 * Nibble(mixed, i);
      if (((word >> shift) & 0xF) == low) word += uint64_t{1} << shift;
    }
    ++low;
  }
  if (++additions_ >= sample_) Age();
  return low;
}

uint32_t FrequencySketch::Estimate(uint64_t key) const {
  const uint64_t mixed = Mix(key);
  const uint64_t word = words_[mixed & mask_];
  uint32_t low = kMaxCount;
  for (int i = 0; i < 4; ++i) {
    low = std::min<uint32_t>(low, (word >> (4 * Nibble(mixed, i))) & 0xF);
  }
  return low;
}

void FrequencySketch::Age() {
  // Halves every counter: shift the word right and drop each nibble's
  // carried-in high bit.
  for (uint64_t& word : words_) word = (word >> 1) & 0x7777777777777777ull;
  additions_ /= 2;
}

}  // namespace kvtier::internal
