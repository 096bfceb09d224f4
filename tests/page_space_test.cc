// PageSpace and TierGeometry: the two size classes of a tier and the slotless
// ids of all-sliding layouts.
#include <catch2/catch.hpp>

#include <set>

#include "lib/index/page_space.h"
#include "lib/tier_geometry.h"

namespace kvtier::internal {
namespace {

TEST_CASE("a geometry cuts frames for whole blocks into pages for trimmed ones") {
  // Gemma-style: a trimmed block is about a sixth of a whole one.
  const TierGeometry g = TierGeometry::For(6 * 1000 + 64, 1000 + 64, 64, 100'000);
  CHECK(g.page_bytes == 1088);
  CHECK(g.pages_per_frame == 6);
  CHECK(g.frame_bytes() >= g.whole_bytes);
  CHECK(g.frames == 100'000 / g.frame_bytes());
  CHECK(g.slotless == 0);
  CHECK(g.UnitsOf(BlockForm::kWhole) == 6);
  CHECK(g.UnitsOf(BlockForm::kTrimmed) == 1);
  CHECK(g.RoomAt(6) == g.frame_bytes());
  CHECK(g.RoomAt(7) == 5 * g.page_bytes);
  // No sliding layers: one page per frame, a slot per block as always.
  const TierGeometry u = TierGeometry::For(4160, 4160, 4096, 81920);
  CHECK(u.pages_per_frame == 1);
  CHECK(u.page_bytes == 8192);
  CHECK(u.frames == 10);
  // All sliding: trimmed blocks are slotless, 16 ids per page.
  const TierGeometry z = TierGeometry::For(4160, 0, 64, 41600);
  CHECK(z.pages_per_frame == 1);
  CHECK(z.UnitsOf(BlockForm::kTrimmed) == 0);
  CHECK(z.slotless == 16 * z.pages());
  CHECK(z.IsSlotless(z.pages()));
  CHECK(z.RoomAt(z.pages()) == 0);
  // A tiny trimmed block does not make more than 64 pages per frame.
  const TierGeometry tiny = TierGeometry::For(100'000, 100, 64, 1 << 20);
  CHECK(tiny.pages_per_frame <= kMaxPagesPerFrame);
  CHECK(tiny.frame_bytes() >= tiny.whole_bytes);
}

TEST_CASE("trimmed blocks share a split frame and a whole block needs a free one") {
  PageSpace space(TierGeometry::For(4 * 100, 100, 1, 3 * 400));  // 3 frames of 4 pages
  REQUIRE(space.geometry().pages_per_frame == 4);
  std::set<uint32_t> frames;
  std::vector<uint32_t> trimmed;
  for (int i = 0; i < 5; ++i) {
    const auto slot = space.Allocate(BlockForm::kTrimmed);
    REQUIRE(slot);
    trimmed.push_back(*slot);
    frames.insert(*slot / 4);
  }
  CHECK(frames.size() == 2);  // four in one frame, the fifth opens a second
  const auto whole = space.Allocate(BlockForm::kWhole);
  REQUIRE(whole);
  CHECK(*whole % 4 == 0);
  CHECK_FALSE(space.CanPlace(BlockForm::kWhole));
  CHECK(space.CanPlace(BlockForm::kTrimmed));  // three pages left in the split frame
  // Freeing one trimmed page of a full frame does not free a frame...
  space.Free(trimmed[0], BlockForm::kTrimmed);
  CHECK_FALSE(space.CanPlace(BlockForm::kWhole));
  // ...freeing all of them does.
  for (size_t i = 1; i < 4; ++i) space.Free(trimmed[i], BlockForm::kTrimmed);
  CHECK(space.CanPlace(BlockForm::kWhole));
  space.Free(*whole, BlockForm::kWhole);
  space.Free(trimmed[4], BlockForm::kTrimmed);
  CHECK(space.free_frames() == 3);
}

TEST_CASE("recovery claims slots and refuses overlapping ones") {
  PageSpace space(TierGeometry::For(4 * 100, 100, 1, 3 * 400));
  CHECK(space.Claim(0, BlockForm::kWhole));
  CHECK_FALSE(space.Claim(1, BlockForm::kTrimmed));  // inside the whole frame 0
  CHECK_FALSE(space.Claim(0, BlockForm::kWhole));    // twice
  CHECK_FALSE(space.Claim(5, BlockForm::kWhole));    // not a frame's first page
  CHECK(space.Claim(5, BlockForm::kTrimmed));
  CHECK_FALSE(space.Claim(4, BlockForm::kWhole));  // frame 1 is split
  CHECK_FALSE(space.Claim(5, BlockForm::kTrimmed));
  CHECK(space.Claim(6, BlockForm::kTrimmed));
  CHECK(space.free_frames() == 1);
  // The claimed frame's free pages are used before the free frame.
  const auto next = space.Allocate(BlockForm::kTrimmed);
  REQUIRE(next);
  CHECK(*next / 4 == 1);
}

TEST_CASE("slotless ids are bounded and reused") {
  PageSpace space(TierGeometry::For(1000, 0, 1, 2000));  // 2 pages, 32 slotless ids
  std::vector<uint32_t> ids;
  while (space.CanPlace(BlockForm::kTrimmed)) {
    const auto id = space.Allocate(BlockForm::kTrimmed);
    REQUIRE(id);
    CHECK(space.geometry().IsSlotless(*id));
    ids.push_back(*id);
  }
  CHECK(ids.size() == 32);
  CHECK(space.CanPlace(BlockForm::kWhole));  // slotless ids take no pages
  space.Free(ids[3], BlockForm::kTrimmed);
  const auto again = space.Allocate(BlockForm::kTrimmed);
  REQUIRE(again);
  CHECK(*again == ids[3]);
  CHECK(space.Claim(ids[3], BlockForm::kTrimmed) == false);
}

}  // namespace
}  // namespace kvtier::internal
