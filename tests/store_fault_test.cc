// A failing tier degrades to misses and counters, never to an error, a crash
// or a wrong byte (DESIGN invariants 1 and 3). The Store runs over the
// fault-injecting MemoryTier, which stores exactly what the host tier stores.
#include <catch2/catch.hpp>

#include <cstring>

#include "backends/testing/memory_tier.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;
using testing::MemoryTier;

constexpr uint32_t kSlots = 16;

struct FaultyStore {
  FaultyStore() {
    Options o;
    o.layout = testing::SmallLayout();
    o.model_id = "fault-model@1";
    o.host.capacity_bytes = 1;  // unused: the tier below is passed in
    o.host.lock_memory = false;
    auto tier_owner = std::make_unique<MemoryTier>(
        kSlots, internal::StoredBlockBytes(o.layout.BlockBytes()));
    tier = tier_owner.get();
    internal::TierBackends backends;
    backends[static_cast<int>(Tier::kHost)] = std::move(tier_owner);
    auto opened = internal::OpenStoreWithTiers(o, std::move(backends));
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    chain = store->hasher().Chain(std::vector<uint32_t>(4 * 4, 7));  // 4 blocks
    src = std::make_unique<EngineBuffers>(store->layout(), chain.size());
    src->FillFrom(chain);
  }

  // The slot whose header names `hash` (header bytes 16..31: lo, hi).
  uint32_t SlotOf(const BlockHash& hash) const {
    for (uint32_t s = 0; s < kSlots; ++s) {
      BlockHash stored;
      std::memcpy(&stored, tier->SlotBytes(s).data() + 16, sizeof(stored));
      if (stored == hash) return s;
    }
    FAIL("no slot holds block " << hash.ToHex());
    return 0;
  }

  size_t LoadAll(EngineBuffers& dst) {
    auto r = store->Load(chain, dst.all());
    REQUIRE(r.ok());
    for (size_t b = 0; b < r->blocks; ++b) CHECK(dst.Matches(b, chain[b]));
    return r->blocks;
  }

  const TierStats& host() {
    stats = store->Stats();
    return stats.tier(Tier::kHost);
  }

  MemoryTier* tier = nullptr;  // owned by the store
  std::unique_ptr<Store> store;
  std::vector<BlockHash> chain;
  std::unique_ptr<EngineBuffers> src;
  StoreStats stats;
};

TEST_CASE("a corrupted payload byte is a miss, a counted error, and can be saved again",
          "[store][fault]") {
  FaultyStore f;
  REQUIRE(f.store->Save(f.chain, f.src->all())->stored == 4);
  f.tier->CorruptSlot(f.SlotOf(f.chain[2]), internal::kStoredHeaderBytes + 5);

  EngineBuffers dst(f.store->layout(), f.chain.size());
  CHECK(f.LoadAll(dst) == 2);  // blocks 0 and 1 byte-exact, then the bad one ends it
  CHECK(f.host().checksum_errors == 1);
  CHECK(f.store->Lookup(f.chain).blocks == 2);  // the bad slot was dropped

  auto again = f.store->Save(f.chain, f.src->all());
  REQUIRE(again.ok());
  CHECK(again->stored == 1);  // block 2; block 3 was still there and is served again
  dst.Clear();
  CHECK(f.LoadAll(dst) == 4);
}

TEST_CASE("a corrupted header is a miss, never another block's bytes", "[store][fault]") {
  FaultyStore f;
  REQUIRE(f.store->Save(f.chain, f.src->all())->stored == 4);
  f.tier->CorruptSlot(f.SlotOf(f.chain[0]), 20);  // inside the stored hash

  EngineBuffers dst(f.store->layout(), f.chain.size());
  CHECK(f.LoadAll(dst) == 0);
  CHECK(f.host().checksum_errors == 1);
  CHECK(f.store->Lookup(f.chain).blocks == 0);
}

TEST_CASE("a failed write is a skipped block, not an error, and Save goes on",
          "[store][fault]") {
  const StatusCode code = GENERATE(StatusCode::kIoError, StatusCode::kResourceExhausted);
  FaultyStore f;
  f.tier->FailNextWrites(1, code);
  auto saved = f.store->Save(f.chain, f.src->all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 3);
  CHECK(saved->skipped == 1);
  CHECK(f.host().io_errors == 1);
  // Block 0 never landed, so nothing after it can be served.
  CHECK(f.store->Lookup(f.chain).blocks == 0);

  auto again = f.store->Save(f.chain, f.src->all());
  REQUIRE(again.ok());
  CHECK(again->stored == 1);
  EngineBuffers dst(f.store->layout(), f.chain.size());
  CHECK(f.LoadAll(dst) == 4);
}

TEST_CASE("a failed read ends the loaded prefix and counts an I/O error",
          "[store][fault]") {
  FaultyStore f;
  REQUIRE(f.store->Save(f.chain, f.src->all())->stored == 4);
  f.tier->FailNextReads(1);

  EngineBuffers dst(f.store->layout(), f.chain.size());
  CHECK(f.LoadAll(dst) == 0);
  CHECK(f.host().io_errors == 1);

  REQUIRE(f.store->Save(f.chain, f.src->all()).ok());
  dst.Clear();
  CHECK(f.LoadAll(dst) == 4);
  CHECK(f.host().hits == 4);
}

TEST_CASE("a tier that fails every write leaves a store that still answers",
          "[store][fault]") {
  FaultyStore f;
  f.tier->FailNextWrites(1000);
  for (int round = 0; round < 5; ++round) {
    auto saved = f.store->Save(f.chain, f.src->all());
    REQUIRE(saved.ok());
    CHECK(saved->stored == 0);
    CHECK(f.store->Lookup(f.chain).blocks == 0);
  }
  CHECK(f.host().io_errors == 20);
  CHECK(f.host().blocks == 0);
  CHECK(f.host().used_bytes == 0);  // failed writes give their slots back
}

}  // namespace
}  // namespace kvtier
