// The stored-block format (DESIGN invariant 1: a load returns exactly the
// bytes saved under that hash, or a miss). The TierBackend front and the
// MemoryTier fake's knobs are in tier_front_test.cc.
//
// The golden headers were NOT produced by this code: they were built byte by
// byte in Python from stored_block.h's table, with the checksums from a
// five-line C program over libxxhash (XXH3_64bits_withSeed; it reproduces
// the version-1 golden's payload checksum, which came from `xxhsum -H3`):
//
//   payload = bytes((i * 7 + 3) % 256 for i in range(1000))   # lo = 0
//   h56 = pack("<IHBBQQQQIIQ", 0x4254564B, 2, 0, 0, 1000, lo, hi,
//              xxh3(payload, seed=lo), 2, 1, 500)     # 2 segments of 500
//   header = h56 + pack("<Q", xxh3(h56))
//   uneven = xxh3(pack("<QQ", 300, 700)) | 1 << 63     # segments 300, 700
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "backends/testing/memory_tier.h"
#include "kvtier/kvtier.h"
#include "lib/stored_block.h"
#include "tests/stored_block_support.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using internal::BlockCodec;
using internal::kStoredHeaderBytes;
using internal::ReadStoredBlock;
using internal::StoredBlockBytes;
using internal::WriteStoredBlock;
using testing::MemoryTier;
using namespace stored_block_testing;  // NOLINT: the helpers are this file's

TEST_CASE("the header is laid out byte for byte as stored_block.h says",
          "[stored_block]") {
  const BlockHash h{0, 0x1122334455667788ull};
  Segments src({500, 500});
  std::vector<std::byte> payload(1000);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte((i * 7 + 3) % 256);
  std::memcpy(src.all()[0].data, payload.data(), 500);
  std::memcpy(src.all()[1].data, payload.data() + 500, 500);

  WrittenSlot slot(src, h);
  constexpr std::array<uint8_t, 64> kGolden = {
      0x4b, 0x56, 0x54, 0x42, 0x02, 0x00, 0x00, 0x00,  // magic, version, codec, dtype
      0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // payload bytes
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // hash.lo
      0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // hash.hi
      0x82, 0x9e, 0xbd, 0x97, 0xbd, 0x14, 0x4f, 0x6c,  // payload checksum
      0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // segments, group values
      0xf4, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // segment bytes
      0x57, 0xb8, 0x9a, 0xdc, 0xec, 0x0c, 0x99, 0x42,  // header checksum
  };
  for (size_t i = 0; i < kGolden.size(); ++i) {
    INFO("header byte " << i);
    CHECK(static_cast<uint8_t>(slot.bytes()[i]) == kGolden[i]);
  }
  CHECK(std::memcmp(slot.bytes().data() + kStoredHeaderBytes, payload.data(), 1000) == 0);
}

TEST_CASE("a block round-trips byte-exact whatever its segment shapes",
          "[stored_block]") {
  // Small blocks take the memcpy path; blocks of 64 KiB or more the
  // streaming-store path, with its 64-byte head/tail handling.
  const std::vector<size_t> shape =
      GENERATE(std::vector<size_t>{1}, std::vector<size_t>{3, 100, 61},
               std::vector<size_t>{0, 17, 0}, std::vector<size_t>(64, 4096),
               std::vector<size_t>(7, 65537), std::vector<size_t>{200000, 131072, 5},
               std::vector<size_t>(3, 65536 * 2 + 1));
  const size_t src_misalign = GENERATE(0, 1, 40);
  const size_t slot_misalign = GENERATE(0, 8);
  INFO("segments " << shape.size() << " x " << shape[0] << ", src +" << src_misalign
                   << ", slot +" << slot_misalign);

  Segments src(shape, src_misalign);
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA, slot_misalign);
  const std::vector<std::byte> want = src.Concat();
  REQUIRE(std::memcmp(slot.bytes().data() + kStoredHeaderBytes, want.data(),
                      want.size()) == 0);

  Segments dst(shape, (src_misalign + 3) % 64);
  dst.Fill(0xAB);
  REQUIRE(ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all()).ok());
  CHECK(dst.Concat() == want);
}

TEST_CASE("the payload checksum is XXH3-64 of the whole payload seeded with hash.lo",
          "[stored_block]") {
  // Hashing chunk by chunk while copying must equal one pass over the
  // payload, so any tier or tool can verify a slot without our chunk size.
  Segments src({100000, 70000, 3});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  const std::vector<std::byte> payload = src.Concat();
  CHECK(GetLe64(slot.bytes().data() + 32) ==
        XXH3_64bits_withSeed(payload.data(), payload.size(), kHashA.lo));
  CHECK(GetLe64(slot.bytes().data() + 56) ==
        XXH3_64bits_withSeed(slot.bytes().data(), 56, 0));
}

TEST_CASE("uneven segments are recorded as a tagged digest of their stored sizes",
          "[stored_block][geometry]") {
  Segments src({300, 700});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  CHECK(GetLe64(slot.bytes().data() + 40) == 2 + (uint64_t{1} << 32));  // 2, group 1
  CHECK(GetLe64(slot.bytes().data() + 48) == 0xd5c77bd2f10113bcull);
}

TEST_CASE("an 8-bit block records its dtype, group and stored segment size",
          "[stored_block][geometry]") {
  // int8 over fp16, groups of 8 values: 64 groups of 16 bytes per segment,
  // stored as 64 * (8 codes + 4 scale bytes) = 768 bytes.
  const BlockCodec int8(Codec::kInt8, DType::kFp16, 8);
  Segments src({1024, 1024, 1024});
  src.FillFrom(kHashA);
  Buffer slot(StoredBlockBytes(3 * 768));
  WriteStoredBlock(kHashA, int8, src.all(), slot.span());
  CHECK(static_cast<uint8_t>(slot.data()[7]) == static_cast<uint8_t>(DType::kFp16));
  CHECK(GetLe64(slot.data() + 40) == 3 + (uint64_t{8} << 32));
  CHECK(GetLe64(slot.data() + 48) == 768);
  CHECK(GetLe64(slot.data() + 8) == 3 * 768);
}

TEST_CASE("a slot may be re-read any number of times", "[stored_block]") {
  Segments src({4096, 4096, 4096, 4096});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  Segments dst({4096, 4096, 4096, 4096});
  for (int i = 0; i < 3; ++i) {
    dst.Fill(0);
    REQUIRE(ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all()).ok());
    CHECK(dst.Concat() == src.Concat());
  }
}

TEST_CASE("a block read under another segmentation of the same size is Corruption",
          "[stored_block][geometry]") {
  // An int8 block of 4 segments of 2 KiB (fp16, groups of 8) read as 2 of
  // 4 KiB, or 8 of 1 KiB: same payload bytes, but codes and scales
  // interleave differently, so decoding would be garbage under a good
  // checksum. Raw blocks are refused alike.
  const BlockCodec codec =
      GENERATE(BlockCodec(), BlockCodec(Codec::kInt8, DType::kFp16, 8),
               BlockCodec(Codec::kFp8, DType::kBf16, 8));
  const std::vector<size_t> other =
      GENERATE(std::vector<size_t>{4096, 4096}, std::vector<size_t>(8, 1024),
               std::vector<size_t>{2048, 2048, 1024, 3072},
               std::vector<size_t>{2048, 2048, 2048});  // a trimmed block's count
  INFO(internal::CodecName(codec.codec()) << ", " << other.size() << " segments");
  Segments src(std::vector<size_t>(4, 2048));
  src.FillFrom(kHashA);
  Buffer slot(StoredBlockBytes(internal::StoredPayloadBytes(codec, src.all())));
  WriteStoredBlock(kHashA, codec, src.all(), slot.span());

  Segments same(std::vector<size_t>(4, 2048));
  REQUIRE(ReadStoredBlock(kHashA, codec, slot.span(), same.all()).ok());
  Segments dst(other);
  dst.Fill(0x3C);
  const Status s = ReadStoredBlock(kHashA, codec, slot.span(), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  if (other.size() == 3) {
    CHECK_THAT(s.message(), Catch::Contains("payload size mismatch"));
  } else {
    CHECK_THAT(s.message(), Catch::Contains("segment geometry mismatch (slot holds 4 "
                                            "segments of "));
    CHECK_THAT(s.message(), !Catch::Contains("damaged"));
  }
  CHECK(AllBytesAre(dst, 0x3C));
}

TEST_CASE("an 8-bit block is refused under another group size or dtype",
          "[stored_block][geometry]") {
  // Written as int8 over fp16 in groups of 8 values. A reader of bf16 has
  // the same segment and payload sizes: only the recorded dtype tells.
  const BlockCodec written(Codec::kInt8, DType::kFp16, 8);
  Segments src({1536, 1536});
  src.FillFrom(kHashA);
  Buffer slot(StoredBlockBytes(internal::StoredPayloadBytes(written, src.all())));
  WriteStoredBlock(kHashA, written, src.all(), slot.span());
  Segments dst({1536, 1536});

  SECTION("another dtype of the same width") {
    const Status s = ReadStoredBlock(kHashA, BlockCodec(Codec::kInt8, DType::kBf16, 8),
                                     slot.span(), dst.all());
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(), Catch::Contains("segment geometry mismatch"));
    CHECK_THAT(s.message(), Catch::Contains("8-value groups of fp16"));
  }
  SECTION("another group size") {
    // 1536 B fp16 = 96 groups of 8 (96 * 12 = 1152 B stored) or 48 of 16
    // (48 * 20 = 960 B): the payload size differs first.
    const Status s = ReadStoredBlock(kHashA, BlockCodec(Codec::kInt8, DType::kFp16, 16),
                                     slot.span(), dst.all());
    CHECK(s.code() == StatusCode::kCorruption);
  }
}

// ---- what a read refuses -----------------------------------------------------

struct FieldCase {
  size_t offset;
  const char* names;
};

TEST_CASE("each corrupted header field reads as Corruption naming it, before any copy",
          "[stored_block][corruption]") {
  const FieldCase c =
      GENERATE(FieldCase{0, "bad magic"}, FieldCase{3, "bad magic"},
               FieldCase{4, "format version 3"}, FieldCase{6, "codec mismatch"},
               FieldCase{8, "payload size mismatch"},
               FieldCase{15, "payload size mismatch"}, FieldCase{16, "hash mismatch"},
               FieldCase{31, "hash mismatch"}, FieldCase{7, "segment geometry mismatch"},
               FieldCase{32, "header checksum mismatch"},
               FieldCase{39, "header checksum mismatch"},
               FieldCase{40, "segment geometry mismatch"},
               FieldCase{47, "segment geometry mismatch"},
               FieldCase{48, "segment geometry mismatch"},
               FieldCase{55, "segment geometry mismatch"},
               FieldCase{56, "header checksum mismatch"},
               FieldCase{63, "header checksum mismatch"});
  INFO("byte " << c.offset);
  Segments src({5000, 70000});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  slot.bytes()[c.offset] ^= std::byte{0x01};

  Segments dst({5000, 70000});
  dst.Fill(0xCD);
  const Status s = ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains(c.names));
  CHECK_THAT(s.message(), Catch::StartsWith("stored block: "));
  CHECK(AllBytesAre(dst, 0xCD));  // the header is checked before the payload moves
}

TEST_CASE("a field that fails under a broken header checksum says the header is damaged",
          "[stored_block][corruption]") {
  Segments src({256});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  slot.bytes()[20] ^= std::byte{0x80};  // inside hash.lo
  Segments dst({256});
  const Status s = ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all());
  CHECK_THAT(s.message(),
             Catch::Contains("hash mismatch") && Catch::Contains("header damaged"));
}

TEST_CASE("a corrupted payload byte reads as Corruption, not as data",
          "[stored_block][corruption]") {
  const std::vector<size_t> shape =
      GENERATE(std::vector<size_t>{777}, std::vector<size_t>(16, 16384));
  Segments src(shape);
  src.FillFrom(kHashA);
  const size_t total = src.total();
  const size_t at = GENERATE_COPY(size_t{0}, total / 2, total - 1);
  INFO("payload " << total << " bytes, corrupted at " << at);
  WrittenSlot slot(src, kHashA);
  slot.bytes()[kStoredHeaderBytes + at] ^= std::byte{0x04};

  Segments dst(shape);
  const Status s = ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("payload checksum mismatch"));
}

TEST_CASE("a slot holding another hash is a miss", "[stored_block][corruption]") {
  Segments src({4096, 4096});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  Segments dst({4096, 4096});
  dst.Fill(0x5A);
  const Status s = ReadStoredBlock(kHashB, BlockCodec(), slot.bytes(), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("hash mismatch (slot holds " + kHashA.ToHex() +
                                          ", wanted " + kHashB.ToHex() + ")"));
  CHECK_THAT(s.message(), !Catch::Contains("damaged"));  // intact, just another block
  CHECK(AllBytesAre(dst, 0x5A));
}

TEST_CASE("a block stored under another codec is never served", "[stored_block][codec]") {
  Segments src({1024});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  Segments dst({1024});

  SECTION("asked for int8, the slot holds raw") {
    const Status s = ReadStoredBlock(kHashA, BlockCodec(Codec::kInt8, DType::kFp16, 8),
                                     slot.bytes(), dst.all());
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(),
               Catch::Contains("codec mismatch (slot holds raw, wanted int8)"));
  }
  SECTION("asked for raw, an intact header says fp8") {
    slot.bytes()[6] = std::byte{static_cast<uint8_t>(Codec::kFp8)};
    Reseal(slot.bytes());  // as a writer of fp8 blocks would have sealed it
    const Status s = ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all());
    CHECK(s.code() == StatusCode::kCorruption);
    CHECK_THAT(s.message(),
               Catch::Contains("codec mismatch (slot holds fp8, wanted raw)"));
    CHECK_THAT(s.message(), !Catch::Contains("damaged"));
  }
}

TEST_CASE("destination sizes that differ from the stored payload are refused",
          "[stored_block]") {
  Segments src({4096, 4096});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  const std::vector<size_t> shape =
      GENERATE(std::vector<size_t>{4096, 4095}, std::vector<size_t>{4096, 4097},
               std::vector<size_t>{4096}, std::vector<size_t>{4096, 4096, 1});
  Segments dst(shape);
  dst.Fill(0x11);
  const Status s = ReadStoredBlock(kHashA, BlockCodec(), slot.bytes(), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(),
             Catch::Contains("payload size mismatch (slot holds 8192 bytes"));
  CHECK(AllBytesAre(dst, 0x11));
}

TEST_CASE("a header whose payload overruns the slot is refused", "[stored_block]") {
  Segments src({4096});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  Segments dst({4096});
  const Status s =
      ReadStoredBlock(kHashA, BlockCodec(), slot.bytes().first(2048), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("overruns the slot of 2048 bytes"));
  CHECK(ReadStoredBlock(kHashA, BlockCodec(), slot.bytes().first(10), dst.all()).code() ==
        StatusCode::kCorruption);
}

TEST_CASE("a never-written (zeroed) slot reads as Corruption", "[stored_block]") {
  Buffer zeros(StoredBlockBytes(512));
  std::memset(zeros.data(), 0, StoredBlockBytes(512));
  Segments dst({512});
  const Status s = ReadStoredBlock(kHashA, BlockCodec(), zeros.span(), dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("bad magic (slot holds 0x0"));
}

TEST_CASE("a version-1 block (kvtier 0.1) reads as Corruption, a miss",
          "[stored_block]") {
  // A v1 header as 0.1 wrote it: reserved bytes 7 and 48..63, its checksum
  // at 40 over bytes 0..39.
  Segments src({512});
  src.FillFrom(kHashA);
  WrittenSlot slot(src, kHashA);
  std::span<std::byte> b = slot.bytes();
  b[4] = std::byte{1};
  std::memset(b.data() + 40, 0, 24);
  const uint64_t sum = XXH3_64bits_withSeed(b.data(), 40, 0);
  for (int i = 0; i < 8; ++i) b[40 + i] = std::byte(sum >> (8 * i));
  Segments dst({512});
  dst.Fill(0x77);
  const Status s = ReadStoredBlock(kHashA, BlockCodec(), b, dst.all());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK_THAT(s.message(),
             Catch::Contains("format version 1, this build reads version 2"));
  CHECK_THAT(s.message(), !Catch::Contains("damaged"));
  CHECK(AllBytesAre(dst, 0x77));
}

// ---- the TierBackend front ----------------------------------------------------

}  // namespace
}  // namespace kvtier

namespace kvtier {
namespace {

using namespace stored_block_testing;  // NOLINT: the helpers are this file's

// A block whose payload was copied where the host cannot hash it (device
// to device into a GPU-tier slot): header first, checksum over a host copy
// later (lib/stored_block.h).
TEST_CASE("a header written before its payload is Corruption until the checksum is set",
          "[stored_block]") {
  Segments src({300, 700});
  src.FillFrom(kHashA);
  Buffer slot(StoredBlockBytes(src.total()));
  internal::WriteStoredHeader(kHashA, BlockCodec(), src.all(), slot.span());
  const std::vector<std::byte> payload = src.Concat();
  std::memcpy(slot.data() + kStoredHeaderBytes, payload.data(), payload.size());
  Segments dst({300, 700});
  const Status unsealed = ReadStoredBlock(kHashA, BlockCodec(), slot.span(), dst.all());
  CHECK(unsealed.code() == StatusCode::kCorruption);
  CHECK_THAT(unsealed.message(), Catch::Contains("payload checksum mismatch"));
  const std::optional<uint64_t> sum = internal::HashStoredPayload(slot.span());
  REQUIRE(sum.has_value());
  internal::SetStoredPayloadSum(slot.span(), *sum);
  // Byte for byte what WriteStoredBlock makes from the same segments.
  Buffer want_copy(StoredBlockBytes(src.total()));
  WriteStoredBlock(kHashA, BlockCodec(), src.all(), want_copy.span());
  CHECK(std::equal(slot.span().begin(), slot.span().end(), want_copy.span().begin()));
  REQUIRE(ReadStoredBlock(kHashA, BlockCodec(), slot.span(), dst.all()).ok());
  CHECK(dst.Concat() == payload);
  // A header that does not check out is neither hashed nor rewritten.
  slot.data()[20] ^= std::byte{1};
  CHECK_FALSE(internal::HashStoredPayload(slot.span()).has_value());
  const std::vector<std::byte> before(slot.span().begin(), slot.span().end());
  internal::SetStoredPayloadSum(slot.span(), 42);
  CHECK(std::equal(before.begin(), before.end(), slot.span().begin()));
}

}  // namespace
}  // namespace kvtier
