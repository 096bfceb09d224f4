// The asynchronous engine API: BeginLoad/BeginSave handles, per-layer
// completion, cancellation, and saves that never wait for the disk.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>

#include "backends/testing/memory_tier.h"
#include "lib/store_impl.h"
#include "tests/nvme_support.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::EngineBuffers;
using testing::FillFromHash;
using testing::SmallLayout;

Options HostOptions(size_t blocks, KvLayout layout = SmallLayout()) {
  Options o;
  o.layout = layout;
  o.model_id = "async-model@1";
  o.host.capacity_bytes =
      blocks * ((internal::StoredBlockBytes(layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  return o;
}

std::unique_ptr<Store> OpenOrDie(const Options& o) {
  auto opened = Store::Open(o);
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

TEST_CASE("an async load moves every block's layer l before any block's layer l+1",
          "[async]") {
  auto store = OpenOrDie(HostOptions(8));
  const auto chain = ChainOf(*store, 1, 2);
  EngineBuffers src(store->layout(), 2);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 2);

  // Segments are (layer 0: K, V), (layer 1: K, V) per block. Block 0's
  // layer-1 K and block 1's layer-0 K share one buffer: copied layer by
  // layer, block 0's layer 1 is written last; block by block, block 1's
  // layer 0 would be.
  EngineBuffers dst(store->layout(), 2);
  std::vector<Segment> segs(dst.all().begin(), dst.all().end());
  segs[2] = segs[4];
  auto handle = store->BeginLoad(chain, segs);
  REQUIRE(handle.ok());
  CHECK(handle->WaitLayer(0) == 2);
  CHECK(handle->WaitLayer(1) == 2);
  CHECK(handle->WaitLoad().blocks == 2);
  std::vector<unsigned char> want(store->layout().SegmentBytes());
  FillFromHash(chain[0], 2, want.data(), want.size());
  CHECK(std::memcmp(segs[4].data, want.data(), want.size()) == 0);
  CHECK(handle->Outcome(0) == BlockOutcome::kDone);
  CHECK(handle->Outcome(1) == BlockOutcome::kDone);
}

TEST_CASE("a layer is never reported in place for a block that fails verification",
          "[async]") {
  Options o = HostOptions(8);
  auto owner = std::make_unique<testing::MemoryTier>(
      8, internal::StoredBlockBytes(o.layout.BlockBytes()));
  testing::MemoryTier* tier = owner.get();
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(owner);
  auto store = std::move(internal::OpenStoreWithTiers(o, std::move(backends))).value();
  const auto chain = ChainOf(*store, 2, 3);
  EngineBuffers src(store->layout(), 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all())->stored == 3);
  // Admission fills slots in order: block 1 sits in slot 1. Damage its last
  // payload byte (a layer-1 byte): layer 0 must not be reported for it either.
  tier->CorruptSlot(1, internal::StoredBlockBytes(o.layout.BlockBytes()) - 1);

  EngineBuffers dst(store->layout(), 3);
  auto handle = store->BeginLoad(chain, dst.all());
  REQUIRE(handle.ok());
  CHECK(handle->WaitLayer(0) == 1);
  CHECK(handle->WaitLayer(1) == 1);
  CHECK(handle->WaitLoad().blocks == 1);
  CHECK(handle->Outcome(0) == BlockOutcome::kDone);
  CHECK(handle->Outcome(1) == BlockOutcome::kFailed);
  CHECK(handle->Outcome(2) == BlockOutcome::kMissing);
  CHECK(dst.Matches(0, chain[0]));
  CHECK(store->Stats().tier(Tier::kHost).checksum_errors == 1);
}

TEST_CASE("a cancelled load skips its blocks and gives their pins back", "[async]") {
  // One transfer thread, busy with a large save while the load is queued.
  KvLayout big = SmallLayout(8, 64);  // 8 layers of 4 KiB segments: 64 KiB blocks
  Options o = HostOptions(1024 + 4, big);
  o.transfer_threads = 1;
  auto store = OpenOrDie(o);
  const auto small = ChainOf(*store, 3, 4);
  EngineBuffers small_src(big, 4);
  small_src.FillFrom(small);
  REQUIRE(store->Save(small, small_src.all())->stored == 4);

  const auto blocker = ChainOf(*store, 4, 1024);  // 64 MiB copied first
  EngineBuffers blocker_src(big, blocker.size());
  auto busy = store->BeginSave(blocker, blocker_src.all());
  REQUIRE(busy.ok());
  EngineBuffers dst(big, 4);
  auto handle = store->BeginLoad(small, dst.all());
  REQUIRE(handle.ok());
  handle->Cancel();
  CHECK(handle->WaitLoad().blocks == 0);
  for (size_t b = 0; b < 4; ++b) CHECK(handle->Outcome(b) == BlockOutcome::kCancelled);
  CHECK(busy->WaitSave().stored == 1024);
  CHECK(store->Stats().transfers_cancelled == 1);
  // A cancelled read is no verdict on the slot: no block was dropped.
  CHECK(store->Lookup(small).blocks == 4);
  // Nothing stays pinned: a full tier's next save evicts the small chain.
  const auto next = ChainOf(*store, 5, 8);
  EngineBuffers next_src(big, next.size());
  next_src.FillFrom(next);
  CHECK(store->Save(next, next_src.all())->stored == 8);
  CHECK(store->Lookup(small).blocks == 0);
}

TEST_CASE("an async save is done once the engine's memory was read, before write-down",
          "[async][nvme]") {
  testing::TempDir dir;
  testing::NvmeStore s(testing::NvmeOptions(dir.path(), 16, 64));
  REQUIRE(s.status.ok());
  s.faults->delay_us = 50'000;  // every NVMe completion takes 50 ms
  const auto chain = ChainOf(*s.store, 6, 4);
  EngineBuffers src(s.store->layout(), 4);
  src.FillFrom(chain);
  auto handle = s.store->BeginSave(chain, src.all());
  REQUIRE(handle.ok());
  CHECK(handle->WaitSave().stored == 4);
  CHECK(s.store->Stats().nvme.copy_down_blocks == 0);  // still on the device
  src.Clear();  // the engine reuses its memory: kvtier no longer needs it
  s.store->Flush();
  CHECK(s.store->Stats().nvme.copy_down_blocks == 4);
  s.faults->delay_us = 0;
  CHECK(testing::LoadChecked(*s.store, chain) == 4);
}

TEST_CASE("with a slow disk Save keeps host speed and the backlog is skipped and counted",
          "[async][nvme]") {
  testing::TempDir dir;
  Options o = testing::NvmeOptions(dir.path(), 64, 256);
  o.nvme.write_queue_blocks = 4;
  testing::NvmeStore s(o);
  REQUIRE(s.status.ok());
  s.faults->delay_us = 50'000;  // every NVMe write takes 50 ms
  std::vector<std::vector<BlockHash>> chains;
  auto slowest = std::chrono::nanoseconds::zero();
  for (uint32_t c = 0; c < 16; ++c) {
    chains.push_back(ChainOf(*s.store, 100 + c, 2));
    const auto start = std::chrono::steady_clock::now();
    CHECK(testing::SaveChain(*s.store, chains.back()).stored == 2);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
  }
  // No Save waited for a 50 ms write (a generous bound for a loaded machine).
  CHECK(slowest < std::chrono::milliseconds(40));
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.copy_down_dropped > 0);
  CHECK(st.nvme.copy_down_blocks + st.nvme.copy_down_dropped <= 32);
  s.store->Flush();
  s.faults->delay_us = 0;
  for (const auto& chain : chains) CHECK(testing::LoadChecked(*s.store, chain) == 2);
}

TEST_CASE("async calls check their arguments as the sync ones do", "[async]") {
  auto store = OpenOrDie(HostOptions(4));
  const auto chain = ChainOf(*store, 7, 2);
  EngineBuffers buf(store->layout(), 1);  // one block's segments for two
  const Status load = store->BeginLoad(chain, buf.all()).status();
  CHECK(load.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(load.message(), Catch::Contains("load.dst"));
  const Status save = store->BeginSave(chain, buf.all(), 3).status();
  CHECK(save.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(save.message(), Catch::Contains("save.first_block"));
  CHECK(store->Stats().invalid_calls == 2);
  // The empty handle is done at once.
  TransferHandle empty;
  CHECK(empty.Done());
  CHECK(empty.WaitLayer(0) == 0);
}

}  // namespace
}  // namespace kvtier
