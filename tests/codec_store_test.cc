// The 8-bit codecs inside the stored-block format and the store: the exact
// stored bytes, a slot never decoded under the wrong codec, and a store with
// an int8/fp8 host tier serving blocks within the codec's bounds.
#include <cmath>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>
// GCC 12: false (maybe-)uninitialized warnings in its AVX-512 intrinsics under XXH3.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define XXH_INLINE_ALL
#include <xxhash.h>
#pragma GCC diagnostic pop

#include "backends/testing/memory_tier.h"
#include "kvtier/kvtier.h"
#include "lib/codec/block_codec.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"
#include "tests/codec_test_data.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using internal::BlockCodec;
using internal::ReadStoredBlock;
using internal::StoredBlockBytes;
using internal::WriteStoredBlock;
using testing::EngineBuffers;
using testing::MemoryTier;

constexpr BlockHash kHash{0, 0x1122334455667788ull};

std::vector<std::byte> Bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

std::vector<std::byte> Le32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return Bytes({int(u & 0xFF), int(u >> 8 & 0xFF), int(u >> 16 & 0xFF), int(u >> 24)});
}

uint64_t GetLe64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

// Two segments of two fp16 groups of 4 values each.
struct TinyBlock {
  TinyBlock() {
    const float v[2][8] = {{1.0f, -2.0f, 0.5f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
                           {3.0f, 1.5f, -0.75f, 0.25f, -1.0f, 1.0f, 0.0f, 0.125f}};
    for (int s = 0; s < 2; ++s) {
      testing::KvData d;
      d.dtype = DType::kFp16;
      d.head_dim = 4;
      testing::SetValues(&d, std::vector<float>(v[s], v[s] + 8));
      bytes[s] = d.bytes;
      segments.push_back(Segment{bytes[s].data(), bytes[s].size()});
    }
  }
  std::vector<unsigned char> bytes[2];
  std::vector<Segment> segments;
};

TEST_CASE("an int8 stored block holds each segment's codes then its float scales",
          "[codec][format]") {
  TinyBlock block;
  const BlockCodec codec(Codec::kInt8, DType::kFp16, 4);
  REQUIRE(internal::StoredPayloadBytes(codec, block.segments) == 2 * 2 * (4 + 4));
  std::vector<std::byte> slot(StoredBlockBytes(32) + 8, std::byte{0xEE});
  WriteStoredBlock(kHash, codec, block.segments, slot);

  CHECK(slot[6] == std::byte{1});         // header: codec int8
  CHECK(GetLe64(slot.data() + 8) == 32);  // payload bytes, after the codec
  // Hand-computed: group {1, -2, 0.5, 0}: absmax 2, x * 63.5 rounded to even;
  // group {0, 0, 0, 0}: scale 0; group {3, 1.5, -.75, .25}: x * 127/3;
  // group {-1, 1, 0, .125}: x * 127.
  std::vector<std::byte> want = Bytes({64, 0x81, 32, 0, 0, 0, 0, 0});
  for (auto s : {Le32(2.0f / 127), Le32(0.0f)})
    want.insert(want.end(), s.begin(), s.end());
  for (auto b : Bytes({127, 64, 0xE0, 11, 0x81, 127, 0, 16})) want.push_back(b);
  for (auto s : {Le32(3.0f / 127), Le32(1.0f / 127)})
    want.insert(want.end(), s.begin(), s.end());
  const std::vector<std::byte> payload(slot.begin() + 64, slot.begin() + 96);
  CHECK(payload == want);
  CHECK(slot[96] == std::byte{0xEE});  // nothing past the payload
  // The payload checksum covers the stored (encoded) bytes.
  CHECK(GetLe64(slot.data() + 32) == XXH3_64bits_withSeed(want.data(), want.size(), 0));

  testing::KvData back;
  std::vector<unsigned char> out0(16), out1(16);
  std::vector<Segment> dst{{out0.data(), 16}, {out1.data(), 16}};
  REQUIRE(ReadStoredBlock(kHash, codec, slot, dst).ok());
  const std::vector<float> y = testing::DecodeAll(DType::kFp16, out0.data(), 8);
  CHECK(y[0] == Approx(1.0f).epsilon(0.01));
  CHECK(y[1] == -2.0f);
  for (int i = 3; i < 8; ++i) CHECK(y[i] == 0.0f);
}

TEST_CASE("a slot is never decoded under a codec other than the one it names",
          "[codec][format]") {
  TinyBlock block;
  const BlockCodec int8(Codec::kInt8, DType::kFp16, 4), fp8(Codec::kFp8, DType::kFp16, 4);
  std::vector<std::byte> slot(StoredBlockBytes(64));
  std::vector<unsigned char> out(32, 0x5A);
  std::vector<Segment> dst{{out.data(), 16}, {out.data() + 16, 16}};
  auto untouched = [&] {
    for (unsigned char b : out)
      if (b != 0x5A) return false;
    return true;
  };

  SECTION("int8 slot, raw reader") {
    WriteStoredBlock(kHash, int8, block.segments, slot);
    const Status s = ReadStoredBlock(kHash, BlockCodec(), slot, dst);
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(),
               Catch::Contains("codec mismatch (slot holds int8, wanted raw)"));
  }
  SECTION("int8 slot, fp8 reader") {
    WriteStoredBlock(kHash, int8, block.segments, slot);
    const Status s = ReadStoredBlock(kHash, fp8, slot, dst);
    CHECK_THAT(s.message(),
               Catch::Contains("codec mismatch (slot holds int8, wanted fp8)"));
  }
  SECTION("raw slot, int8 reader") {
    WriteStoredBlock(kHash, BlockCodec(), block.segments, slot);
    const Status s = ReadStoredBlock(kHash, int8, slot, dst);
    CHECK_THAT(s.message(),
               Catch::Contains("codec mismatch (slot holds raw, wanted int8)"));
  }
  SECTION("a flipped codec byte fails the header checksum too") {
    WriteStoredBlock(kHash, int8, block.segments, slot);
    slot[6] = std::byte{2};
    const Status s = ReadStoredBlock(kHash, fp8, slot, dst);
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("header checksum"));
  }
  CHECK(untouched());
}

TEST_CASE("a damaged code or scale of an int8 slot is Corruption, not a wrong value",
          "[codec][format]") {
  TinyBlock block;
  const BlockCodec int8(Codec::kInt8, DType::kFp16, 4);
  for (size_t offset : {64u, 64u + 9u, 64u + 31u}) {  // a code, a scale, the last byte
    std::vector<std::byte> slot(StoredBlockBytes(32));
    WriteStoredBlock(kHash, int8, block.segments, slot);
    slot[offset] ^= std::byte{0x10};
    std::vector<unsigned char> out(32);
    std::vector<Segment> dst{{out.data(), 16}, {out.data() + 16, 16}};
    const Status s = ReadStoredBlock(kHash, int8, slot, dst);
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("payload checksum mismatch"));
  }
}

TEST_CASE("a tier refuses segments that are not whole codec groups", "[codec][tier]") {
  MemoryTier tier(2, 4096, Tier::kHost, BlockCodec(Codec::kInt8, DType::kFp16, 8));
  std::vector<unsigned char> buf(24);
  const Segment seg{buf.data(), 24};  // 1.5 groups of 16 bytes
  const Status s = tier.Write(0, kHash, {&seg, 1});
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("not whole int8 groups of 16 bytes"));
  CHECK(tier.write_calls() == 0);
}

// ---- through the store ----------------------------------------------------------

KvLayout CodecLayout(DType dtype) {
  KvLayout l;
  l.num_layers = 2;
  l.kv_heads = 4;
  l.head_dim = 128;
  l.dtype = dtype;
  l.block_tokens = 16;
  return l;
}

Options CodecOptions(DType dtype, Codec host_codec, size_t blocks) {
  Options o;
  o.layout = CodecLayout(dtype);
  o.model_id = "codec-model@1";
  o.host.codec = host_codec;
  o.host.lock_memory = false;
  o.host.capacity_bytes =
      blocks *
      (StoredBlockBytes(internal::StoredPayloadBytes(o.layout, host_codec)) + 63) / 64 *
      64;
  return o;
}

std::vector<uint32_t> Tokens(size_t n) {
  std::vector<uint32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = 1000 + static_cast<uint32_t>(i);
  return t;
}

// Fills every segment with KV-like values; returns them as floats.
std::vector<float> FillKv(const EngineBuffers& buffers, DType dtype, uint32_t seed) {
  std::vector<float> all;
  for (const Segment& seg : buffers.all()) {
    const size_t groups = seg.bytes / (128 * DTypeBytes(dtype));
    const testing::KvData d =
        testing::MakeKv(dtype, 128, groups, testing::Shape::kGaussian, seed++);
    std::memcpy(seg.data, d.bytes.data(), seg.bytes);
    all.insert(all.end(), d.values.begin(), d.values.end());
  }
  return all;
}

std::vector<float> ReadKv(const EngineBuffers& buffers, DType dtype) {
  std::vector<float> all;
  for (const Segment& seg : buffers.all()) {
    const std::vector<float> v =
        testing::DecodeAll(dtype, static_cast<const unsigned char*>(seg.data),
                           seg.bytes / DTypeBytes(dtype));
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST_CASE("a store with an 8-bit host tier loads blocks within the codec's bounds",
          "[codec][store]") {
  for (DType dtype : {DType::kFp16, DType::kBf16, DType::kFp32}) {
    for (Codec codec : {Codec::kInt8, Codec::kFp8}) {
      INFO("dtype " << DTypeName(dtype) << " codec " << internal::CodecName(codec));
      auto opened = Store::Open(CodecOptions(dtype, codec, 8));
      REQUIRE(opened.ok());
      Store& store = **opened;
      const auto chain = store.hasher().Chain(Tokens(4 * 16));  // 4 blocks
      EngineBuffers src(store.layout(), chain.size());
      const std::vector<float> want = FillKv(src, dtype, 5);
      REQUIRE(store.Save(chain, src.all())->stored == 4);

      EngineBuffers dst(store.layout(), chain.size());
      REQUIRE(store.Load(chain, dst.all())->blocks == 4);
      const double rms = testing::RelativeRms(want, ReadKv(dst, dtype));
      CHECK(rms <= (codec == Codec::kInt8 ? 0.01 : 0.05));
      CHECK(rms > 0.001);  // the tier really stored 8 bits

      const TierStats host = store.Stats().tier(Tier::kHost);
      const KvLayout& l = store.layout();
      CHECK(host.codec == codec);
      CHECK(host.logical_bytes_written == 4 * l.BlockBytes());
      CHECK(host.logical_bytes_read == 4 * l.BlockBytes());
      const size_t stored = StoredBlockBytes(l.SegmentsPerBlock() * 16 * 4 * (128 + 4));
      CHECK(host.bytes_written == 4 * stored);
      CHECK(host.bytes_read == 4 * stored);
      CHECK(host.slot_bytes == (stored + 63) / 64 * 64);
    }
  }
}

TEST_CASE("a block stored as int8 is a miss for a store opened raw", "[codec][store]") {
  // The codec is part of the namespace: the same tokens chain to other
  // hashes, so no index (in memory, or rebuilt from disk) can match them.
  auto int8 = std::move(Store::Open(CodecOptions(DType::kFp16, Codec::kInt8, 8))).value();
  auto raw = std::move(Store::Open(CodecOptions(DType::kFp16, Codec::kRaw, 8))).value();
  const auto int8_chain = int8->hasher().Chain(Tokens(32));
  const auto raw_chain = raw->hasher().Chain(Tokens(32));
  for (size_t i = 0; i < int8_chain.size(); ++i) CHECK(int8_chain[i] != raw_chain[i]);

  EngineBuffers src(int8->layout(), int8_chain.size());
  FillKv(src, DType::kFp16, 1);
  REQUIRE(int8->Save(int8_chain, src.all())->stored == 2);
  REQUIRE(raw->Save(raw_chain, src.all())->stored == 2);
  CHECK(raw->Lookup(int8_chain).blocks == 0);
  CHECK(int8->Lookup(raw_chain).blocks == 0);
  CHECK(int8->Lookup(int8_chain).blocks == 2);
}

TEST_CASE("a damaged int8 slot in the store is a counted miss", "[codec][store]") {
  Options o = CodecOptions(DType::kFp16, Codec::kInt8, 4);
  const BlockCodec codec = BlockCodec::For(Codec::kInt8, o.layout);
  auto owner = std::make_unique<MemoryTier>(
      4, StoredBlockBytes(internal::StoredPayloadBytes(o.layout, Codec::kInt8)),
      Tier::kHost, codec);
  MemoryTier* tier = owner.get();
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(owner);
  auto store = std::move(internal::OpenStoreWithTiers(o, std::move(backends))).value();
  const auto chain = store->hasher().Chain(Tokens(16));
  EngineBuffers src(store->layout(), 1);
  FillKv(src, DType::kFp16, 2);
  REQUIRE(store->Save(chain, src.all())->stored == 1);
  tier->CorruptSlot(0, 64 + 100);  // a code byte
  EngineBuffers dst(store->layout(), 1);
  CHECK(store->Load(chain, dst.all())->blocks == 0);
  CHECK(store->Stats().tier(Tier::kHost).checksum_errors == 1);
  CHECK(store->Lookup(chain).blocks == 0);  // dropped
}

TEST_CASE("a tier whose codec differs from the options is refused at open",
          "[codec][store]") {
  Options o = CodecOptions(DType::kFp16, Codec::kInt8, 4);
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::make_unique<MemoryTier>(
      4, StoredBlockBytes(o.layout.BlockBytes()));  // a raw tier
  const Status s = internal::OpenStoreWithTiers(o, std::move(backends)).status();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message(),
             Catch::Contains("the backend stores raw, the options ask for int8"));
}

}  // namespace
}  // namespace kvtier
