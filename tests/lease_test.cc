// Lookup leases: a scheduler looks up, a worker loads later; the prefix the
// lookup reported stays pinned until that load, a release, or expiry.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;
using testing::SmallLayout;

struct LeaseStore {
  LeaseStore() {
    Options o;
    o.layout = SmallLayout();
    o.model_id = "lease-model@1";
    o.eviction = EvictionPolicy::kLru;
    o.host.capacity_bytes =
        4 * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
    o.host.lock_memory = false;
    store = std::move(Store::Open(o)).value();
    a = Chain(1);
    b = Chain(2);
  }
  std::vector<BlockHash> Chain(uint32_t seed) const {
    std::vector<uint32_t> tokens(4 * store->layout().block_tokens);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = seed * 1000 + i;
    return store->hasher().Chain(tokens);
  }
  size_t Save(const std::vector<BlockHash>& chain) {
    EngineBuffers src(store->layout(), chain.size());
    src.FillFrom(chain);
    return store->Save(chain, src.all())->stored;
  }
  size_t Load(const std::vector<BlockHash>& chain, uint64_t lease) {
    EngineBuffers dst(store->layout(), chain.size());
    const size_t n =
        store->Load(chain, dst.all(), LoadOptions{.lease = lease, .context = {}})->blocks;
    for (size_t i = 0; i < n; ++i) REQUIRE(dst.Matches(i, chain[i]));
    return n;
  }
  std::unique_ptr<Store> store;
  std::vector<BlockHash> a, b;  // four blocks each; the tier holds four
};

TEST_CASE("a leased prefix is not evicted and its load serves all of it", "[lease]") {
  LeaseStore s;
  REQUIRE(s.Save(s.a) == 4);
  Result<LookupResult> hit = s.store->LookupAndLease(s.a, 10'000);
  REQUIRE(hit.ok());
  CHECK(hit->blocks == 4);
  CHECK(hit->lease != 0);
  CHECK(s.Save(s.b) == 0);  // every slot is leased: b is skipped
  CHECK(s.Load(s.a, hit->lease) == 4);
  const StoreStats st = s.store->Stats();
  CHECK(st.leases_granted == 1);
  CHECK(st.leases_used == 1);
  CHECK(st.leases_active == 0);
  CHECK(s.Save(s.b) == 4);  // the load ended the lease: a can go now
  CHECK(s.store->ReleaseLease(hit->lease) == false);
}

TEST_CASE("an expired lease gives its pins back and is counted", "[lease]") {
  LeaseStore s;
  REQUIRE(s.Save(s.a) == 4);
  Result<LookupResult> hit = s.store->LookupAndLease(s.a, 20);
  REQUIRE(hit.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK(s.Save(s.b) == 4);  // the save found the lease expired
  CHECK(s.store->Stats().leases_expired == 1);
  CHECK(s.store->ReleaseLease(hit->lease) == false);
  // A load under the stale lease plans afresh: a was evicted.
  CHECK(s.Load(s.a, hit->lease) == 0);
  CHECK(s.Load(s.b, hit->lease) == 4);
}

TEST_CASE("ReleaseLease ends a lease once", "[lease]") {
  LeaseStore s;
  REQUIRE(s.Save(s.a) == 4);
  const uint64_t lease = s.store->LookupAndLease(s.a, 10'000)->lease;
  CHECK(s.store->ReleaseLease(lease));
  CHECK_FALSE(s.store->ReleaseLease(lease));
  CHECK(s.store->Stats().leases_released == 1);
  CHECK(s.Save(s.b) == 4);
}

TEST_CASE("a lease for another chain is ignored and the load plans afresh", "[lease]") {
  LeaseStore s;
  REQUIRE(s.Save(s.a) == 4);
  const uint64_t lease = s.store->LookupAndLease(std::span(s.a).first(2), 10'000)->lease;
  REQUIRE(lease != 0);
  // A chain that does not start with the leased prefix: its pins go back.
  std::vector<BlockHash> other = s.a;
  other[0].lo ^= 1;
  CHECK(s.Load(other, lease) == 0);
  CHECK(s.store->Stats().leases_active == 0);
  CHECK(s.Save(s.b) == 4);
}

TEST_CASE("a lease duration out of range is InvalidArgument naming the field",
          "[lease]") {
  LeaseStore s;
  for (uint32_t ms : {0u, kMaxLeaseMs + 1}) {
    const Status st = s.store->LookupAndLease(s.a, ms).status();
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("lookup.lease_ms"));
  }
  // Nothing cached: no lease to pin.
  CHECK(s.store->LookupAndLease(s.a, 100)->lease == 0);
}

}  // namespace
}  // namespace kvtier
