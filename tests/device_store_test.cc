// Engine segments in device memory (MemoryKind::kDevice): Load and Save,
// sync and async, through the copy seam with the fake engine standing in
// for a GPU. What crosses the boundary is verified on the host; layers are
// reported only once copied; cancellation and copy failures leave the
// store usable and the engine's memory untouched where nothing was served.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "backends/testing/memory_tier.h"
#include "tests/device_support.h"
#include "tests/nvme_support.h"
#include "tests/trim_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::DeviceBuffers;
using testing::DeviceOptions;
using testing::EngineBuffers;
using testing::FakeCopyEngine;
using testing::OpenWithEngine;
using testing::SmallLayout;

TEST_CASE("device segments without a copy engine are NotSupported with the reason",
          "[device]") {
  Options o = DeviceOptions(SmallLayout(), 8);
  auto opened = Store::Open(o);
  REQUIRE(opened.ok());
  Store& store = **opened;
  const auto chain = ChainOf(store, 1, 1);
  std::vector<unsigned char> fake_device(store.layout().BlockBytes());
  std::vector<Segment> dst;
  for (size_t s = 0; s < store.layout().SegmentsPerBlock(); ++s) {
    dst.push_back(Segment{fake_device.data() + s * store.layout().SegmentBytes(),
                          store.layout().SegmentBytes(), MemoryKind::kDevice});
  }
  const Status s = store.Load(chain, dst).status();
  if (s.ok()) KVTIER_SKIP("this machine has a CUDA device");
  CHECK(s.code() == StatusCode::kNotSupported);
  INFO(s.message());
  CHECK(s.message().find("load.dst[0].kind: device memory: ") == 0);
  // The store stays usable for host memory.
  EngineBuffers host(store.layout(), 1);
  host.FillFrom(chain);
  REQUIRE(store.Save(chain, host.all()).ok());
  CHECK(store.Lookup(chain).blocks == 1);
}

TEST_CASE("options.gpu.capacity_bytes without a device is NotSupported with the reason",
          "[device]") {
  Options o = DeviceOptions(SmallLayout(), 8);
  o.gpu.capacity_bytes = 1 << 20;
  const auto opened = Store::Open(o);
  if (opened.ok()) KVTIER_SKIP("this machine has a CUDA device");
  CHECK(opened.status().code() == StatusCode::kNotSupported);
  INFO(opened.status().message());
  CHECK(opened.status().message().find("options.gpu.capacity_bytes: ") == 0);
}

TEST_CASE("a segment on another device is refused naming the field", "[device]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const auto chain = ChainOf(*store, 1, 1);
  DeviceBuffers dev(engine, store->layout(), 1);
  std::vector<Segment> src(dev.all().begin(), dev.all().end());
  src[1].device = 3;
  const Status s = store->Save(chain, src).status();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("save.src[1].device: 3") == 0);
}

TEST_CASE("blocks saved from device memory load back exactly into device and host memory",
          "[device]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const auto chain = ChainOf(*store, 2, 3);
  DeviceBuffers src(engine, store->layout(), 3);
  src.FillFrom(chain);
  const auto saved = store->Save(chain, src.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 3);
  // The host copy is a checked stored block: a host load verifies it.
  EngineBuffers host(store->layout(), 3);
  REQUIRE(store->Load(chain, host.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(host.Matches(b, chain[b]));
  DeviceBuffers dst(engine, store->layout(), 3);
  REQUIRE(store->Load(chain, dst.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(engine.bytes(internal::CopyDirection::kDeviceToHost) ==
        3 * store->layout().BlockBytes());
  CHECK(engine.bytes(internal::CopyDirection::kHostToDevice) ==
        3 * store->layout().BlockBytes());
  // The host arena was registered for DMA when the engine was first used.
  CHECK(engine.registered_bytes() >= testing::HostBytesFor(store->layout(), 8));
  CHECK(store->Stats().device_copy_errors == 0);
}

TEST_CASE("a block that fails verification on the host is never copied to the device",
          "[device]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout();
  Options o = DeviceOptions(layout, 4);
  const size_t slot = internal::StoredBlockBytes(layout.BlockBytes());
  auto host_tier = std::make_unique<testing::MemoryTier>(4, slot);
  testing::MemoryTier* host = host_tier.get();
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(host_tier);
  internal::EngineSource source;
  source.borrowed = &engine;
  auto store =
      std::move(internal::OpenStoreWithTiers(
                    o, std::move(backends), true,
                    std::make_unique<internal::DevicePath>(std::move(source), layout)))
          .value();
  const auto chain = ChainOf(*store, 3, 2);
  EngineBuffers src(layout, 2);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 2);
  host->CorruptSlot(0, internal::kStoredHeaderBytes + 5);  // block 0's payload
  DeviceBuffers dst(engine, layout, 2);
  dst.Fill(0xAB);
  CHECK(store->Load(chain, dst.all())->blocks == 0);
  CHECK(dst.AllBytesAre(0xAB));
  CHECK(engine.bytes(internal::CopyDirection::kHostToDevice) == 0);
  CHECK(store->Stats().tier(Tier::kHost).checksum_errors == 1);
}

TEST_CASE("an async device load reports a layer only once its copy completed",
          "[device][async]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout(/*layers=*/6);
  auto store = OpenWithEngine(DeviceOptions(layout, 8), engine);
  const auto chain = ChainOf(*store, 4, 3);
  DeviceBuffers src(engine, layout, 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  DeviceBuffers dst(engine, layout, 3);
  engine.Pause();
  auto h = std::move(store->BeginLoad(chain, dst.all())).value();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK_FALSE(h.LayerDone(0));  // verified in its host slot, not yet on the device
  engine.Allow(2);              // layer 0's copy and its event
  CHECK(h.WaitLayer(0) == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.LayerMatches(b, 0, 2, chain[b]));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK_FALSE(h.LayerDone(1));
  CHECK_FALSE(dst.LayerMatches(0, 1, 2, chain[0]));
  engine.Resume();
  CHECK(h.WaitLoad().blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(store->Stats().device_blocks_direct == 6);  // 3 saved, 3 loaded
}

TEST_CASE("cancelling a device load stops its copies and reports its blocks cancelled",
          "[device][async]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout(/*layers=*/12);
  auto store = OpenWithEngine(DeviceOptions(layout, 8), engine);
  const auto chain = ChainOf(*store, 5, 2);
  DeviceBuffers src(engine, layout, 2);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 2);
  DeviceBuffers dst(engine, layout, 2);
  const uint64_t h2d_before = engine.bytes(internal::CopyDirection::kHostToDevice);
  engine.Pause();
  auto h = std::move(store->BeginLoad(chain, dst.all())).value();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  h.Cancel();
  engine.Resume();
  CHECK(h.WaitLoad().blocks == 0);
  CHECK(h.Outcome(0) == BlockOutcome::kCancelled);
  CHECK(h.Outcome(1) == BlockOutcome::kCancelled);
  // At most the layers already enqueued were copied.
  CHECK(engine.bytes(internal::CopyDirection::kHostToDevice) - h2d_before <=
        internal::DevicePath::kLayersInFlight * 2 * 2 * layout.SegmentBytes());
  CHECK(store->Stats().transfers_cancelled == 1);
  // Pins were given back: the blocks load again.
  CHECK(store->Load(chain, dst.all())->blocks == 2);
}

TEST_CASE("a copy failing in the middle of a device load is a counted miss", "[device]") {
  FakeCopyEngine engine;
  const KvLayout layout = SmallLayout(/*layers=*/4);
  auto store = OpenWithEngine(DeviceOptions(layout, 8), engine);
  const auto chain = ChainOf(*store, 6, 3);
  DeviceBuffers src(engine, layout, 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  DeviceBuffers dst(engine, layout, 3);
  // 6 pieces a layer (3 blocks x K, V): the 14th is in layer 2.
  engine.FailPiece(14);
  SECTION("sync") { CHECK(store->Load(chain, dst.all())->blocks == 0); }
  SECTION("async") {
    auto h = std::move(store->BeginLoad(chain, dst.all())).value();
    CHECK(h.WaitLoad().blocks == 0);
    CHECK(h.Outcome(0) == BlockOutcome::kFailed);
    CHECK(h.WaitLayer(3) == 0);
  }
  CHECK(store->Stats().device_copy_errors == 1);
  CHECK(store->Stats().load_hit_blocks == 0);  // nothing was delivered
  // The broken stream is not reused: the next load succeeds.
  CHECK(store->Load(chain, dst.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(dst.Matches(b, chain[b]));
}

TEST_CASE("a device save whose copy fails stores nothing and is counted", "[device]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const auto chain = ChainOf(*store, 7, 2);
  DeviceBuffers src(engine, store->layout(), 2);
  src.FillFrom(chain);
  engine.FailPiece(3);
  const auto saved = store->Save(chain, src.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 0);
  CHECK(saved->skipped == 2);
  CHECK(store->Lookup(chain).blocks == 0);
  CHECK(store->Stats().device_copy_errors == 1);
  CHECK(store->Save(chain, src.all())->stored == 2);
}

TEST_CASE("an async device save is done once the device memory was copied out",
          "[device][async]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const auto chain = ChainOf(*store, 8, 3);
  DeviceBuffers src(engine, store->layout(), 3);
  src.FillFrom(chain);
  engine.Pause();
  auto h = std::move(store->BeginSave(chain, src.all())).value();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(h.Done());
  engine.Resume();
  CHECK(h.WaitSave().stored == 3);
  src.Fill(0);  // the engine reuses its memory
  EngineBuffers host(store->layout(), 3);
  REQUIRE(store->Load(chain, host.all())->blocks == 3);
  for (size_t b = 0; b < 3; ++b) CHECK(host.Matches(b, chain[b]));
}

TEST_CASE("a device load of a trimmed chain copies only the segments its prefix needs",
          "[device]") {
  FakeCopyEngine engine;
  const KvLayout layout = testing::GemmaStyleLayout();
  auto store =
      OpenWithEngine(testing::TrimOptions(layout, /*checkpoint_blocks=*/4), engine);
  const auto chain = testing::TrimChain(*store, 8);
  DeviceBuffers src(engine, layout, 8);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 8);
  DeviceBuffers dst(engine, layout, 8);
  dst.Fill(0xEE);
  REQUIRE(store->Load(chain, dst.all())->blocks == 8);
  const size_t window_blocks = testing::kTrimWindowTokens / testing::kTrimBlockTokens;
  const size_t per_block = layout.SegmentsPerBlock();
  for (size_t b = 0; b < 8; ++b) {
    for (size_t s = 0; s < per_block; ++s) {
      const bool sliding = layout.WindowOf(static_cast<uint32_t>(s / 2)) > 0;
      const Segment& seg = dst.all()[b * per_block + s];
      std::vector<unsigned char> want(seg.bytes);
      testing::FillFromHash(chain[b], s, want.data(), seg.bytes);
      INFO("block " << b << " segment " << s);
      if (!sliding || b + window_blocks >= 8) {
        CHECK(std::memcmp(seg.data, want.data(), seg.bytes) == 0);
      } else {
        std::vector<unsigned char> sentinel(seg.bytes, 0xEE);
        CHECK(std::memcmp(seg.data, sentinel.data(), seg.bytes) == 0);
      }
    }
  }
}

TEST_CASE("host and device segments mix in one call", "[device]") {
  FakeCopyEngine engine;
  auto store = OpenWithEngine(DeviceOptions(SmallLayout(), 8), engine);
  const auto chain = ChainOf(*store, 9, 2);
  DeviceBuffers dev(engine, store->layout(), 2);
  EngineBuffers host(store->layout(), 2);
  dev.FillFrom(chain);
  host.FillFrom(chain);
  // Even segments (K) on the device, odd ones (V) in host memory.
  std::vector<Segment> mixed(dev.all().begin(), dev.all().end());
  for (size_t i = 1; i < mixed.size(); i += 2) mixed[i] = host.all()[i];
  REQUIRE(store->Save(chain, mixed)->stored == 2);
  dev.Fill(0);
  host.Clear();
  REQUIRE(store->Load(chain, mixed)->blocks == 2);
  EngineBuffers check(store->layout(), 2);
  REQUIRE(store->Load(chain, check.all())->blocks == 2);
  for (size_t i = 0; i < mixed.size(); ++i) {
    CHECK(std::memcmp(mixed[i].data, check.all()[i].data, mixed[i].bytes) == 0);
  }
  CHECK(engine.bytes(internal::CopyDirection::kHostToDevice) ==
        2 * store->layout().BlockBytes() / 2);
}

}  // namespace
}  // namespace kvtier
