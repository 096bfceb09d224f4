// Shadow verification (Store::ShadowSampled / ShadowVerify, kvtier/shadow.h):
// a divergence between what a tier served and the engine's recomputation is
// counted on that tier, an equal recomputation is not, 8-bit tiers are held
// to their codec's bound, and bad options and calls are named.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kvtier/metrics.h"
#include "tests/codec_test_data.h"
#include "tests/nvme_support.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::EngineBuffers;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;

Options HostOptions(double rate, Codec codec = Codec::kRaw) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "shadow-model@1";
  o.host.capacity_bytes = 1 << 20;
  o.host.lock_memory = false;
  o.host.codec = codec;
  o.shadow.sample_rate = rate;
  return o;
}

std::unique_ptr<Store> Open(const Options& o) {
  auto opened = Store::Open(o);
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

// One block's segments out of `buffers`, as ShadowVerify takes them.
std::span<const Segment> Block(const EngineBuffers& buffers, size_t b, const Store& s) {
  return buffers.blocks(b, 1);
}

// Loads `chain` into a fresh buffer; returns the buffer.
EngineBuffers LoadAll(Store& s, std::span<const BlockHash> chain) {
  EngineBuffers dst(s.layout(), chain.size());
  auto r = s.Load(chain, dst.all());
  REQUIRE(r.ok());
  REQUIRE(r->blocks == chain.size());
  return dst;
}

TEST_CASE("an equal recompute of a sampled block is checked and not a divergence",
          "[shadow]") {
  auto s = Open(HostOptions(1.0));
  const auto chain = ChainOf(*s, 1, 3);
  SaveChain(*s, chain);
  LoadAll(*s, chain);
  CHECK(s->ShadowSampled(chain) == std::vector<size_t>{0, 1, 2});
  EngineBuffers recomputed(s->layout(), chain.size());
  recomputed.FillFrom(chain);  // the engine's prefill gives the same KV
  for (size_t b = 0; b < chain.size(); ++b) {
    auto r = s->ShadowVerify(chain[b], Block(recomputed, b, *s));
    REQUIRE(r.ok());
    CHECK_FALSE(r->diverged);
    CHECK(r->tier == Tier::kHost);
    CHECK(r->differing_bytes == 0);
    CHECK(r->relative_rms == 0);
  }
  const StoreStats st = s->Stats();
  CHECK(st.shadow_sampled == 3);
  CHECK(st.tier(Tier::kHost).shadow_checked == 3);
  CHECK(st.tier(Tier::kHost).shadow_diverged == 0);
  CHECK(s->ShadowSampled(chain).empty());  // each sample is verified once
  CHECK(s->ShadowVerify(chain[0], Block(recomputed, 0, *s)).status().code() ==
        StatusCode::kNotFound);
}

TEST_CASE(
    "a block saved from the wrong buffer is a divergence on the tier that served it",
    "[shadow]") {
  auto s = Open(HostOptions(1.0));
  const auto chain = ChainOf(*s, 1, 2);
  EngineBuffers wrong(s->layout(), chain.size());
  wrong.FillFrom(chain);
  static_cast<unsigned char*>(wrong.blocks(1, 1)[3].data)[17] ^= 0x40;  // one bit off
  REQUIRE(s->Save(chain, wrong.all()).ok());  // checksummed: it loads "verified"
  LoadAll(*s, chain);
  EngineBuffers recomputed(s->layout(), chain.size());
  recomputed.FillFrom(chain);
  auto good = s->ShadowVerify(chain[0], Block(recomputed, 0, *s));
  auto bad = s->ShadowVerify(chain[1], Block(recomputed, 1, *s));
  REQUIRE(good.ok());
  REQUIRE(bad.ok());
  CHECK_FALSE(good->diverged);
  CHECK(bad->diverged);
  CHECK(bad->tier == Tier::kHost);
  CHECK(bad->differing_bytes == 1);
  CHECK(bad->relative_rms > 0);
  const StoreStats st = s->Stats();
  CHECK(st.tier(Tier::kHost).shadow_checked == 2);
  CHECK(st.tier(Tier::kHost).shadow_diverged == 1);
  const std::string text = PrometheusText(st);
  CHECK(text.find("kvtier_tier_shadow_diverged_blocks_total{tier=\"host\"} 1") !=
        std::string::npos);
  CHECK(text.find("kvtier_tier_shadow_checked_blocks_total{tier=\"host\"} 2") !=
        std::string::npos);
}

TEST_CASE("divergences are counted on the NVMe tier when NVMe served the block",
          "[shadow][nvme]") {
  TempDir dir;
  Options o = NvmeOptions(dir.path(), 2, 64);
  o.shadow.sample_rate = 1.0;
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const auto a = ChainOf(*s.store, 1, 2);
  const auto b = ChainOf(*s.store, 2, 2);
  SaveChain(*s.store, a);
  s.store->Flush();
  SaveChain(*s.store, b);  // host holds 2 blocks: a's leave it, NVMe keeps them
  s.store->Flush();
  REQUIRE(s.store->Stats().tier(Tier::kNvme).blocks == 4);
  REQUIRE(s.store->Lookup(a).blocks_per_tier[static_cast<int>(Tier::kNvme)] == 2);
  LoadAll(*s.store, a);  // from NVMe (and promoted to host)
  EngineBuffers recomputed(s.store->layout(), a.size());
  recomputed.FillFrom(b);  // the engine recomputes other KV: a divergence
  auto r = s.store->ShadowVerify(a[0], Block(recomputed, 0, *s.store));
  REQUIRE(r.ok());
  CHECK(r->diverged);
  CHECK(r->tier == Tier::kNvme);
  recomputed.FillFrom(a);
  REQUIRE(s.store->ShadowVerify(a[1], Block(recomputed, 1, *s.store)).ok());
  LoadAll(*s.store, a);  // now from host, where the load promoted them
  auto again = s.store->ShadowVerify(a[0], Block(recomputed, 0, *s.store));
  REQUIRE(again.ok());
  CHECK(again->tier == Tier::kHost);
  CHECK_FALSE(again->diverged);
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).shadow_checked == 2);
  CHECK(st.tier(Tier::kNvme).shadow_diverged == 1);
  CHECK(st.tier(Tier::kHost).shadow_checked == 1);
  CHECK(st.tier(Tier::kHost).shadow_diverged == 0);
}

// A block of Gaussian fp16 values, `seed` choosing them.
std::vector<unsigned char> GaussianBlock(const KvLayout& layout, uint32_t seed) {
  const size_t values = layout.BlockBytes() / DTypeBytes(layout.dtype);
  return testing::MakeKv(layout.dtype, layout.head_dim, values / layout.head_dim,
                         testing::Shape::kGaussian, seed)
      .bytes;
}

std::vector<Segment> SegmentsOver(std::vector<unsigned char>& bytes, const KvLayout& l) {
  std::vector<Segment> segs;
  for (size_t i = 0; i < l.SegmentsPerBlock(); ++i) {
    segs.push_back(Segment{bytes.data() + i * l.SegmentBytes(), l.SegmentBytes()});
  }
  return segs;
}

TEST_CASE("an int8 tier is held to its codec's bound, not to exact bytes", "[shadow]") {
  Options o = HostOptions(1.0, Codec::kInt8);
  o.layout.head_dim = 64;
  o.layout.block_tokens = 16;
  auto s = Open(o);
  const auto chain = ChainOf(*s, 1, 2);
  std::vector<unsigned char> kv0 = GaussianBlock(o.layout, 1);
  std::vector<unsigned char> kv1 = GaussianBlock(o.layout, 2);
  std::vector<Segment> src = SegmentsOver(kv0, o.layout);
  const std::vector<Segment> second = SegmentsOver(kv1, o.layout);
  src.insert(src.end(), second.begin(), second.end());
  REQUIRE(s->Save(chain, src).ok());
  LoadAll(*s, chain);
  // Block 0 recomputed as saved: the int8 round trip differs in bytes but
  // is within 1.5% relative RMS.
  auto same = s->ShadowVerify(chain[0], SegmentsOver(kv0, o.layout));
  REQUIRE(same.ok());
  CHECK(same->codec == Codec::kInt8);
  CHECK(same->differing_bytes > 0);
  CHECK(same->relative_rms > 0.001);
  CHECK(same->relative_rms <= kShadowBoundInt8);
  CHECK_FALSE(same->diverged);
  // Block 1 compared with a different tensor: far outside the bound.
  auto other = s->ShadowVerify(chain[1], SegmentsOver(kv0, o.layout));
  REQUIRE(other.ok());
  CHECK(other->diverged);
  CHECK(other->relative_rms > 1.0);
  CHECK(other->bound == kShadowBoundInt8);
  const StoreStats st = s->Stats();
  CHECK(st.tier(Tier::kHost).shadow_checked == 2);
  CHECK(st.tier(Tier::kHost).shadow_diverged == 1);
}

TEST_CASE("with sampling off nothing is sampled or copied", "[shadow]") {
  auto s = Open(HostOptions(0.0));
  const auto chain = ChainOf(*s, 1, 3);
  SaveChain(*s, chain);
  LoadAll(*s, chain);
  CHECK(s->ShadowSampled(chain).empty());
  EngineBuffers recomputed(s->layout(), 1);
  CHECK(s->ShadowVerify(chain[0], recomputed.all()).status().code() ==
        StatusCode::kNotFound);
  CHECK(s->Stats().shadow_sampled == 0);
}

TEST_CASE("a share of served blocks is sampled", "[shadow]") {
  Options o = HostOptions(0.25);
  o.shadow.max_pending_blocks = 1000;
  auto s = Open(o);
  const auto chain = ChainOf(*s, 1, 40);
  SaveChain(*s, chain);
  EngineBuffers recomputed(s->layout(), chain.size());
  recomputed.FillFrom(chain);
  size_t sampled = 0;
  for (int round = 0; round < 20; ++round) {
    LoadAll(*s, chain);
    for (size_t i : s->ShadowSampled(chain)) {
      REQUIRE(s->ShadowVerify(chain[i], recomputed.blocks(i, 1)).ok());
      ++sampled;
    }
  }
  INFO("sampled " << sampled << " of 800");
  CHECK(sampled > 120);  // 200 expected; binomial sd ~12
  CHECK(sampled < 280);
  CHECK(s->Stats().tier(Tier::kHost).shadow_diverged == 0);
}

TEST_CASE("samples beyond max_pending_blocks age out oldest first", "[shadow]") {
  Options o = HostOptions(1.0);
  o.shadow.max_pending_blocks = 2;
  auto s = Open(o);
  const auto chain = ChainOf(*s, 1, 3);
  SaveChain(*s, chain);
  LoadAll(*s, chain);
  CHECK(s->ShadowSampled(chain) == std::vector<size_t>{1, 2});
  CHECK(s->Stats().shadow_expired == 1);
}

TEST_CASE("bad shadow options and calls are named", "[shadow]") {
  for (double bad : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    auto opened = Store::Open(HostOptions(bad));
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == StatusCode::kInvalidArgument);
    CHECK(opened.status().message().find("options.shadow.sample_rate") !=
          std::string::npos);
  }
  Options o = HostOptions(1.0);
  o.shadow.max_pending_blocks = 0;
  auto opened = Store::Open(o);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().message().find("options.shadow.max_pending_blocks") !=
        std::string::npos);

  auto s = Open(HostOptions(1.0));
  const auto chain = ChainOf(*s, 1, 1);
  SaveChain(*s, chain);
  LoadAll(*s, chain);
  EngineBuffers recomputed(s->layout(), 1);
  std::vector<Segment> segs(recomputed.all().begin(), recomputed.all().end());
  segs[2].bytes -= 2;
  auto r = s->ShadowVerify(chain[0], segs);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("shadow.recomputed[2].bytes") != std::string::npos);
  segs.pop_back();
  CHECK(s->ShadowVerify(chain[0], segs).status().message().find("shadow.recomputed:") !=
        std::string::npos);
  CHECK(s->ShadowSampled(chain) ==
        std::vector<size_t>{0});  // a bad call keeps the sample
  CHECK(s->Stats().invalid_calls == 2);
}

}  // namespace
}  // namespace kvtier
