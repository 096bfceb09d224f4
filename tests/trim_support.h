// Helpers for the sliding-window trimming tests: model-shaped small layouts
// and segment-level checks of what a Load wrote.
#pragma once

#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "test_support.h"

namespace kvtier::testing {

constexpr uint32_t kTrimBlockTokens = 4;
constexpr uint32_t kTrimWindowTokens = 8;  // two blocks

// Gemma-style: five sliding-window layers for every global one.
inline KvLayout GemmaStyleLayout(uint32_t window = kTrimWindowTokens) {
  KvLayout l = SmallLayout(6, kTrimBlockTokens);
  l.layer_windows = {window, window, window, window, window, 0};
  return l;
}

// Mistral-style: every layer slides.
inline KvLayout MistralStyleLayout(uint32_t window = kTrimWindowTokens) {
  KvLayout l = SmallLayout(2, kTrimBlockTokens);
  l.layer_windows = {window, window};
  return l;
}

inline Options TrimOptions(const KvLayout& layout, uint32_t checkpoint_blocks,
                           uint64_t host_blocks = 256) {
  Options o;
  o.layout = layout;
  o.model_id = "trim-test";
  o.host.capacity_bytes = host_blocks * (layout.BlockBytes() + 64);
  o.host.lock_memory = false;
  o.swa_checkpoint_blocks = checkpoint_blocks;
  return o;
}

// A chain of `blocks` blocks; chains with the same `seed` share a prefix.
inline std::vector<BlockHash> TrimChain(const Store& store, size_t blocks,
                                        uint32_t seed = 1, size_t diverge_at = SIZE_MAX) {
  std::vector<uint32_t> tokens(blocks * store.layout().block_tokens);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const size_t block = i / store.layout().block_tokens;
    tokens[i] = static_cast<uint32_t>(i * 7 + seed * (block >= diverge_at ? 1000003 : 1));
  }
  return store.hasher().Chain(tokens);
}

// Segment-level view of engine buffers: which segments a Load wrote.
class SegmentCheck {
 public:
  static constexpr unsigned char kSentinel = 0xEE;
  SegmentCheck(const KvLayout& layout, const EngineBuffers& buffers)
      : per_block_(layout.SegmentsPerBlock()),
        bytes_(layout.SegmentBytes()),
        buffers_(buffers) {}

  bool Matches(size_t block, size_t segment, const BlockHash& h) const {
    std::vector<unsigned char> want(bytes_);
    FillFromHash(h, segment, want.data(), bytes_);
    return std::memcmp(want.data(), Data(block, segment), bytes_) == 0;
  }
  bool Untouched(size_t block, size_t segment) const {
    const auto* p = static_cast<const unsigned char*>(Data(block, segment));
    for (size_t i = 0; i < bytes_; ++i) {
      if (p[i] != kSentinel) return false;
    }
    return true;
  }

 private:
  const void* Data(size_t block, size_t segment) const {
    return buffers_.all()[block * per_block_ + segment].data;
  }
  size_t per_block_;
  size_t bytes_;
  const EngineBuffers& buffers_;
};

inline void FillSentinel(EngineBuffers& buffers) {
  for (const Segment& s : buffers.all()) {
    std::memset(s.data, SegmentCheck::kSentinel, s.bytes);
  }
}

}  // namespace kvtier::testing

namespace kvtier::testing {

inline uint64_t RoundUp64(uint64_t n) { return (n + 63) / 64 * 64; }
// A raw stored block of `layout`: header + every segment.
inline uint64_t StoredBytesOfLayout(const KvLayout& layout) {
  return 64 + layout.BlockBytes();
}

inline void SaveAll(Store& store, std::span<const BlockHash> chain, size_t first = 0) {
  EngineBuffers src(store.layout(), chain.size() - first);
  src.FillFrom(chain.subspan(first));
  auto r = store.Save(chain, src.all(), first);
  REQUIRE(r.ok());
}

inline size_t Hit(Store& store, std::span<const BlockHash> chain, size_t k) {
  return store.Lookup(chain.first(k)).blocks;
}

// Loads chain[0..k) into sentinel-filled buffers; checks every served
// segment byte-exact and every segment the prefix does not need untouched.
inline void CheckLoad(Store& store, std::span<const BlockHash> chain, size_t k) {
  const KvLayout& l = store.layout();
  EngineBuffers dst(l, k);
  FillSentinel(dst);
  auto r = store.Load(chain.first(k), dst.all());
  REQUIRE(r.ok());
  REQUIRE(r->blocks == k);
  const SegmentCheck check(l, dst);
  const size_t window_blocks = kTrimWindowTokens / kTrimBlockTokens;
  for (size_t b = 0; b < k; ++b) {
    for (size_t s = 0; s < l.SegmentsPerBlock(); ++s) {
      const bool sliding = l.WindowOf(static_cast<uint32_t>(s / l.parts_per_layer)) > 0;
      const bool needed = !sliding || b + window_blocks >= k;
      INFO("prefix " << k << " block " << b << " segment " << s);
      if (needed) {
        CHECK(check.Matches(b, s, chain[b]));
      } else {
        CHECK(check.Untouched(b, s));
      }
    }
  }
}

}  // namespace kvtier::testing
