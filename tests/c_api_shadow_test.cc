// The C API's shadow verification: options, kvtier_shadow_sampled,
// kvtier_shadow_verify and the counters, as a C engine uses them.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "tests/c_api_test_support.h"

namespace kvtier {
namespace {

using testing::CheckNames;
using testing::SmallCOptions;

struct Blocks {  // n blocks of segments over one buffer
  Blocks(kvtier_store* s, size_t n)
      : per(kvtier_segments_per_block(s)),
        bytes(kvtier_segment_bytes(s)),
        memory(n * per * bytes) {
    for (size_t i = 0; i < n * per; ++i) {
      segs.push_back(kvtier_segment{memory.data() + i * bytes, bytes, 0});
    }
  }
  const kvtier_segment* block(size_t b) const { return segs.data() + b * per; }
  size_t per, bytes;
  std::vector<unsigned char> memory;
  std::vector<kvtier_segment> segs;
};

TEST_CASE("C: a sampled block recomputed differently is counted on its tier",
          "[shadow][c_api]") {
  kvtier_options o = SmallCOptions();
  o.shadow_sample_rate = 1.0;
  kvtier_store* store = nullptr;
  kvtier_error err{};
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  std::vector<uint32_t> tokens(8);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i + 3);
  kvtier_block_hash chain[2];
  REQUIRE(kvtier_hash_chain(store, tokens.data(), tokens.size(), chain, 2, &err) ==
          KVTIER_OK);
  Blocks src(store, 2);
  for (size_t i = 0; i < src.memory.size(); ++i)
    src.memory[i] = static_cast<unsigned char>(i);
  REQUIRE(kvtier_save(store, chain, 2, 0, src.segs.data(), src.segs.size(), nullptr,
                      &err) == KVTIER_OK);
  Blocks dst(store, 2);
  size_t loaded = 0;
  REQUIRE(kvtier_load(store, chain, 2, dst.segs.data(), dst.segs.size(), &loaded, &err) ==
          KVTIER_OK);
  REQUIRE(loaded == 2);

  size_t count = 0;
  REQUIRE(kvtier_shadow_sampled(store, chain, 2, nullptr, 0, &count, &err) == KVTIER_OK);
  CHECK(count == 2);
  size_t indices[2] = {9, 9};
  REQUIRE(kvtier_shadow_sampled(store, chain, 2, indices, 2, &count, &err) == KVTIER_OK);
  CHECK(indices[0] == 0);
  CHECK(indices[1] == 1);

  int diverged = -1;
  kvtier_tier tier = KVTIER_TIER_GPU;
  double rms = -1;
  REQUIRE(kvtier_shadow_verify(store, &chain[0], src.block(0), src.per, &diverged, &tier,
                               &rms, &err) == KVTIER_OK);
  CHECK(diverged == 0);
  CHECK(tier == KVTIER_TIER_HOST);
  CHECK(rms == 0);
  src.memory[src.per * src.bytes + 5] ^= 1;  // block 1's recomputation differs
  REQUIRE(kvtier_shadow_verify(store, &chain[1], src.block(1), src.per, &diverged, &tier,
                               nullptr, &err) == KVTIER_OK);
  CHECK(diverged == 1);
  CHECK(kvtier_shadow_verify(store, &chain[1], src.block(1), src.per, &diverged, &tier,
                             nullptr, &err) == KVTIER_NOT_FOUND);

  kvtier_tier_stats ts;
  ts.struct_size = sizeof(ts);
  REQUIRE(kvtier_tier_stats_get(store, KVTIER_TIER_HOST, &ts, &err) == KVTIER_OK);
  CHECK(ts.shadow_checked == 2);
  CHECK(ts.shadow_diverged == 1);
  // A caller built before the shadow counters still gets the rest.
  kvtier_tier_stats old;
  old.struct_size = offsetof(kvtier_tier_stats, shadow_checked);
  CHECK(kvtier_tier_stats_get(store, KVTIER_TIER_HOST, &old, &err) == KVTIER_OK);
  kvtier_call_stats cs;
  cs.struct_size = sizeof(cs);
  REQUIRE(kvtier_call_stats_get(store, &cs, &err) == KVTIER_OK);
  CHECK(cs.shadow_sampled == 2);
  kvtier_close(store);
}

TEST_CASE("C: bad shadow and load-cost options name their fields", "[shadow][c_api]") {
  kvtier_store* store = nullptr;
  kvtier_error err{};
  kvtier_options o = SmallCOptions();
  o.shadow_sample_rate = 2;
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "options.shadow.sample_rate");
  o = SmallCOptions();
  o.shadow_max_pending_blocks = 0;
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "options.shadow.max_pending_blocks");
  // A caller built before these fields gets them off.
  o = SmallCOptions();
  o.struct_size = offsetof(kvtier_options, shadow_sample_rate);
  o.shadow_sample_rate = 2;  // past its struct: never read
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  kvtier_close(store);
}

}  // namespace
}  // namespace kvtier
