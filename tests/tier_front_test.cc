// The TierBackend front that checks and counts, and the MemoryTier fake's
// fault knobs.
#include <atomic>
#include <chrono>
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

using internal::kStoredHeaderBytes;
using internal::StoredBlockBytes;
using testing::MemoryTier;
using namespace stored_block_testing;  // NOLINT: shared helpers

TEST_CASE("an out-of-range slot is InvalidArgument and counts nothing", "[tier]") {
  MemoryTier tier(4, StoredBlockBytes(1024));
  Segments seg({1024});
  const Status w = tier.Write(4, kHashA, seg.all());
  const Status r = tier.Read(1000, kHashA, seg.all());
  CHECK(w.code() == StatusCode::kInvalidArgument);
  CHECK(r.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(w.message(), Catch::Contains("slot 4 out of range (4 pages"));
  CHECK(tier.write_calls() + tier.read_calls() == 0);
  CHECK(tier.io_errors() + tier.checksum_errors() + tier.bytes_written() == 0);
}

TEST_CASE("a device segment is NotSupported until the GPU tier exists", "[tier]") {
  MemoryTier tier(2, StoredBlockBytes(2048));
  Segments seg({1024, 1024});
  std::vector<Segment> segments(seg.all().begin(), seg.all().end());
  segments[1].kind = MemoryKind::kDevice;
  const Status w = tier.Write(0, kHashA, segments);
  const Status r = tier.Read(0, kHashA, segments);
  CHECK(w.code() == StatusCode::kNotSupported);
  CHECK(r.code() == StatusCode::kNotSupported);
  CHECK_THAT(w.message(),
             Catch::Contains("segment 1: segment memory kind device needs the GPU tier"));
  CHECK(tier.write_calls() == 0);
}

TEST_CASE("segments bigger than a slot, or null, are InvalidArgument", "[tier]") {
  MemoryTier tier(2, StoredBlockBytes(1024));
  Segments big({1000, 25});
  CHECK(tier.Write(0, kHashA, big.all()).code() == StatusCode::kInvalidArgument);
  CHECK(tier.Read(0, kHashA, big.all()).code() == StatusCode::kInvalidArgument);
  const Segment null_seg{nullptr, 16};
  CHECK(tier.Write(0, kHashA, std::span(&null_seg, 1)).code() ==
        StatusCode::kInvalidArgument);
  Segments fits({1000, 24});
  CHECK(tier.Write(0, kHashA, fits.all()).ok());
}

TEST_CASE("the front counts stored bytes on success and errors by kind", "[tier]") {
  MemoryTier tier(4, StoredBlockBytes(8192));
  Segments src({4096, 4096});
  src.FillFrom(kHashA);
  Segments dst({4096, 4096});

  REQUIRE(tier.Write(1, kHashA, src.all()).ok());
  CHECK(tier.bytes_written() == StoredBlockBytes(8192));
  REQUIRE(tier.Read(1, kHashA, dst.all()).ok());
  CHECK(tier.bytes_read() == StoredBlockBytes(8192));
  CHECK(dst.Concat() == src.Concat());

  CHECK(tier.Read(1, kHashB, dst.all()).code() == StatusCode::kCorruption);
  CHECK(tier.checksum_errors() == 1);
  tier.FailNextReads(1);
  CHECK(tier.Read(1, kHashA, dst.all()).code() == StatusCode::kIoError);
  tier.FailNextWrites(1, StatusCode::kResourceExhausted);
  CHECK(tier.Write(2, kHashA, src.all()).code() == StatusCode::kResourceExhausted);
  CHECK(tier.io_errors() == 2);
  CHECK(tier.checksum_errors() == 1);
  CHECK(tier.bytes_written() == StoredBlockBytes(8192));  // failures move nothing
  CHECK(tier.bytes_read() == StoredBlockBytes(8192));
}

// ---- MemoryTier's knobs --------------------------------------------------------

TEST_CASE("FailNextWrites fails exactly the next N writes and leaves the slot as it was",
          "[memory_tier][fault]") {
  MemoryTier tier(2, StoredBlockBytes(512));
  Segments a({512}), b({512}), dst({512});
  a.FillFrom(kHashA);
  b.FillFrom(kHashB);
  REQUIRE(tier.Write(0, kHashA, a.all()).ok());

  const StatusCode code = GENERATE(StatusCode::kIoError, StatusCode::kResourceExhausted);
  tier.FailNextWrites(2, code);
  CHECK(tier.Write(0, kHashB, b.all()).code() == code);
  CHECK(tier.Write(0, kHashB, b.all()).code() == code);
  REQUIRE(tier.Read(0, kHashA, dst.all()).ok());  // untouched by the failures
  CHECK(dst.Concat() == a.Concat());
  CHECK(tier.Write(0, kHashB, b.all()).ok());
  CHECK(tier.Read(0, kHashB, dst.all()).ok());
  CHECK(tier.io_errors() == 2);
}

TEST_CASE("FailNextReads fails exactly the next N reads with IoError, dst untouched",
          "[memory_tier][fault]") {
  MemoryTier tier(1, StoredBlockBytes(512));
  Segments src({512}), dst({512});
  src.FillFrom(kHashA);
  REQUIRE(tier.Write(0, kHashA, src.all()).ok());
  tier.FailNextReads(3);
  for (int i = 0; i < 3; ++i) {
    dst.Fill(0x77);
    CHECK(tier.Read(0, kHashA, dst.all()).code() == StatusCode::kIoError);
    CHECK(AllBytesAre(dst, 0x77));
  }
  CHECK(tier.Read(0, kHashA, dst.all()).ok());
  CHECK(tier.io_errors() == 3);
  CHECK(tier.read_calls() == 4);
}

TEST_CASE("CorruptSlot flips one byte: header or payload, then a read is Corruption",
          "[memory_tier][fault]") {
  MemoryTier tier(3, StoredBlockBytes(4096) + 40);  // odd slot size: unaligned slots
  Segments src({4096}), dst({4096});
  src.FillFrom(kHashA);
  REQUIRE(tier.Write(2, kHashA, src.all()).ok());
  const size_t offset =
      GENERATE(size_t{0}, size_t{17}, kStoredHeaderBytes, kStoredHeaderBytes + 4095);
  const std::vector<std::byte> before(tier.SlotBytes(2).begin(), tier.SlotBytes(2).end());
  tier.CorruptSlot(2, offset);
  size_t differing = 0;
  for (size_t i = 0; i < before.size(); ++i)
    differing += before[i] != tier.SlotBytes(2)[i];
  CHECK(differing == 1);
  CHECK(tier.Read(2, kHashA, dst.all()).code() == StatusCode::kCorruption);
  tier.CorruptSlot(2, offset);  // XOR again: repaired
  CHECK(tier.Read(2, kHashA, dst.all()).ok());
  CHECK(tier.checksum_errors() == 1);
}

TEST_CASE("SetDelay makes every op take at least that long", "[memory_tier][fault]") {
  MemoryTier tier(1, StoredBlockBytes(64));
  Segments src({64});
  tier.SetDelay(std::chrono::milliseconds(20));
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(tier.Write(0, kHashA, src.all()).ok());
  REQUIRE(tier.Read(0, kHashA, src.all()).ok());
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(40));
  tier.SetDelay(std::chrono::nanoseconds(0));
  const auto t1 = std::chrono::steady_clock::now();
  REQUIRE(tier.Write(0, kHashA, src.all()).ok());
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::milliseconds(20));
}

TEST_CASE("a write-failure countdown shared by threads fails exactly N writes",
          "[memory_tier][fault][concurrency]") {
  MemoryTier tier(4, StoredBlockBytes(256));
  tier.FailNextWrites(100);
  std::atomic<int> failed{0}, ok{0};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Segments src({256});
      src.FillFrom(kHashA);
      for (int i = 0; i < 200; ++i) {
        (tier.Write(t, kHashA, src.all()).ok() ? ok : failed)++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failed == 100);
  CHECK(ok == 700);
  CHECK(tier.io_errors() == 100);
}

}  // namespace
}  // namespace kvtier
