// Store behaviour through the public API, on the real host tier.
#include <catch2/catch.hpp>

#include <random>

#include "kvtier/kvtier.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;

Options SmallOptions(size_t capacity_blocks) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "test-model@1";
  o.host.capacity_bytes = testing::HostBytesFor(o.layout, capacity_blocks);
  o.host.lock_memory = false;
  return o;
}

std::vector<uint32_t> Tokens(size_t n, uint32_t seed) {
  return testing::SeededTokens(n, seed);
}

std::unique_ptr<Store> OpenOrDie(const Options& o) {
  auto s = Store::Open(o);
  REQUIRE(s.ok());
  return std::move(s).value();
}

TEST_CASE("saved blocks load back byte-exact", "[store]") {
  auto store = OpenOrDie(SmallOptions(64));
  const auto chain = store->hasher().Chain(Tokens(40, 1));  // 10 blocks of 4
  EngineBuffers src(store->layout(), chain.size());
  src.FillFrom(chain);
  auto saved = store->Save(chain, src.all());
  REQUIRE(saved.ok());
  CHECK(saved->stored == 10);

  const LookupResult hit = store->Lookup(chain);
  CHECK(hit.blocks == 10);
  CHECK(hit.tokens == 40);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kHost)] == 10);

  EngineBuffers dst(store->layout(), chain.size());
  auto loaded = store->Load(chain, dst.all());
  REQUIRE(loaded.ok());
  CHECK(loaded->blocks == 10);
  for (size_t b = 0; b < chain.size(); ++b) CHECK(dst.Matches(b, chain[b]));
  CHECK(store->Stats().load_hit_blocks == 10);
}

TEST_CASE("a shared prefix hits up to where two prompts diverge", "[store]") {
  auto store = OpenOrDie(SmallOptions(64));
  auto a = Tokens(40, 1);
  auto b = a;
  b[21] += 1;  // differs inside block 5
  const auto chain_a = store->hasher().Chain(a);
  const auto chain_b = store->hasher().Chain(b);
  EngineBuffers src(store->layout(), chain_a.size());
  src.FillFrom(chain_a);
  REQUIRE(store->Save(chain_a, src.all()).ok());
  CHECK(store->Lookup(chain_b).blocks == 5);
}

TEST_CASE("saving a block that is already stored only refreshes it", "[store]") {
  auto store = OpenOrDie(SmallOptions(64));
  const auto chain = store->hasher().Chain(Tokens(16, 2));
  EngineBuffers src(store->layout(), chain.size());
  src.FillFrom(chain);
  REQUIRE(store->Save(chain, src.all()).ok());
  const uint64_t written = store->Stats().tier(Tier::kHost).bytes_written;
  auto again = store->Save(chain, src.all());
  REQUIRE(again.ok());
  CHECK(again->stored == 0);
  CHECK(again->refreshed == 4);
  CHECK(store->Stats().tier(Tier::kHost).bytes_written == written);
  CHECK(store->Stats().save_refreshed_blocks == 4);
}

TEST_CASE("save from first_block stores only the new tail", "[store]") {
  auto store = OpenOrDie(SmallOptions(64));
  const auto chain = store->hasher().Chain(Tokens(32, 3));  // 8 blocks
  EngineBuffers all(store->layout(), chain.size());
  all.FillFrom(chain);
  REQUIRE(store->Save(std::span(chain).first(3), all.blocks(0, 3)).ok());
  auto tail = store->Save(chain, all.blocks(3, 5), /*first_block=*/3);
  REQUIRE(tail.ok());
  CHECK(tail->stored == 5);
  EngineBuffers dst(store->layout(), chain.size());
  REQUIRE(store->Load(chain, dst.all())->blocks == 8);
  for (size_t b = 0; b < chain.size(); ++b) CHECK(dst.Matches(b, chain[b]));
}

TEST_CASE("a full store evicts the least recent chain tail first", "[store]") {
  auto store = OpenOrDie(SmallOptions(8));
  const auto old_chain = store->hasher().Chain(Tokens(16, 10));  // 4 blocks
  const auto new_chain = store->hasher().Chain(Tokens(16, 11));
  EngineBuffers a(store->layout(), 4), b(store->layout(), 4);
  a.FillFrom(old_chain);
  b.FillFrom(new_chain);
  REQUIRE(store->Save(old_chain, a.all()).ok());
  REQUIRE(store->Save(new_chain, b.all()).ok());
  // One more block: the tail of the older chain goes, its prefix stays.
  const auto third = store->hasher().Chain(Tokens(4, 12));
  EngineBuffers c(store->layout(), 1);
  c.FillFrom(third);
  REQUIRE(store->Save(third, c.all())->stored == 1);
  CHECK(store->Lookup(old_chain).blocks == 3);
  CHECK(store->Lookup(new_chain).blocks == 4);
  CHECK(store->Stats().tier(Tier::kHost).evictions == 1);
}

TEST_CASE("a save never evicts the parent of the block it stores", "[store]") {
  // A full 2-block store holding a 2-block prompt; the prompt grows by one
  // block. The only childless block is the prompt's own tail, the new
  // block's parent: evicting it would store the new block as an orphan and
  // cut the hit. The new block is skipped instead and the prefix stays.
  auto store = OpenOrDie(SmallOptions(2));
  const auto chain = store->hasher().Chain(Tokens(12, 20));  // 3 blocks
  EngineBuffers src(store->layout(), 3);
  src.FillFrom(chain);
  REQUIRE(store->Save(std::span(chain).first(2), src.blocks(0, 2))->stored == 2);
  auto grown = store->Save(chain, src.blocks(2, 1), /*first_block=*/2);
  REQUIRE(grown.ok());
  CHECK(grown->stored == 0);
  CHECK(grown->skipped == 1);
  CHECK(store->Lookup(chain).blocks == 2);
  CHECK(store->Stats().tier(Tier::kHost).evictions == 0);
  CHECK(store->Stats().tier(Tier::kHost).orphans_dropped == 0);
}

TEST_CASE("capacity is never exceeded under a random workload", "[store]") {
  constexpr size_t kCapacity = 37;
  auto store = OpenOrDie(SmallOptions(kCapacity));
  std::mt19937 rng(7);
  const uint64_t slot = store->Stats().tier(Tier::kHost).slot_bytes;
  for (int op = 0; op < 2000; ++op) {
    const auto chain = store->hasher().Chain(Tokens(4 * (1 + rng() % 12), rng() % 50));
    if (rng() % 3 == 0) {
      EngineBuffers dst(store->layout(), chain.size());
      const LookupResult hit = store->Lookup(chain);
      auto loaded =
          store->Load(std::span(chain).first(hit.blocks), dst.blocks(0, hit.blocks));
      REQUIRE(loaded.ok());
      for (size_t b = 0; b < loaded->blocks; ++b) REQUIRE(dst.Matches(b, chain[b]));
    } else {
      EngineBuffers src(store->layout(), chain.size());
      src.FillFrom(chain);
      REQUIRE(store->Save(chain, src.all()).ok());
    }
    const TierStats host = store->Stats().tier(Tier::kHost);
    REQUIRE(host.blocks <= kCapacity);
    REQUIRE(host.used_bytes <= host.capacity_bytes);
    REQUIRE(host.used_bytes == host.blocks * slot);
  }
}

TEST_CASE("stores of different namespaces never share a block", "[store]") {
  Options base = SmallOptions(64);
  const auto tokens = Tokens(32, 5);
  auto chain_of = [&](const Options& o) { return OpenOrDie(o)->hasher().Chain(tokens); };
  Options other_model = base, other_salt = base, other_rank = base, other_layout = base;
  other_model.model_id = "test-model@2";
  other_salt.tenant_salt = "tenant-b";
  other_rank.rank = 1;
  other_layout.layout.head_dim = 16;
  const auto chain = chain_of(base);
  for (const Options* o : {&other_model, &other_salt, &other_rank, &other_layout}) {
    const auto other = chain_of(*o);
    for (size_t i = 0; i < chain.size(); ++i) CHECK_FALSE(other[i] == chain[i]);
  }
}

TEST_CASE("a prompt shorter than one block has an empty chain and no hit", "[store]") {
  auto store = OpenOrDie(SmallOptions(8));
  const auto chain = store->hasher().Chain(Tokens(3, 1));
  CHECK(chain.empty());
  CHECK(store->Lookup(chain).blocks == 0);
  auto loaded = store->Load(chain, {});
  REQUIRE(loaded.ok());
  CHECK(loaded->blocks == 0);
  REQUIRE(store->Save(chain, {}).ok());
}

}  // namespace
}  // namespace kvtier
