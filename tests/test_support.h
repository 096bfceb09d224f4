// Helpers shared by kvtier's tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "kvtier/kvtier.h"

// Ends the current test as skipped with a printed reason (ctest matches
// "kvtier-skip:"). Only for facilities a machine may lack.
#define KVTIER_SKIP(reason)                                \
  do {                                                     \
    std::cout << "kvtier-skip: " << (reason) << std::endl; \
    return;                                                \
  } while (0)

namespace kvtier::testing {

// A small layout whose blocks are a few KiB, for fast tests.
inline KvLayout SmallLayout(uint32_t layers = 2, uint32_t block_tokens = 4) {
  KvLayout l;
  l.num_layers = layers;
  l.kv_heads = 2;
  l.head_dim = 8;
  l.dtype = DType::kFp16;
  l.block_tokens = block_tokens;
  return l;
}

// n tokens, a function of `seed`: different seeds give different chains.
inline std::vector<uint32_t> SeededTokens(size_t n, uint32_t seed) {
  std::vector<uint32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = seed * 100003u + static_cast<uint32_t>(i);
  return t;
}

// Host-tier bytes that hold `blocks` whole blocks of `layout`: a slot is the
// 64-byte stored header and the block, rounded to 64.
inline uint64_t HostBytesFor(const KvLayout& layout, size_t blocks) {
  return blocks * ((64 + layout.BlockBytes() + 63) / 64 * 64);
}

// Deterministic block content derived from the hash: any byte can be checked.
inline void FillFromHash(const BlockHash& h, size_t segment, void* data, size_t bytes) {
  uint64_t x = h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull) ^ (segment * 0xD1B54A32D192ED03ull);
  auto* p = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = static_cast<unsigned char>(x);
  }
}

// Engine-side buffers for `blocks` blocks of `layout`, block-major segments.
class EngineBuffers {
 public:
  EngineBuffers(const KvLayout& layout, size_t blocks)
      : per_block_(layout.SegmentsPerBlock()),
        seg_bytes_(layout.SegmentBytes()),
        memory_(blocks * per_block_ * seg_bytes_) {
    for (size_t i = 0; i < blocks * per_block_; ++i) {
      segments_.push_back(Segment{memory_.data() + i * seg_bytes_, seg_bytes_});
    }
  }
  std::span<const Segment> all() const { return segments_; }
  std::span<const Segment> blocks(size_t first, size_t count) const {
    return std::span<const Segment>(segments_).subspan(first * per_block_,
                                                       count * per_block_);
  }
  void FillFrom(std::span<const BlockHash> chain) {
    for (size_t b = 0; b < chain.size(); ++b)
      for (size_t s = 0; s < per_block_; ++s)
        FillFromHash(chain[b], s, segments_[b * per_block_ + s].data, seg_bytes_);
  }
  // True when block b holds exactly the content FillFromHash gives `h`.
  bool Matches(size_t b, const BlockHash& h) const {
    std::vector<unsigned char> want(seg_bytes_);
    for (size_t s = 0; s < per_block_; ++s) {
      FillFromHash(h, s, want.data(), seg_bytes_);
      if (std::memcmp(want.data(), segments_[b * per_block_ + s].data, seg_bytes_) != 0)
        return false;
    }
    return true;
  }
  void Clear() { std::fill(memory_.begin(), memory_.end(), 0); }

 private:
  size_t per_block_;
  size_t seg_bytes_;
  std::vector<unsigned char> memory_;
  std::vector<Segment> segments_;
};

// A fresh temporary directory, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "kvtier-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace kvtier::testing
