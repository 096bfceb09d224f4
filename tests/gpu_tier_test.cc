// The GPU tier (backends/gpu/gpu_tier.h) on the fake copy engine: the
// fastest tier of the stack for device saves and loads, written down to host
// and read back through the host, its 8-bit codec, corruption in HBM, and a
// block evicted while its copy is in flight.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "backends/gpu/gpu_tier.h"
#include "tests/device_support.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::DeviceBuffers;
using testing::DeviceOptions;
using testing::EngineBuffers;
using testing::FakeCopyEngine;
using testing::GpuBytesFor;
using testing::GpuOptions;
using testing::OpenWithEngine;
using testing::SmallLayout;

TEST_CASE("device saves land in the GPU tier, the fastest, and load from there",
          "[gpu]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(GpuOptions(SmallLayout(), 4, 8), engine);
  // The HBM arena was allocated once, at Open.
  CHECK(engine.device_bytes_allocated() == GpuBytesFor(SmallLayout(), 4));
  const auto chain = ChainOf(*store, 1, 3);
  DeviceBuffers src(engine, store->layout(), 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  store->Flush();
  const LookupResult hit = store->Lookup(chain);
  CHECK(hit.blocks == 3);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kGpu)] == 3);
  CHECK(store->Stats().tier(Tier::kGpu).blocks == 3);
  // Written through to host in the background, as every tier below.
  CHECK(store->Stats().tier(Tier::kHost).blocks == 3);
  DeviceBuffers dst(engine, store->layout(), 3);
  REQUIRE(store->Load(chain, dst.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(store->Stats().tier(Tier::kGpu).hits == 3);
  CHECK(store->Stats().device_blocks_d2d == 3);
}

TEST_CASE("blocks the GPU tier evicted are served from host and promoted back", "[gpu]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(GpuOptions(SmallLayout(), 2, 8), engine);
  const auto a = ChainOf(*store, 2, 2);
  const auto b = ChainOf(*store, 3, 2);
  DeviceBuffers src(engine, store->layout(), 2);
  src.FillFrom(a);
  REQUIRE(store->Save(a, src.all())->stored == 2);
  store->Flush();  // a reaches host: one D2H from HBM straight into host slots
  src.FillFrom(b);
  REQUIRE(store->Save(b, src.all())->stored == 2);  // evicts a from HBM
  store->Flush();
  const LookupResult hit = store->Lookup(a);
  REQUIRE(hit.blocks == 2);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kHost)] == 2);
  DeviceBuffers dst(engine, store->layout(), 2);
  REQUIRE(store->Load(a, dst.all())->blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(dst.Matches(i, a[i]));
  CHECK(store->Lookup(a).blocks_per_tier[static_cast<int>(Tier::kGpu)] == 2);
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 0);
}

TEST_CASE("an int8 GPU tier stores 8-bit and decodes on the device as the CPU codec does",
          "[gpu][codec]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto gpu = OpenWithEngine(GpuOptions(layout, 4, 8, Codec::kInt8), engine);
  Options host_only = DeviceOptions(layout, 8);
  host_only.host.codec = Codec::kInt8;
  auto cpu = std::move(Store::Open(host_only)).value();
  const auto chain = ChainOf(*gpu, 4, 2);
  // Finite fp16 values: the codec's range, not NaN patterns.
  EngineBuffers values(layout, 2);
  for (const Segment& s : values.all()) {
    auto* h = static_cast<uint16_t*>(s.data);
    for (size_t i = 0; i < s.bytes / 2; ++i)
      h[i] = static_cast<uint16_t>(0x3000 + i * 37 % 0x0C00);
  }
  DeviceBuffers src(engine, layout, 2);
  std::memcpy(src.data(), values.all()[0].data, src.bytes());
  REQUIRE(gpu->Save(chain, src.all())->stored == 2);
  REQUIRE(
      cpu->Save(cpu->hasher().Chain(std::vector<uint32_t>(8, 1)), values.all())->stored ==
      2);
  const TierStats g = gpu->Stats().tier(Tier::kGpu);
  CHECK(g.bytes_written < g.logical_bytes_written);
  CHECK(g.bytes_written == cpu->Stats().tier(Tier::kHost).bytes_written);
  DeviceBuffers dst(engine, layout, 2);
  REQUIRE(gpu->Load(chain, dst.all())->blocks == 2);
  EngineBuffers want(layout, 2);
  REQUIRE(
      cpu->Load(cpu->hasher().Chain(std::vector<uint32_t>(8, 1)), want.all())->blocks ==
      2);
  CHECK(std::memcmp(dst.data(), want.all()[0].data, dst.bytes()) == 0);
  // Decoded in "HBM" by the device codec (the fake runs the CPU kernels),
  // no host round trip: one decode per segment.
  CHECK(gpu->Stats().device_blocks_d2d == 2);
  CHECK(engine.decodes() == 2 * layout.SegmentsPerBlock());
}

// A GPU-tier hit into device memory copies the payload device to device
// and checks only the header on the host (see kvtier/store.h): a damaged
// header is a counted miss there; a damaged payload is caught when the
// block leaves HBM for the host.
TEST_CASE("a block whose header was damaged in HBM is a miss on a device load", "[gpu]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8), engine);
  const auto chain = ChainOf(*store, 5, 1);
  DeviceBuffers src(engine, layout, 1);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 1);
  store->Flush();
  // The arena is the first device memory allocated (at Open); the block is
  // in slot 0. Flip a byte of its hash.
  std::byte* arena = engine.first_device_allocation();
  REQUIRE(arena != nullptr);
  arena[17] ^= std::byte{0xFF};
  DeviceBuffers dst(engine, layout, 1);
  dst.Fill(0xAB);
  REQUIRE(store->Load(chain, dst.all())->blocks == 0);
  CHECK(dst.AllBytesAre(0xAB));  // nothing was copied
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 1);
  CHECK(store->Stats().device_blocks_d2d == 0);
  // Dropped from HBM, served from host (the write-through copy verifies).
  CHECK(store->Lookup(chain).blocks_per_tier[static_cast<int>(Tier::kGpu)] == 0);
  CHECK(store->Lookup(chain).blocks_per_tier[static_cast<int>(Tier::kHost)] == 1);
  REQUIRE(store->Load(chain, dst.all())->blocks == 1);
  CHECK(dst.Matches(0, chain[0]));
}

TEST_CASE("a payload damaged in HBM is a miss once the block leaves HBM", "[gpu]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8), engine);
  const auto chain = ChainOf(*store, 8, 1);
  DeviceBuffers src(engine, layout, 1);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 1);
  store->Flush();
  std::byte* arena = engine.first_device_allocation();
  REQUIRE(arena != nullptr);
  arena[internal::kStoredHeaderBytes + 3] ^= std::byte{0xFF};
  // Into host memory the block is copied out of HBM and verified there.
  EngineBuffers host(layout, 1);
  REQUIRE(store->Load(chain, host.all())->blocks == 0);
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 1);
  REQUIRE(store->Load(chain, host.all())->blocks == 1);
  CHECK(host.Matches(0, chain[0]));
}

TEST_CASE("a GPU-tier hit into device memory is copied device to device", "[gpu][d2d]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout(/*layers=*/4);
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8), engine);
  const auto chain = ChainOf(*store, 9, 3);
  DeviceBuffers src(engine, layout, 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  store->Flush();
  const uint64_t h2d = engine.bytes(internal::CopyDirection::kHostToDevice);
  const uint64_t d2h = engine.bytes(internal::CopyDirection::kDeviceToHost);
  const uint64_t d2d = engine.bytes(internal::CopyDirection::kDeviceToDevice);
  DeviceBuffers dst(engine, layout, 3);
  engine.Pause();
  auto h = std::move(store->BeginLoad(chain, dst.all())).value();
  // The three headers are copied out (D2H, a copy and an event each) and
  // checked; then layer 0's D2D copy and its event.
  engine.Allow(8);
  CHECK(h.WaitLayer(0) == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.LayerMatches(b, 0, 2, chain[b]));
  CHECK_FALSE(h.LayerDone(1));
  engine.Resume();
  CHECK(h.WaitLoad().blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(store->Stats().device_blocks_d2d == 3);
  CHECK(engine.bytes(internal::CopyDirection::kDeviceToDevice) - d2d ==
        3 * layout.BlockBytes());
  // No host round trip: only the headers crossed to the host, nothing back.
  CHECK(engine.bytes(internal::CopyDirection::kHostToDevice) == h2d);
  CHECK(engine.bytes(internal::CopyDirection::kDeviceToHost) - d2h ==
        3 * internal::kStoredHeaderBytes);
}

TEST_CASE("a GPU-tier block being copied out is not evicted by saves meanwhile",
          "[gpu][async]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 2, 8), engine);
  const auto a = ChainOf(*store, 6, 2);
  const auto b = ChainOf(*store, 7, 2);
  DeviceBuffers src(engine, layout, 2);
  src.FillFrom(a);
  REQUIRE(store->Save(a, src.all())->stored == 2);
  store->Flush();
  std::byte* arena = engine.first_device_allocation();
  REQUIRE(arena != nullptr);
  // Copies out of HBM wait; everything else runs.
  engine.HoldReadsFrom(arena, GpuBytesFor(layout, 2));
  DeviceBuffers dst(engine, layout, 2);
  auto load = std::move(store->BeginLoad(a, dst.all())).value();
  while (engine.held() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // A full GPU tier whose blocks are all being read: b cannot evict them.
  src.FillFrom(b);
  const auto saved = store->Save(b, src.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 0);
  CHECK(saved->skipped == 2);
  CHECK(store->Stats().tier(Tier::kGpu).evictions == 0);
  engine.ReleaseHold();
  CHECK(load.WaitLoad().blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(dst.Matches(i, a[i]));
  // Once the load let go, b evicts a.
  CHECK(store->Save(b, src.all())->stored == 2);
  CHECK(store->Stats().tier(Tier::kGpu).evictions == 2);
}

}  // namespace
}  // namespace kvtier
