// The copy seam: the piece math the CUDA engine and its kernel share
// (copy_pieces.h), the fake engine that stands in for a GPU (asynchronous,
// ordered, events, delays, failures), and what the real engine says on a
// machine without a device.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <iostream>
#include <numeric>
#include <thread>
#include <vector>

#include "backends/gpu/copy_engine.h"
#include "backends/gpu/copy_pieces.h"
#include "backends/testing/fake_copy_engine.h"

namespace kvtier {
namespace {

using internal::CopyDirection;
using internal::CopyPiece;
using testing::FakeCopyEngine;

std::vector<unsigned char> Pattern(size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(i * 31 + seed);
  return v;
}

TEST_CASE("pieces that continue each other merge into one run, others stay apart",
          "[device][copy]") {
  std::vector<unsigned char> src(100), dst(100);
  CopyPiece pieces[] = {
      {src.data(), dst.data(), 10},            // run 1
      {src.data() + 10, dst.data() + 10, 20},  // continues run 1
      {src.data() + 40, dst.data() + 30, 5},   // src jumps: run 2
      {src.data() + 45, dst.data() + 35, 0},   // empty: dropped
      {src.data() + 45, dst.data() + 50, 5},   // dst jumps: run 3
  };
  CopyPiece runs[5];
  REQUIRE(internal::CoalesceRuns(pieces, 5, runs) == 3);
  CHECK(runs[0].bytes == 30);
  CHECK(runs[1].src == src.data() + 40);
  CHECK(runs[2].dst == dst.data() + 50);
}

TEST_CASE("many small pieces go through the gather kernel, large ones by DMA",
          "[device][copy]") {
  std::vector<CopyPiece> small(internal::kGatherMinPieces,
                               CopyPiece{nullptr, nullptr, 16 << 10});
  CHECK(internal::ChooseCopyMethod(small.data(), small.size()) ==
        internal::CopyMethod::kGather);
  std::vector<CopyPiece> large(64, CopyPiece{nullptr, nullptr, 1 << 20});
  CHECK(internal::ChooseCopyMethod(large.data(), large.size()) ==
        internal::CopyMethod::kDma);
  // Too few pieces for a launch.
  CHECK(internal::ChooseCopyMethod(small.data(), 2) == internal::CopyMethod::kDma);
  CHECK(internal::GatherWarps(1000) ==
        internal::kGatherMaxBlocks * internal::kGatherWarpsPerBlock);
}

TEST_CASE("the gather kernel's warps and lanes copy every byte exactly once",
          "[device][copy]") {
  // Aligned and unaligned pieces, odd sizes; more pieces than warps.
  const size_t n = 100;
  std::vector<unsigned char> src = Pattern(n * 97 + 64, 7), dst(src.size(), 0);
  std::vector<CopyPiece> pieces;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t bytes = (i % 3 == 0) ? 64 : 33 + i % 50;
    pieces.push_back(CopyPiece{src.data() + at, dst.data() + at, bytes});
    at += bytes + (i % 2);  // gaps stay untouched
  }
  const uint32_t warps = internal::GatherWarps(pieces.size());
  for (uint32_t w = 0; w < warps; ++w)
    for (uint32_t lane = 0; lane < internal::kWarpLanes; ++lane)
      internal::CopyPiecesOfWarp(pieces.data(), pieces.size(), w, warps, lane);
  std::vector<unsigned char> want(src.size(), 0);
  for (const CopyPiece& p : pieces) {
    const size_t off = static_cast<const unsigned char*>(p.src) - src.data();
    std::memcpy(want.data() + off, src.data() + off, p.bytes);
  }
  CHECK(dst == want);
}

TEST_CASE("a fake stream copies asynchronously, in order, and events complete in order",
          "[device][copy]") {
  FakeCopyEngine engine;
  auto stream = std::move(engine.NewStream()).value();
  auto device = std::move(engine.AllocateDevice(4096)).value();
  std::vector<unsigned char> a = Pattern(4096, 1), b = Pattern(4096, 2), out(4096);
  engine.Pause();
  const CopyPiece first{a.data(), device.data(), 4096};
  REQUIRE(stream->Enqueue(CopyDirection::kHostToDevice, &first, 1).ok());
  const internal::CopyEvent e1 = stream->Record().value();
  const CopyPiece second{b.data(), device.data(), 4096};  // overwrites: order matters
  REQUIRE(stream->Enqueue(CopyDirection::kHostToDevice, &second, 1).ok());
  const internal::CopyEvent e2 = stream->Record().value();
  const CopyPiece back{device.data(), out.data(), 4096};
  REQUIRE(stream->Enqueue(CopyDirection::kDeviceToHost, &back, 1).ok());
  const internal::CopyEvent e3 = stream->Record().value();
  // Enqueue returned with nothing copied: the stream is its own thread.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(stream->Query(e1));
  engine.Allow(2);  // the first copy and its event
  CHECK(stream->Wait(e1).ok());
  CHECK_FALSE(stream->Query(e2));
  engine.Resume();
  CHECK(stream->Wait(e3).ok());
  CHECK(stream->Query(e2));
  CHECK(out == b);
  CHECK(engine.bytes(CopyDirection::kHostToDevice) == 8192);
}

TEST_CASE("a failed copy breaks its stream from that point, not before",
          "[device][copy]") {
  FakeCopyEngine engine;
  auto stream = std::move(engine.NewStream()).value();
  auto device = std::move(engine.AllocateDevice(1024)).value();
  std::vector<unsigned char> a = Pattern(1024, 3);
  const CopyPiece piece{a.data(), device.data(), 1024};
  engine.set_delay(std::chrono::microseconds(2000));
  engine.FailPiece(2);
  REQUIRE(stream->Enqueue(CopyDirection::kHostToDevice, &piece, 1).ok());
  const internal::CopyEvent good = stream->Record().value();
  REQUIRE(stream->Enqueue(CopyDirection::kHostToDevice, &piece, 1).ok());
  const internal::CopyEvent bad = stream->Record().value();
  REQUIRE(stream->Enqueue(CopyDirection::kHostToDevice, &piece, 1).ok());
  const internal::CopyEvent later = stream->Record().value();
  CHECK(stream->Wait(good).ok());
  const Status s = stream->Wait(bad);
  CHECK(s.code() == StatusCode::kIoError);
  CHECK(stream->Wait(later).code() == StatusCode::kIoError);
  CHECK_FALSE(stream->Enqueue(CopyDirection::kHostToDevice, &piece, 1).ok());
  // Another stream is not affected.
  auto other = std::move(engine.NewStream()).value();
  REQUIRE(other->Enqueue(CopyDirection::kHostToDevice, &piece, 1).ok());
  CHECK(other->Wait(other->Record().value()).ok());
}

TEST_CASE("the fake refuses a copy whose pointers are in the wrong memory",
          "[device][copy]") {
  FakeCopyEngine engine;
  auto stream = std::move(engine.NewStream()).value();
  auto device = std::move(engine.AllocateDevice(256)).value();
  std::vector<unsigned char> host(256);
  // Host memory passed as the device side of an H2D copy: a bug above the seam.
  const CopyPiece wrong{host.data(), host.data() + 128, 64};
  const Status s = stream->Enqueue(CopyDirection::kHostToDevice, &wrong, 1);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("destination in host memory") != std::string::npos);
  const CopyPiece d2d{device.data(), device.data() + 128, 64};
  CHECK(stream->Enqueue(CopyDirection::kDeviceToDevice, &d2d, 1).ok());
  // The copy completes before `device` is freed (the fake's free does not
  // wait for streams as cudaFree does: ASAN caught the copy writing freed
  // memory here).
  CHECK(stream->Wait(stream->Record().value()).ok());
}

TEST_CASE("without a device the CUDA engine says NotSupported with the runtime's reason",
          "[device][copy]") {
  Result<std::unique_ptr<internal::CopyEngine>> e = internal::OpenCudaCopyEngine(0);
  if (e.ok()) {
    std::cout << "kvtier-skip: this machine has a CUDA device: " << (*e)->Describe()
              << std::endl;
    return;
  }
  CHECK(e.status().code() == StatusCode::kNotSupported);
  INFO(e.status().message());
  // The reason, not a bare "no": the runtime's words (or the build's).
  CHECK(e.status().message().size() > 20);
#if defined(KVTIER_TEST_HAS_CUDA_MODULE)
  CHECK(e.status().message().find("CUDA runtime") != std::string::npos);
#endif
}

}  // namespace
}  // namespace kvtier
