// Helpers for tests of device memory through the fake copy engine: engine
// KV buffers in the fake's "device memory", and stores opened with the fake.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "backends/testing/fake_copy_engine.h"
#include "kvtier/kvtier.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier::testing {

// An engine's KV for `blocks` blocks in (fake) device memory, block-major
// segments of kind kDevice. The fake's device memory is host memory, so the
// test may fill and check it directly; the store may not, and the fake
// refuses copies that treat it as host memory.
class DeviceBuffers {
 public:
  DeviceBuffers(FakeCopyEngine& engine, const KvLayout& layout, size_t blocks)
      : per_block_(layout.SegmentsPerBlock()), seg_bytes_(layout.SegmentBytes()) {
    memory_ = std::move(engine.AllocateDevice(blocks * per_block_ * seg_bytes_)).value();
    for (size_t i = 0; i < blocks * per_block_; ++i) {
      segments_.push_back(
          Segment{memory_.data() + i * seg_bytes_, seg_bytes_, MemoryKind::kDevice});
    }
  }
  std::span<const Segment> all() const { return segments_; }
  std::byte* data() const { return memory_.data(); }
  size_t bytes() const { return memory_.size(); }
  void FillFrom(std::span<const BlockHash> chain) {
    for (size_t b = 0; b < chain.size(); ++b)
      for (size_t s = 0; s < per_block_; ++s)
        FillFromHash(chain[b], s, segments_[b * per_block_ + s].data, seg_bytes_);
  }
  bool Matches(size_t b, const BlockHash& h) const {
    std::vector<unsigned char> want(seg_bytes_);
    for (size_t s = 0; s < per_block_; ++s) {
      FillFromHash(h, s, want.data(), seg_bytes_);
      if (std::memcmp(want.data(), segments_[b * per_block_ + s].data, seg_bytes_) != 0)
        return false;
    }
    return true;
  }
  // Layer `layer` (all its parts) of block b holds FillFromHash(h)'s bytes.
  bool LayerMatches(size_t b, uint32_t layer, uint32_t parts, const BlockHash& h) const {
    std::vector<unsigned char> want(seg_bytes_);
    for (uint32_t p = 0; p < parts; ++p) {
      const size_t s = size_t{layer} * parts + p;
      FillFromHash(h, s, want.data(), seg_bytes_);
      if (std::memcmp(want.data(), segments_[b * per_block_ + s].data, seg_bytes_) != 0)
        return false;
    }
    return true;
  }
  void Fill(unsigned char byte) { std::memset(memory_.data(), byte, memory_.size()); }
  bool AllBytesAre(unsigned char byte) const {
    for (size_t i = 0; i < memory_.size(); ++i) {
      if (static_cast<unsigned char>(memory_.data()[i]) != byte) return false;
    }
    return true;
  }

 private:
  size_t per_block_;
  size_t seg_bytes_;
  internal::EngineAllocation memory_;
  std::vector<Segment> segments_;
};

// GPU-tier bytes for `blocks` blocks of `layout` under `codec`.
inline uint64_t GpuBytesFor(const KvLayout& layout, size_t blocks,
                            Codec codec = Codec::kRaw) {
  const size_t stored = internal::StoredBlockBytes(internal::StoredPayloadBytes(
      internal::BlockCodec::For(codec, layout),
      std::vector<Segment>(layout.SegmentsPerBlock(),
                           Segment{nullptr, layout.SegmentBytes()})));
  return blocks * ((stored + 255) / 256 * 256);
}

inline Options DeviceOptions(const KvLayout& layout, size_t host_blocks) {
  Options o;
  o.layout = layout;
  o.model_id = "device-model@1";
  o.host.capacity_bytes = HostBytesFor(layout, host_blocks);
  o.host.lock_memory = false;
  return o;
}

// DeviceOptions with a GPU tier of `gpu_blocks` blocks under `gpu_codec`.
inline Options GpuOptions(const KvLayout& layout, size_t gpu_blocks, size_t host_blocks,
                          Codec gpu_codec = Codec::kRaw) {
  Options o = DeviceOptions(layout, host_blocks);
  o.gpu.capacity_bytes = GpuBytesFor(layout, gpu_blocks, gpu_codec);
  o.gpu.codec = gpu_codec;
  return o;
}

// Store::Open with `engine` as the copy engine.
inline std::unique_ptr<Store> OpenWithEngine(const Options& o, FakeCopyEngine& engine) {
  auto opened =
      internal::OpenStore(o, internal::NvmeHooks{}, internal::GpuHooks{&engine});
  if (!opened.ok()) {
    std::cerr << "open: " << opened.status().ToString() << std::endl;
    std::abort();
  }
  return std::move(opened).value();
}

}  // namespace kvtier::testing
