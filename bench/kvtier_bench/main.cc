// kvtier-bench: storage throughput of a real Store (one tier or all) or of
// the naive RocksDB block store, measured like fio: GB/s, blocks/s and
// per-call latency percentiles, with hits per tier. Argument errors exit 2;
// a failing run exits 1. bench/compare.sh runs it beside fio and RocksDB.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/kvtier_bench/args.h"
#include "bench/kvtier_bench/gpu_transfer.h"
#include "bench/kvtier_bench/target.h"
#include "bench/kvtier_bench/workload.h"

namespace kvtier::bench {
namespace {

nlohmann::json LatencyJson(const Latency& l) {
  return {{"calls", l.calls},
          {"p50_us", l.p50_us},
          {"p99_us", l.p99_us},
          {"p999_us", l.p999_us},
          {"mean_us", l.mean_us}};
}

nlohmann::json ToJson(const Args& a, const BenchConfig& c, const RunResult& r) {
  const uint64_t blocks = r.saved_blocks + r.loaded_blocks;
  const Latency& main = c.op == Op::kSave     ? r.save
                        : c.op == Op::kLoad   ? r.load
                        : c.op == Op::kLookup ? r.lookup
                                              : r.all;
  return {{"tier", a.tier},
          {"op", a.op},
          {"codec", a.codec},
          {"block_bytes", c.block_bytes},
          {"capacity_bytes", c.capacity_bytes},
          {"qd", c.qd},
          {"threads", c.threads},
          {"inflight", c.inflight},
          {"save_threads", c.save_threads},
          {"batch", c.batch},
          {"read_pct", c.op == Op::kMixed  ? c.read_pct
                       : c.op == Op::kLoad ? 100
                                           : 0},
          {"seconds", r.seconds},
          {"filled_blocks", r.filled_blocks},
          {"gbps", double(blocks) * c.block_bytes / 1e9 / r.seconds},
          {"save_gbps", double(r.saved_blocks) * c.block_bytes / 1e9 / r.seconds},
          {"load_gbps", double(r.loaded_blocks) * c.block_bytes / 1e9 / r.seconds},
          {"ops_per_s", double(blocks) / r.seconds},  // blocks, as fio counts IOs
          {"calls_per_s", double(r.all.calls) / r.seconds},
          {"p50_us", main.p50_us},
          {"p99_us", main.p99_us},
          {"p999_us", main.p999_us},
          {"save", LatencyJson(r.save)},
          {"load", LatencyJson(r.load)},
          {"lookup", LatencyJson(r.lookup)},
          {"looked_up_blocks", r.looked_up_blocks},
          {"saved_blocks", r.saved_blocks},
          {"loaded_blocks", r.loaded_blocks},
          {"load_asked_blocks", r.load_asked_blocks},
          {"hits",
           {{"gpu", r.hits[0]},
            {"host", r.hits[1]},
            {"nvme", r.hits[2]},
            {"remote", r.hits[3]}}},
          {"copy_down_dropped", r.dropped},
          {"errors", r.errors},
          {"keyed_checksum", !c.checksum_key.empty() || !c.checksum_key_file.empty()},
          {"engine", r.describe}};
}

void PrintLatency(const char* what, const Latency& l) {
  if (l.calls == 0) return;
  std::printf("  %-5s %8zu calls  p50 %9.1f us  p99 %9.1f us  p99.9 %9.1f us\n", what,
              l.calls, l.p50_us, l.p99_us, l.p999_us);
}

void PrintTable(const nlohmann::json& j, const RunResult& r) {
  std::printf("%s\n", r.describe.c_str());
  std::printf("%s %s: %.3f GB/s (save %.3f, load %.3f), %.0f blocks/s over %.1f s\n",
              j["tier"].get<std::string>().c_str(), j["op"].get<std::string>().c_str(),
              j["gbps"].get<double>(), j["save_gbps"].get<double>(),
              j["load_gbps"].get<double>(), j["ops_per_s"].get<double>(), r.seconds);
  PrintLatency("save", r.save);
  PrintLatency("load", r.load);
  PrintLatency("lookup", r.lookup);
  std::printf(
      "  hits: host %llu nvme %llu remote %llu (of %llu asked); dropped %llu; errors "
      "%llu\n",
      static_cast<unsigned long long>(r.hits[1]),
      static_cast<unsigned long long>(r.hits[2]),
      static_cast<unsigned long long>(r.hits[3]),
      static_cast<unsigned long long>(r.load_asked_blocks),
      static_cast<unsigned long long>(r.dropped),
      static_cast<unsigned long long>(r.errors));
}

int Recover(const Args& a, const BenchConfig& c) {
  auto r = RunRecover(c);
  if (!r.ok()) {
    std::cerr << "kvtier-bench: " << r.status().ToString() << "\n";
    return 1;
  }
  std::printf("recover: %llu blocks, rebuild %.3f s, open %.3f s (medians of 3)\n",
              static_cast<unsigned long long>(r->recovered_blocks), r->rebuild_s,
              r->open_s);
  if (a.json) {
    std::cout << nlohmann::json{{"op", "recover"},
                                {"recovered_blocks", r->recovered_blocks},
                                {"rebuild_s", r->rebuild_s},
                                {"open_s", r->open_s}}
                     .dump()
              << std::endl;
  }
  return 0;
}

int Run(const Args& a, const BenchConfig& c) {
  if (c.op == Op::kRecover) return Recover(a, c);
  auto target = c.tier == TierChoice::kRocksDb    ? OpenRocksDbTarget(c)
                : c.tier == TierChoice::kNvmeTier ? OpenNvmeTierTarget(c)
                                                  : OpenStoreTarget(c);
  if (!target.ok()) {
    std::cerr << "kvtier-bench: open: " << target.status().ToString() << "\n";
    return 1;
  }
  const RunResult r = RunWorkload(c, **target);
  const nlohmann::json j = ToJson(a, c, r);
  PrintTable(j, r);
  if (a.json) std::cout << j.dump() << std::endl;
  return r.errors == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  Args a;
  BenchConfig c;
  if (auto rc = ParseBenchArgs(argc, argv, &a, &c)) return *rc;
  if (a.tier == "gpu") {
    GpuTransferConfig g;
    g.piece_bytes = a.block_bytes;
    if (a.capacity > 0) g.total_bytes = a.capacity;
    return RunGpuTransfers(g);
  }
  return Run(a, c);
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Main(argc, argv); }
