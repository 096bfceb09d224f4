// Store::Erase and Store::Clear on the host tier: a chain and every block
// below it leave, the prefix a tail shares stays, leases on erased blocks
// end, and the store keeps working.
#include <catch2/catch.hpp>

#include <vector>

#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;
using testing::SmallLayout;

struct EraseStore {
  explicit EraseStore(size_t blocks = 32) {
    Options o;
    o.layout = SmallLayout();
    o.model_id = "erase-model@1";
    o.host.capacity_bytes =
        blocks * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
    o.host.lock_memory = false;
    store = std::move(Store::Open(o)).value();
  }
  // `n` blocks: the shared prefix `prefix` tokens long, then `seed`'s own.
  std::vector<BlockHash> Chain(uint32_t seed, size_t n, size_t shared_blocks = 0) const {
    std::vector<uint32_t> tokens(n * store->layout().block_tokens);
    const size_t shared = shared_blocks * store->layout().block_tokens;
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = i < shared ? static_cast<uint32_t>(i) : seed * 1000 + i;
    }
    return store->hasher().Chain(tokens);
  }
  size_t Save(const std::vector<BlockHash>& chain) {
    EngineBuffers src(store->layout(), chain.size());
    src.FillFrom(chain);
    Result<SaveResult> r = store->Save(chain, src.all());
    REQUIRE(r.ok());
    return r->stored + r->refreshed;
  }
  size_t Erase(std::span<const BlockHash> chain) {
    Result<EraseResult> r = store->Erase(chain);
    REQUIRE(r.ok());
    return r->blocks;
  }
  size_t Held() const { return store->Stats().tier(Tier::kHost).blocks; }
  std::unique_ptr<Store> store;
};

TEST_CASE("erase: a chain leaves every tier and a lookup misses it", "[erase]") {
  EraseStore s;
  const std::vector<BlockHash> a = s.Chain(1, 4), b = s.Chain(2, 3);
  REQUIRE(s.Save(a) == 4);
  REQUIRE(s.Save(b) == 3);
  CHECK(s.Erase(a) == 4);
  CHECK(s.store->Lookup(a).blocks == 0);
  CHECK(s.store->Lookup(b).blocks == 3);
  CHECK(s.Held() == 3);
  CHECK(s.store->Stats().erased_blocks == 4);
  // The slots are free again and the chain can be stored anew.
  REQUIRE(s.Save(a) == 4);
  CHECK(s.store->Lookup(a).blocks == 4);
}

TEST_CASE("erase: the blocks below an erased block go with it", "[erase]") {
  EraseStore s;
  // Two conversations sharing a 2-block prefix.
  const std::vector<BlockHash> a = s.Chain(1, 5, 2), b = s.Chain(2, 4, 2);
  REQUIRE(a[1] == b[1]);
  s.Save(a);
  s.Save(b);
  REQUIRE(s.Held() == 5 + 2);
  // Erasing the shared prefix's first block takes both conversations.
  CHECK(s.Erase(std::span(a).first(1)) == 7);
  CHECK(s.Held() == 0);
  CHECK(s.store->Lookup(b).blocks == 0);
}

TEST_CASE("erase: a tail's hashes drop that tail and keep the prefix it shares",
          "[erase]") {
  EraseStore s;
  const std::vector<BlockHash> a = s.Chain(1, 5, 2), b = s.Chain(2, 4, 2);
  s.Save(a);
  s.Save(b);
  CHECK(s.Erase(std::span(a).subspan(2)) == 3);
  CHECK(s.store->Lookup(a).blocks == 2);
  CHECK(s.store->Lookup(b).blocks == 4);
}

TEST_CASE("erase: unknown hashes and an empty chain erase nothing", "[erase]") {
  EraseStore s;
  const std::vector<BlockHash> a = s.Chain(1, 3);
  s.Save(a);
  CHECK(s.Erase({}) == 0);
  CHECK(s.Erase(s.Chain(9, 3)) == 0);
  CHECK(s.store->Lookup(a).blocks == 3);
}

TEST_CASE("erase: a lease on an erased block ends and its load misses",
          "[erase][lease]") {
  EraseStore s;
  const std::vector<BlockHash> a = s.Chain(1, 4);
  s.Save(a);
  Result<LookupResult> leased = s.store->LookupAndLease(a, 10'000);
  REQUIRE(leased.ok());
  REQUIRE(leased->blocks == 4);
  CHECK(s.Erase(a) == 4);  // the lease's pins did not hold it back
  const StoreStats st = s.store->Stats();
  CHECK(st.leases_active == 0);
  CHECK(st.leases_released == 1);
  CHECK(s.store->ReleaseLease(leased->lease) == false);
  EngineBuffers dst(s.store->layout(), a.size());
  Result<LoadResult> r =
      s.store->Load(a, dst.all(), LoadOptions{.lease = leased->lease, .context = {}});
  REQUIRE(r.ok());
  CHECK(r->blocks == 0);
}

TEST_CASE("clear: every block goes and the store keeps working", "[erase]") {
  EraseStore s;
  const std::vector<BlockHash> a = s.Chain(1, 4), b = s.Chain(2, 5, 2);
  s.Save(a);
  s.Save(b);
  Result<EraseResult> cleared = s.store->Clear();
  REQUIRE(cleared.ok());
  CHECK(cleared->blocks == 9);
  CHECK(s.Held() == 0);
  CHECK(s.store->Stats().tier(Tier::kHost).used_bytes == 0);
  CHECK(s.store->Lookup(a).blocks == 0);
  REQUIRE(s.Save(b) == 5);
  EngineBuffers dst(s.store->layout(), b.size());
  REQUIRE(s.store->Load(b, dst.all())->blocks == 5);
  for (size_t i = 0; i < b.size(); ++i) CHECK(dst.Matches(i, b[i]));
}

}  // namespace
}  // namespace kvtier
