// kvtier-bench --tier gpu (see gpu_transfer.h).
#include "bench/kvtier_bench/gpu_transfer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/gpu/copy_engine.h"

namespace kvtier::bench {
namespace {

using internal::CopyDirection;
using internal::CopyMethod;
using internal::CopyPiece;

// Median seconds of `repeats` runs of enqueue + wait.
Result<double> Time(internal::CopyStream& stream, CopyMethod method, CopyDirection d,
                    const std::vector<CopyPiece>& pieces, int repeats) {
  std::vector<double> secs;
  for (int r = 0; r <= repeats; ++r) {  // run 0 warms up
    const auto start = std::chrono::steady_clock::now();
    if (Status s = stream.EnqueueUsing(method, d, pieces.data(), pieces.size()); !s.ok()) {
      return s;
    }
    Result<internal::CopyEvent> e = stream.Record();
    if (!e.ok()) return e.status();
    if (Status s = stream.Wait(*e); !s.ok()) return s;
    const std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
    if (r > 0) secs.push_back(t.count());
  }
  std::sort(secs.begin(), secs.end());
  return secs[secs.size() / 2];
}

}  // namespace

int RunGpuTransfers(const GpuTransferConfig& c) {
  auto engine = internal::OpenCudaCopyEngine(c.device);
  if (!engine.ok()) {
    std::cerr << "kvtier-bench: --tier gpu: no usable GPU: " << engine.status().message()
              << "\n";
    return 77;
  }
  const size_t piece = c.piece_bytes;
  const size_t n = std::max<size_t>(1, c.total_bytes / piece);
  const size_t total = n * piece;
  auto host = (*engine)->AllocatePinned(total);
  auto dev = (*engine)->AllocateDevice(total);
  auto dev2 = (*engine)->AllocateDevice(total);
  auto stream = (*engine)->NewStream();
  for (const Status& s : {host.status(), dev.status(), dev2.status(), stream.status()}) {
    if (!s.ok()) {
      std::cerr << "kvtier-bench: --tier gpu: " << s.ToString() << "\n";
      return 1;
    }
  }
  // Host side shuffled: no two pieces continue each other (no merging).
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
  const auto pieces = [&](std::byte* from, bool from_shuffled, std::byte* to,
                          bool to_shuffled) {
    std::vector<CopyPiece> v;
    for (size_t i = 0; i < n; ++i) {
      v.push_back(CopyPiece{from + (from_shuffled ? order[i] : i) * piece,
                            to + (to_shuffled ? order[i] : i) * piece, piece});
    }
    return v;
  };
  struct Case {
    const char* name;
    CopyDirection d;
    std::byte* src;
    std::byte* dst;
  };
  const Case cases[] = {{"h2d", CopyDirection::kHostToDevice, host->data(), dev->data()},
                        {"d2h", CopyDirection::kDeviceToHost, dev->data(), host->data()},
                        {"d2d", CopyDirection::kDeviceToDevice, dev->data(), dev2->data()}};
  nlohmann::json out = {{"device", (*engine)->Describe()},
                        {"piece_bytes", piece},
                        {"pieces", n},
                        {"total_bytes", total}};
  for (const Case& k : cases) {
    const std::vector<CopyPiece> one = {CopyPiece{k.src, k.dst, total}};
    const std::vector<CopyPiece> many = pieces(k.src, true, k.dst, false);
    nlohmann::json j;
    Result<double> contiguous = Time(**stream, CopyMethod::kDma, k.d, one, c.repeats);
    Result<double> dma = Time(**stream, CopyMethod::kDma, k.d, many, c.repeats);
    Result<double> gather = Time(**stream, CopyMethod::kGather, k.d, many, c.repeats);
    for (const auto* r : {&contiguous, &dma, &gather}) {
      if (!r->ok()) {
        std::cerr << "kvtier-bench: --tier gpu: " << r->status().ToString() << "\n";
        return 1;
      }
    }
    const double gb = static_cast<double>(total) / 1e9;
    j["contiguous_gbps"] = gb / *contiguous;
    j["dma_gbps"] = gb / *dma;
    j["gather_gbps"] = gb / *gather;
    j["dma_ratio"] = *contiguous / *dma;
    j["gather_ratio"] = *contiguous / *gather;
    j["chosen"] = internal::ChooseCopyMethod(many.data(), many.size()) == CopyMethod::kGather
                      ? "gather"
                      : "dma";
    out[k.name] = j;
  }
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace kvtier::bench
