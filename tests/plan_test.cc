// Plans are plain values: they serialize to bytes and back unchanged (a
// scheduler process plans, worker processes move), and damaged bytes are
// refused, never half-read.
#include <catch2/catch.hpp>

#include "lib/placement/placement.h"
#include "lib/placement/plan.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using internal::BlockForm;
using internal::Endpoint;
using internal::Move;
using internal::Plan;
using internal::PlanKind;

Plan SamplePlan() {
  Plan p;
  p.kind = PlanKind::kCopyDown;
  p.chain = {{1, 2}, {3, 4}, {5, 6}};
  p.has_parent = {0, 1, 1};
  p.parents = {{}, {7, 8}, {3, 4}};
  p.moves = {
      Move{0, BlockForm::kWhole, BlockForm::kTrimmed, Endpoint::InTier(0, 17),
           Endpoint::Engine()},
      Move{2, BlockForm::kTrimmed, BlockForm::kTrimmed, Endpoint::Engine(),
           Endpoint::InTier(1, 0xFFFFFFF0u)},
      Move{1, BlockForm::kWhole, BlockForm::kWhole, Endpoint::InTier(1, 3),
           Endpoint::InTier(2, 9)},
  };
  p.releases = {{1, 42, 0x0123456789ABCDEFull}, {0, 7, 0}};
  p.lease = 99;
  return p;
}

TEST_CASE("a plan survives serialization unchanged", "[plan]") {
  const Plan p = SamplePlan();
  const std::vector<std::byte> bytes = internal::SerializePlan(p);
  Result<Plan> back = internal::DeserializePlan(bytes);
  REQUIRE(back.ok());
  CHECK(*back == p);
  CHECK(internal::SerializePlan(*back) == bytes);
  // Without explicit parents, a block's parent is the one before it.
  Plan load;
  load.kind = PlanKind::kLoad;
  load.chain = {{1, 1}, {2, 2}};
  Result<Plan> load_back = internal::DeserializePlan(internal::SerializePlan(load));
  REQUIRE(load_back.ok());
  CHECK(*load_back == load);
  CHECK(load_back->ParentOf(0) == nullptr);
  CHECK(*load_back->ParentOf(1) == load.chain[0]);
}

TEST_CASE("a plan placement made round-trips through bytes", "[plan]") {
  // A real save plan, with evictions (releases) and a refreshed block.
  internal::TierStack stack{{Tier::kHost, internal::TierGeometry::Uniform(4, 4096), {}}};
  const internal::SlidingWindow window(testing::SmallLayout(), 0);
  internal::Placement placement(stack, EvictionPolicy::kLru, window, nullptr);
  std::vector<BlockHash> chain;
  for (uint64_t i = 1; i <= 6; ++i) chain.push_back({i, i * 31});
  const std::vector<BlockForm> forms(chain.size(), BlockForm::kWhole);
  SaveResult result;
  const Plan p = placement.PlanSave(chain, forms, 0, MemoryKind::kHost, &result);
  REQUIRE(p.moves.size() == 4);  // four slots; the fifth block has no victim
  Result<Plan> back = internal::DeserializePlan(internal::SerializePlan(p));
  REQUIRE(back.ok());
  CHECK(*back == p);
}

TEST_CASE("damaged plan bytes are Corruption naming what is wrong", "[plan]") {
  const std::vector<std::byte> good = internal::SerializePlan(SamplePlan());
  const auto fails_with = [](std::vector<std::byte> bytes, const std::string& what) {
    const Status s = internal::DeserializePlan(bytes).status();
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains(what));
  };
  fails_with({good.begin(), good.begin() + 10}, "truncated header");
  fails_with({good.begin(), good.end() - 1}, "the counts need");
  std::vector<std::byte> magic = good;
  magic[0] ^= std::byte{1};
  fails_with(magic, "bad magic");
  std::vector<std::byte> version = good;
  version[4] = std::byte{7};
  fails_with(version, "version 7");
  std::vector<std::byte> kind = good;
  kind[6] = std::byte{9};
  fails_with(kind, "unknown kind 9");
  // The first move's block index (after the 32-byte header, 3 hashes and 3
  // explicit parents) points past the chain.
  std::vector<std::byte> block = good;
  block[32 + 3 * 16 + 3 * 17] = std::byte{3};
  fails_with(block, "names block 3");
  std::vector<std::byte> form = good;
  form[32 + 3 * 16 + 3 * 17 + 4] = std::byte{5};
  fails_with(form, "unknown form");
}

}  // namespace
}  // namespace kvtier
