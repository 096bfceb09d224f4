// Saves from the engine's device memory into the GPU tier, device to device
// (backends/gpu/gpu_tier.h), on the fake copy engine: the payload never
// crosses to the host on the save, an 8-bit tier encodes on the device into
// the bytes the host encoder makes, the payload checksum is computed over
// the first host copy (a write-down, a load into host memory), a failed copy
// indexes nothing, and a slot being written is not evicted.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "backends/gpu/gpu_tier.h"
#include "lib/codec/codec_math.h"
#include "tests/device_support.h"
#include "tests/nvme_skip.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using internal::CopyDirection;
using internal::kStoredHeaderBytes;
using internal::StoredBlockBytes;
using testing::ChainOf;
using testing::DeviceBuffers;
using testing::DeviceOptions;
using testing::EngineBuffers;
using testing::FakeCopyEngine;
using testing::GpuBytesFor;
using testing::GpuOptions;
using testing::HostBytesFor;
using testing::OpenWithEngine;
using testing::SmallLayout;

// The stored block of `hash` in `memory` cut into slots of `slot_bytes`
// (the GPU arena or the host arena), found by the hash in its header; null
// when no slot holds it.
std::byte* SlotOf(std::byte* memory, size_t bytes, size_t slot_bytes,
                  const BlockHash& hash) {
  for (size_t at = 0; at + slot_bytes <= bytes; at += slot_bytes) {
    uint64_t lo = 0, hi = 0;
    std::memcpy(&lo, memory + at + 16, 8);
    std::memcpy(&hi, memory + at + 24, 8);
    if (lo == hash.lo && hi == hash.hi) return memory + at;
  }
  return nullptr;
}

TEST_CASE("a device save into the GPU tier copies device to device and loads back exact",
          "[gpu][d2d]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout(/*layers=*/4);
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8), engine);
  const auto chain = ChainOf(*store, 21, 3);
  DeviceBuffers src(engine, layout, 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  store->Flush();
  const StoreStats s = store->Stats();
  CHECK(s.device_blocks_d2d_saved == 3);
  CHECK(s.device_blocks_staged == 0);
  CHECK(s.device_copy_errors == 0);
  // The payload went device to device; only the headers came from the host.
  CHECK(engine.bytes(CopyDirection::kDeviceToDevice) == 3 * layout.BlockBytes());
  CHECK(engine.bytes(CopyDirection::kHostToDevice) == 3 * kStoredHeaderBytes);
  // What went to the host is the write-through to the host tier: each stored
  // block once, into its host slot (page-locked), nothing staged.
  CHECK(engine.bytes(CopyDirection::kDeviceToHost) ==
        3 * StoredBlockBytes(layout.BlockBytes()));
  CHECK(engine.pageable_bytes() == 0);
  CHECK(s.tier(Tier::kHost).blocks == 3);
  DeviceBuffers dst(engine, layout, 3);
  REQUIRE(store->Load(chain, dst.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(store->Stats().device_blocks_d2d == 3);
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 0);
}

TEST_CASE(
    "a block saved device to device is checksummed over its host copy on write-down",
    "[gpu][d2d]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 2, 8), engine);
  const auto a = ChainOf(*store, 22, 2);
  const auto b = ChainOf(*store, 23, 2);
  DeviceBuffers src(engine, layout, 2);
  src.FillFrom(a);
  REQUIRE(store->Save(a, src.all())->stored == 2);
  store->Flush();  // a written down to host: the checksum computed there
  src.FillFrom(b);
  REQUIRE(store->Save(b, src.all())->stored == 2);  // evicts a from HBM
  store->Flush();
  REQUIRE(store->Lookup(a).blocks_per_tier[static_cast<int>(Tier::kHost)] == 2);
  // The host copies verify in full (an unsealed header would not).
  EngineBuffers host(layout, 2);
  REQUIRE(store->Load(a, host.all())->blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(host.Matches(i, a[i]));
  CHECK(store->Stats().tier(Tier::kHost).checksum_errors == 0);
  // A byte flipped in a host copy afterwards is caught: the second block
  // is a miss, the first is served.
  const size_t host_slot = HostBytesFor(layout, 1);
  std::byte* arena = engine.first_registration();
  REQUIRE(arena != nullptr);
  std::byte* slot = SlotOf(arena, HostBytesFor(layout, 8), host_slot, a[1]);
  REQUIRE(slot != nullptr);
  slot[kStoredHeaderBytes + 7] ^= std::byte{0x10};
  host.Clear();
  CHECK(store->Load(a, host.all())->blocks == 1);
  CHECK(host.Matches(0, a[0]));
  CHECK(store->Stats().tier(Tier::kHost).checksum_errors == 1);
}

TEST_CASE("a block saved device to device is written down to NVMe and verifies there",
          "[gpu][d2d][nvme]") {
  KVTIER_SKIP_WITHOUT_NVME();
  testing::TempDir dir;
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  Options o = testing::NvmeOptions(dir.path().string(), 2, 16, layout);
  o.gpu.capacity_bytes = GpuBytesFor(layout, 2);
  auto store = OpenWithEngine(o, engine);
  const auto a = ChainOf(*store, 24, 2);
  const auto b = ChainOf(*store, 25, 2);
  DeviceBuffers src(engine, layout, 2);
  src.FillFrom(a);
  REQUIRE(store->Save(a, src.all())->stored == 2);
  store->Flush();
  src.FillFrom(b);
  REQUIRE(store->Save(b, src.all())->stored == 2);  // a leaves HBM and host
  store->Flush();
  REQUIRE(store->Lookup(a).blocks_per_tier[static_cast<int>(Tier::kNvme)] == 2);
  DeviceBuffers dst(engine, layout, 2);
  REQUIRE(store->Load(a, dst.all())->blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(dst.Matches(i, a[i]));
  const StoreStats s = store->Stats();
  CHECK(s.tier(Tier::kNvme).checksum_errors == 0);
  CHECK(s.tier(Tier::kHost).checksum_errors == 0);
  CHECK(s.device_blocks_d2d_saved == 4);
}

// What is and is not verified for a block saved device to device (see
// backends/gpu/gpu_tier.h): until it first leaves HBM its payload has no
// checksum, so bytes that change in HBM before that are checksummed as they
// are and served as the block; once it has left, a change is caught.
TEST_CASE("HBM bytes changed before a device-saved block first leaves HBM travel with it",
          "[gpu][d2d]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8), engine);
  const auto chain = ChainOf(*store, 26, 1);
  std::byte* arena = engine.first_device_allocation();
  REQUIRE(arena != nullptr);
  // The write-through's copy out of HBM waits; the save itself does not
  // read HBM.
  engine.HoldReadsFrom(arena, GpuBytesFor(layout, 4));
  DeviceBuffers src(engine, layout, 1);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 1);
  while (engine.held() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::byte* slot =
      SlotOf(arena, GpuBytesFor(layout, 4), GpuBytesFor(layout, 1), chain[0]);
  REQUIRE(slot != nullptr);
  slot[kStoredHeaderBytes + 3] ^= std::byte{0xFF};
  engine.ReleaseHold();
  store->Flush();
  // A D2D load checks the header only: served, with the changed byte.
  DeviceBuffers dst(engine, layout, 1);
  REQUIRE(store->Load(chain, dst.all())->blocks == 1);
  CHECK_FALSE(dst.Matches(0, chain[0]));
  // The write-down checksummed what it copied: no error anywhere, and a
  // load into host memory (copied out of HBM again) agrees with it.
  EngineBuffers host(layout, 1);
  REQUIRE(store->Load(chain, host.all())->blocks == 1);
  CHECK_FALSE(host.Matches(0, chain[0]));
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 0);
  CHECK(store->Stats().tier(Tier::kHost).checksum_errors == 0);
  // Once it has left HBM, a change there is caught on the way out.
  slot[kStoredHeaderBytes + 5] ^= std::byte{0xFF};
  REQUIRE(store->Load(chain, host.all())->blocks == 0);
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 1);
}

// fp16 values spread over a few binades, both signs, one group of zeros.
void FillValues(EngineBuffers& values) {
  size_t n = 0;
  for (const Segment& s : values.all()) {
    auto* h = static_cast<uint16_t*>(s.data);
    for (size_t i = 0; i < s.bytes / 2; ++i, ++n) {
      const uint16_t magnitude =
          static_cast<uint16_t>(0x2C00 + (n * 2654435761u) % 0x1400);
      h[i] = n % 5 == 0 ? static_cast<uint16_t>(magnitude | 0x8000) : magnitude;
    }
  }
  auto* first = static_cast<uint16_t*>(values.all()[0].data);
  std::fill(first, first + 8, uint16_t{0});
}

TEST_CASE("an 8-bit GPU tier encodes device saves on the device as the host encoder does",
          "[gpu][d2d][codec]") {
  const Codec codec = GENERATE(Codec::kInt8, Codec::kFp8);
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8, codec), engine);
  const auto chain = ChainOf(*store, 27, 2);
  EngineBuffers values(layout, 2);
  FillValues(values);
  DeviceBuffers src(engine, layout, 2);
  std::memcpy(src.data(), values.all()[0].data, src.bytes());
  REQUIRE(store->Save(chain, src.all())->stored == 2);
  CHECK(store->Stats().device_blocks_d2d_saved == 2);
  CHECK(engine.encodes() == 2 * layout.SegmentsPerBlock());
  // Each slot holds what WriteStoredBlock makes on the host from the same
  // values, bit for bit, once its deferred checksum is filled in.
  const internal::BlockCodec block_codec = internal::BlockCodec::For(codec, layout);
  const size_t stored =
      StoredBlockBytes(internal::StoredPayloadBytes(block_codec, values.blocks(0, 1)));
  std::byte* arena = engine.first_device_allocation();
  for (size_t b = 0; b < 2; ++b) {
    std::byte* slot = SlotOf(arena, GpuBytesFor(layout, 4, codec),
                             GpuBytesFor(layout, 1, codec), chain[b]);
    REQUIRE(slot != nullptr);
    std::vector<std::byte> got(slot, slot + stored), want(stored);
    const std::optional<uint64_t> sum = internal::HashStoredPayload(got);
    REQUIRE(sum.has_value());
    internal::SetStoredPayloadSum(got, *sum);
    internal::WriteStoredBlock(chain[b], block_codec, values.blocks(b, 1), want);
    CHECK(got == want);
  }
  // Decoded on the device, within the codec's bound of the values saved.
  DeviceBuffers dst(engine, layout, 2);
  REQUIRE(store->Load(chain, dst.all())->blocks == 2);
  const auto* in = static_cast<const uint16_t*>(values.all()[0].data);
  const auto* out = reinterpret_cast<const uint16_t*>(dst.data());
  const uint32_t group = layout.head_dim;
  const float step = codec == Codec::kInt8 ? 1.0f / 127 : 1.0f / 16;
  size_t off = 0;
  for (size_t g = 0; g < dst.bytes() / 2 / group; ++g) {
    float absmax = 0;
    for (uint32_t i = 0; i < group; ++i)
      absmax =
          std::max(absmax, std::fabs(internal::codec::HalfToFloat(in[g * group + i])));
    for (uint32_t i = 0; i < group; ++i) {
      const float x = internal::codec::HalfToFloat(in[g * group + i]);
      const float y = internal::codec::HalfToFloat(out[g * group + i]);
      const float bound = codec == Codec::kInt8
                              ? absmax * step
                              : std::fabs(x) * step + absmax / 448 / 512;
      if (std::fabs(x - y) > bound * 1.01f + 1e-7f) ++off;
    }
  }
  CHECK(off == 0);
  // Written down through the host: checksummed there, no error.
  store->Flush();
  CHECK(store->Stats().tier(Tier::kGpu).checksum_errors == 0);
  CHECK(store->Stats().tier(Tier::kHost).blocks == 2);
}

TEST_CASE(
    "a copy failing amid a device-to-device save batch fails its blocks and indexes none",
    "[gpu][d2d]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 4, 8), engine);
  const auto chain = ChainOf(*store, 28, 3);
  DeviceBuffers src(engine, layout, 3);
  src.FillFrom(chain);
  // The batch is the 12 payload pieces, then the 3 headers: fail the 5th.
  engine.FailPiece(5);
  const auto saved = store->Save(chain, src.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 0);
  store->Flush();
  StoreStats s = store->Stats();
  CHECK(s.device_copy_errors == 1);
  CHECK(s.device_blocks_d2d_saved == 0);
  CHECK(s.tier(Tier::kGpu).io_errors == 3);
  CHECK(s.tier(Tier::kGpu).blocks == 0);
  CHECK(s.tier(Tier::kHost).blocks == 0);
  CHECK(store->Lookup(chain).blocks == 0);
  DeviceBuffers dst(engine, layout, 3);
  dst.Fill(0xAB);
  REQUIRE(store->Load(chain, dst.all())->blocks == 0);
  CHECK(dst.AllBytesAre(0xAB));
  // The broken stream was dropped: the next save goes through.
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  REQUIRE(store->Load(chain, dst.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(store->Stats().device_blocks_d2d_saved == 3);
}

TEST_CASE("a GPU-tier slot being written device to device is not evicted meanwhile",
          "[gpu][d2d][async]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  auto store = OpenWithEngine(GpuOptions(layout, 2, 8), engine);
  const auto a = ChainOf(*store, 29, 2);
  const auto b = ChainOf(*store, 30, 2);
  DeviceBuffers src_a(engine, layout, 2), src_b(engine, layout, 2);
  src_a.FillFrom(a);
  src_b.FillFrom(b);
  // a's copies into HBM wait (they read src_a); everything else runs.
  engine.HoldReadsFrom(src_a.data(), src_a.bytes());
  auto saving = std::move(store->BeginSave(a, src_a.all())).value();
  while (engine.held() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // A full GPU tier whose slots are being written: b cannot evict them.
  const auto saved = store->Save(b, src_b.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 0);
  CHECK(saved->skipped == 2);
  CHECK(store->Stats().tier(Tier::kGpu).evictions == 0);
  engine.ReleaseHold();
  CHECK(saving.WaitSave().stored == 2);
  DeviceBuffers dst(engine, layout, 2);
  REQUIRE(store->Load(a, dst.all())->blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(dst.Matches(i, a[i]));
  // Once written (and written down: an owed write-down pins it), b evicts a.
  store->Flush();
  CHECK(store->Save(b, src_b.all())->stored == 2);
  CHECK(store->Stats().tier(Tier::kGpu).evictions == 2);
  REQUIRE(store->Load(b, dst.all())->blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(dst.Matches(i, b[i]));
}

}  // namespace
}  // namespace kvtier
