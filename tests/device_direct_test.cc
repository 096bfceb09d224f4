// Device segments and the host arena: a raw block in a registered host slot
// crosses the device boundary by one DMA between the slot and the engine's
// memory (verified in the slot before the H2D copy; checksummed over the
// slot after the D2H copy); everything else is staged through pinned
// memory. Stats().device_blocks_direct / _staged say which way each block
// went, so these tests fail when the direct path is switched off.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "backends/testing/memory_tier.h"
#include "tests/device_support.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using internal::CopyDirection;
using testing::ChainOf;
using testing::DeviceBuffers;
using testing::DeviceOptions;
using testing::EngineBuffers;
using testing::FakeCopyEngine;
using testing::OpenWithEngine;
using testing::SmallLayout;

// A store over a MemoryTier host tier whose memory is registered with
// `engine` as the host arena (the test can corrupt and watch its slots).
struct OverMemoryTier {
  testing::MemoryTier* host = nullptr;
  std::unique_ptr<Store> store;
  std::span<const std::byte> arena;
};

OverMemoryTier OpenOverMemoryTier(FakeCopyEngine& engine, const KvLayout& layout,
                                  uint32_t slots) {
  const size_t slot = internal::StoredBlockBytes(layout.BlockBytes());
  auto tier = std::make_unique<testing::MemoryTier>(slots, slot);
  OverMemoryTier r;
  r.host = tier.get();
  auto* memory = const_cast<std::byte*>(tier->SlotBytes(0).data());
  r.arena = std::span<const std::byte>(memory, size_t{slots} * slot);
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(tier);
  internal::EngineSource source;
  source.borrowed = &engine;
  source.host_arena = std::span<std::byte>(memory, size_t{slots} * slot);
  r.store =
      std::move(internal::OpenStoreWithTiers(
                    DeviceOptions(layout, slots), std::move(backends), true,
                    std::make_unique<internal::DevicePath>(std::move(source), layout)))
          .value();
  return r;
}

TEST_CASE("device saves and loads copy straight between device memory and host slots",
          "[device][direct]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const KvLayout& layout = store->layout();
  const auto chain = ChainOf(*store, 11, 3);
  DeviceBuffers src(engine, layout, 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  CHECK(store->Stats().device_blocks_direct == 3);
  CHECK(store->Stats().device_blocks_staged == 0);
  // The checksum was made over the slot's bytes: a host load verifies them.
  EngineBuffers host(layout, 3);
  REQUIRE(store->Load(chain, host.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(host.Matches(b, chain[b]));
  DeviceBuffers dst(engine, layout, 3);
  REQUIRE(store->Load(chain, dst.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  const StoreStats s = store->Stats();
  CHECK(s.device_blocks_direct == 6);
  CHECK(s.device_blocks_staged == 0);
  CHECK(s.tier(Tier::kHost).checksum_errors == 0);
  // Each byte crossed once, and only between device and page-locked memory.
  CHECK(engine.bytes(CopyDirection::kDeviceToHost) == 3 * layout.BlockBytes());
  CHECK(engine.bytes(CopyDirection::kHostToDevice) == 3 * layout.BlockBytes());
  CHECK(engine.pageable_bytes() == 0);
}

TEST_CASE("a host arena the runtime would not register is staged and stays exact",
          "[device][direct]") {
  FakeCopyEngine engine;
  engine.RefuseRegistration();
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const auto chain = ChainOf(*store, 12, 2);
  DeviceBuffers src(engine, store->layout(), 2);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 2);
  DeviceBuffers dst(engine, store->layout(), 2);
  REQUIRE(store->Load(chain, dst.all())->blocks == 2);
  for (size_t b = 0; b < 2; ++b) CHECK(dst.Matches(b, chain[b]));
  const StoreStats s = store->Stats();
  CHECK(s.device_blocks_direct == 0);
  CHECK(s.device_blocks_staged == 4);
  CHECK(engine.registered_bytes() == 0);
  CHECK(engine.pageable_bytes() == 0);  // staging is pinned
}

TEST_CASE(
    "device copies to and from an int8 host tier are staged and decode as on the CPU",
    "[device][direct][codec]") {
  FakeCopyEngine engine;
  Options o = DeviceOptions(SmallLayout(), 8);
  o.host.codec = Codec::kInt8;
  auto store = OpenWithEngine(o, engine);
  const KvLayout& layout = store->layout();
  const auto chain = ChainOf(*store, 13, 2);
  DeviceBuffers src(engine, layout, 2);
  auto* h = reinterpret_cast<uint16_t*>(src.data());
  for (size_t i = 0; i < src.bytes() / 2; ++i) {
    h[i] = static_cast<uint16_t>(0x3000 + i * 37 % 0x0C00);  // finite fp16
  }
  REQUIRE(store->Save(chain, src.all())->stored == 2);
  DeviceBuffers dst(engine, layout, 2);
  REQUIRE(store->Load(chain, dst.all())->blocks == 2);
  EngineBuffers host(layout, 2);
  REQUIRE(store->Load(chain, host.all())->blocks == 2);
  CHECK(std::memcmp(dst.data(), host.all()[0].data, dst.bytes()) == 0);
  CHECK(store->Stats().device_blocks_direct == 0);
  CHECK(store->Stats().device_blocks_staged == 4);
}

TEST_CASE("a block corrupted in its registered host slot is never copied to the device",
          "[device][direct]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  OverMemoryTier t = OpenOverMemoryTier(engine, layout, 4);
  const auto chain = ChainOf(*t.store, 14, 2);
  DeviceBuffers src(engine, layout, 2);
  src.FillFrom(chain);
  REQUIRE(t.store->Save(chain, src.all())->stored == 2);
  REQUIRE(t.store->Stats().device_blocks_direct == 2);
  t.host->CorruptSlot(0, internal::kStoredHeaderBytes + 5);  // block 0's payload
  DeviceBuffers dst(engine, layout, 2);
  dst.Fill(0xAB);
  CHECK(t.store->Load(chain, dst.all())->blocks == 0);
  CHECK(dst.AllBytesAre(0xAB));
  CHECK(engine.bytes(CopyDirection::kHostToDevice) == 0);
  CHECK(t.store->Stats().tier(Tier::kHost).checksum_errors == 1);
}

TEST_CASE("a host block being copied straight to the device is not evicted meanwhile",
          "[device][direct][async]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  OverMemoryTier t = OpenOverMemoryTier(engine, layout, 2);
  const auto a = ChainOf(*t.store, 15, 2);
  const auto b = ChainOf(*t.store, 16, 2);
  DeviceBuffers src(engine, layout, 2);
  src.FillFrom(a);
  REQUIRE(t.store->Save(a, src.all())->stored == 2);
  // Copies out of the host slots wait; everything else runs.
  engine.HoldReadsFrom(t.arena.data(), t.arena.size());
  DeviceBuffers dst(engine, layout, 2);
  auto load = std::move(t.store->BeginLoad(a, dst.all())).value();
  while (engine.held() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // A full host tier whose blocks are being copied out: b cannot evict them.
  EngineBuffers host_b(layout, 2);
  host_b.FillFrom(b);
  const auto saved = t.store->Save(b, host_b.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 0);
  CHECK(saved->skipped == 2);
  CHECK(t.store->Stats().tier(Tier::kHost).evictions == 0);
  engine.ReleaseHold();
  CHECK(load.WaitLoad().blocks == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(dst.Matches(i, a[i]));
  CHECK(t.store->Stats().device_blocks_direct == 4);
  // Once the load let go, b evicts a.
  CHECK(t.store->Save(b, host_b.all())->stored == 2);
  CHECK(t.store->Stats().tier(Tier::kHost).evictions == 2);
}

}  // namespace
}  // namespace kvtier
