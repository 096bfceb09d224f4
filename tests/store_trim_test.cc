// Sliding-window trimming in the Store (host tier): what Save keeps, what
// Lookup serves, what Load writes, growth, and the space it saves.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "trim_support.h"

namespace kvtier::testing {
namespace {

std::unique_ptr<Store> OpenTrim(const Options& o) {
  auto store = Store::Open(o);
  REQUIRE(store.ok());
  return std::move(store).value();
}

TEST_CASE("a Gemma-style save keeps sliding layers only before checkpoints and the end") {
  const KvLayout layout = GemmaStyleLayout();
  auto trimmed = OpenTrim(TrimOptions(layout, /*checkpoint_blocks=*/4));
  KvLayout all_global = layout;
  all_global.layer_windows = {};
  auto untrimmed = OpenTrim(TrimOptions(all_global, 4));
  const auto chain = TrimChain(*trimmed, 20);
  SaveAll(*trimmed, chain);
  SaveAll(*untrimmed, TrimChain(*untrimmed, 20));

  // Whole: the two blocks before 4, 8, 12, 16 and 20; the other ten trimmed
  // to their one global layer (2 of 12 segments).
  const StoreStats t = trimmed->Stats();
  const StoreStats u = untrimmed->Stats();
  CHECK(t.save_trimmed_blocks == 10);
  CHECK(t.trim_bytes_saved == 10 * 10 * layout.SegmentBytes());
  CHECK(u.save_trimmed_blocks == 0);
  const uint64_t whole = StoredBytesOfLayout(layout);
  CHECK(t.tier(Tier::kHost).used_bytes < u.tier(Tier::kHost).used_bytes);
  // 10 whole frames + 10 one-page trimmed blocks against 20 whole frames.
  CHECK(t.tier(Tier::kHost).used_bytes <=
        10 * RoundUp64(whole) + 10 * RoundUp64(whole) / 4);
  CHECK(u.tier(Tier::kHost).used_bytes == 20 * RoundUp64(whole));
}

TEST_CASE("a trimmed chain hits at checkpoints and at its end, and only there") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 4));
  const auto chain = TrimChain(*store, 20);
  SaveAll(*store, chain);
  // Blocks 0-1 are not in the window before 4 (blocks 2-3): trimmed, so
  // prefixes of one to three blocks have no servable end.
  for (size_t k : {1, 2, 3}) CHECK(Hit(*store, chain, k) == 0);
  CHECK(Hit(*store, chain, 4) == 4);
  CHECK(Hit(*store, chain, 8) == 8);
  CHECK(Hit(*store, chain, 16) == 16);
  CHECK(Hit(*store, chain, 20) == 20);
  // A prefix that ends between checkpoints hits up to the last one.
  CHECK(Hit(*store, chain, 5) == 4);
  CHECK(Hit(*store, chain, 7) == 4);
  CHECK(Hit(*store, chain, 13) == 12);
  CHECK(Hit(*store, chain, 19) == 16);
  // A longer prompt through the saved chain hits at the saved end.
  const auto longer = TrimChain(*store, 27);
  CHECK(store->Lookup(longer).blocks == 20);
}

TEST_CASE("without checkpoints a trimmed chain hits only at its end") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 0));
  const auto chain = TrimChain(*store, 12);
  SaveAll(*store, chain);
  CHECK(Hit(*store, chain, 12) == 12);
  CHECK(Hit(*store, chain, 11) == 0);
  CHECK(Hit(*store, chain, 8) == 0);
  CHECK(store->Stats().save_trimmed_blocks == 10);
}

TEST_CASE("a load writes the served prefix's segments byte-exact and leaves the rest") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 4));
  const auto chain = TrimChain(*store, 20);
  SaveAll(*store, chain);
  CheckLoad(*store, chain, 20);
  CheckLoad(*store, chain, 8);
  CheckLoad(*store, chain, 4);
  CheckLoad(*store, chain, 12);
}

TEST_CASE("a Mistral-style trimmed block keeps no bytes, only its index entry") {
  const KvLayout layout = MistralStyleLayout();
  auto store = OpenTrim(TrimOptions(layout, 4, /*host_blocks=*/64));
  const auto chain = TrimChain(*store, 20);
  SaveAll(*store, chain);
  const StoreStats s = store->Stats();
  CHECK(s.save_trimmed_blocks == 10);
  CHECK(s.tier(Tier::kHost).blocks == 20);
  CHECK(s.tier(Tier::kHost).used_bytes == 10 * s.tier(Tier::kHost).slot_bytes);
  CHECK(s.tier(Tier::kHost).bytes_written == 10 * StoredBytesOfLayout(layout));
  CHECK(Hit(*store, chain, 20) == 20);
  CHECK(Hit(*store, chain, 6) == 4);
  CHECK(Hit(*store, chain, 18) == 16);
  CheckLoad(*store, chain, 20);
  CheckLoad(*store, chain, 12);
}

TEST_CASE("a Mistral-style store holds more chains in the same memory") {
  const KvLayout layout = MistralStyleLayout();
  KvLayout untrimmed_layout = layout;
  untrimmed_layout.layer_windows = {};
  // 40 whole blocks of room; ten chains of 16 blocks, checkpoint every 8.
  auto trimmed = OpenTrim(TrimOptions(layout, 8, 40));
  auto untrimmed = OpenTrim(TrimOptions(untrimmed_layout, 8, 40));
  size_t trimmed_hits = 0, untrimmed_hits = 0;
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    SaveAll(*trimmed, TrimChain(*trimmed, 16, seed));
    SaveAll(*untrimmed, TrimChain(*untrimmed, 16, seed));
  }
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    trimmed_hits += trimmed->Lookup(TrimChain(*trimmed, 16, seed)).blocks;
    untrimmed_hits += untrimmed->Lookup(TrimChain(*untrimmed, 16, seed)).blocks;
  }
  CHECK(trimmed_hits == 10 * 16);  // 4 whole blocks per chain: all ten fit
  CHECK(untrimmed_hits < trimmed_hits);
  CHECK(trimmed->Stats().tier(Tier::kHost).used_bytes <=
        trimmed->Stats().tier(Tier::kHost).capacity_bytes);
}

TEST_CASE("a save that ends a chain inside trimmed blocks makes them whole again") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 0));
  const auto a = TrimChain(*store, 20);
  SaveAll(*store, a);
  CHECK(Hit(*store, a, 12) == 0);
  // Another prompt shares a's first 12 blocks and ends there.
  const std::vector<BlockHash> b(a.begin(), a.begin() + 12);
  SaveAll(*store, b);
  CHECK(store->Stats().save_upgraded_blocks == 2);  // blocks 10 and 11
  CHECK(Hit(*store, b, 12) == 12);
  CHECK(Hit(*store, a, 20) == 20);  // a's tail kept its place and its parent
  CheckLoad(*store, b, 12);
  CheckLoad(*store, a, 20);
}

TEST_CASE("a save whose engine no longer holds the sliding layers keeps blocks trimmed") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 0));
  const KvLayout& l = store->layout();
  const auto a = TrimChain(*store, 20);
  SaveAll(*store, a);
  const std::vector<BlockHash> b(a.begin(), a.begin() + 12);
  EngineBuffers src(l, 12);
  src.FillFrom(b);
  std::vector<Segment> segs(src.all().begin(), src.all().end());
  for (size_t s = 0; s < segs.size(); ++s) {
    if (l.WindowOf(static_cast<uint32_t>(s % l.SegmentsPerBlock() / 2)) > 0) {
      segs[s].data = nullptr;
    }
  }
  REQUIRE(store->Save(b, segs).ok());
  CHECK(store->Stats().save_upgraded_blocks == 0);
  CHECK(Hit(*store, b, 12) == 0);
}

TEST_CASE("extending a saved chain serves the new end and keeps the old one") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 0));
  const auto longer = TrimChain(*store, 30);
  const std::span<const BlockHash> first(longer.data(), 20);
  SaveAll(*store, first);
  REQUIRE(store->Lookup(longer).blocks == 20);
  SaveAll(*store, longer, /*first=*/20);  // the engine computed blocks 20-29
  CHECK(store->Lookup(longer).blocks == 30);
  CHECK(Hit(*store, longer, 20) == 20);
  CHECK(Hit(*store, longer, 25) == 20);
  CheckLoad(*store, longer, 30);
}

TEST_CASE("null segments: full-attention ones are bad input in Save, any in Load") {
  auto store = OpenTrim(TrimOptions(GemmaStyleLayout(), 0));
  const KvLayout& l = store->layout();
  const auto chain = TrimChain(*store, 2);
  EngineBuffers buf(l, 2);
  buf.FillFrom(chain);
  std::vector<Segment> segs(buf.all().begin(), buf.all().end());
  segs[l.SegmentsPerBlock() + 10].data = nullptr;  // block 1, the global layer's K
  auto saved = store->Save(chain, segs);
  REQUIRE_FALSE(saved.ok());
  CHECK_THAT(saved.status().message(), Catch::Contains("save.src[22].data: null"));
  segs[l.SegmentsPerBlock() + 10] = buf.all()[l.SegmentsPerBlock() + 10];
  segs[0].data = nullptr;  // a sliding segment
  auto loaded = store->Load(chain, segs);
  REQUIRE_FALSE(loaded.ok());
  CHECK_THAT(loaded.status().message(), Catch::Contains("may be null only in Save"));
  CHECK(store->Stats().invalid_calls == 2);
  REQUIRE(store->Save(chain, buf.all()).ok());  // still usable
  CHECK(store->Lookup(chain).blocks == 2);
}

}  // namespace
}  // namespace kvtier::testing
