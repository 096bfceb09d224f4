// kvtier-bench: storage throughput of a real Store (one tier or all) or of
// the naive RocksDB block store, measured like fio: GB/s, blocks/s and
// per-call latency percentiles, with hits per tier. Argument errors exit 2;
// a failing run exits 1. bench/compare.sh runs it beside fio and RocksDB.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/common/cli.h"
#include "bench/kvtier_bench/gpu_transfer.h"
#include "bench/kvtier_bench/target.h"
#include "bench/kvtier_bench/workload.h"
#include "kvtier/config.h"
#include "lib/stored_block.h"

namespace kvtier::bench {
namespace {

struct Args {
  std::string tier = "nvme", op = "load", codec = "raw", dir, config;
  std::vector<std::string> redis;  // --tier remote
  bool redis_cluster = false;
  std::string checksum_key;
  RedisTlsFlags redis_tls;
  uint64_t block_bytes = 256 << 10, capacity = 0, blocks = 0;
  uint32_t qd = 16, threads = 1, batch = 16, read_pct = 50, inflight = 1,
           save_threads = 0;
  double seconds = 10;
  bool json = false, no_progress = false;
};

int ArgError(const std::string& message) {
  return bench::ArgError("kvtier-bench", message);
}

template <typename T>
bool Pick(const std::map<std::string, T>& names, const std::string& name, T& out) {
  const auto it = names.find(name);
  if (it == names.end()) return false;
  out = it->second;
  return true;
}

// A file can be created in the directory.
bool Writable(const std::string& dir) { return access(dir.c_str(), W_OK | X_OK) == 0; }

// Checks what CLI11 cannot, and fills the config.
int Check(const Args& a, BenchConfig& c) {
  if (!Pick<TierChoice>({{"host", TierChoice::kHost},
                         {"nvme", TierChoice::kNvme},
                         {"all", TierChoice::kAll},
                         {"rocksdb", TierChoice::kRocksDb},
                         {"nvme-tier", TierChoice::kNvmeTier},
                         {"remote", TierChoice::kRemote}},
                        a.tier, c.tier)) {
    return ArgError("--tier: unknown tier '" + a.tier +
                    "'; use host, nvme, all, rocksdb, nvme-tier or remote");
  }
  if (!Pick<Op>({{"save", Op::kSave},
                 {"load", Op::kLoad},
                 {"mixed", Op::kMixed},
                 {"lookup", Op::kLookup},
                 {"recover", Op::kRecover}},
                a.op, c.op)) {
    return ArgError("--op: unknown op '" + a.op +
                    "'; use save, load, mixed, lookup or recover");
  }
  if (a.inflight > 1 && c.op != Op::kLoad) {
    return ArgError("--inflight: only --op load keeps several loads in flight");
  }
  if (a.save_threads > 0 && c.op != Op::kLookup) {
    return ArgError("--save-threads: only --op lookup runs savers beside its threads");
  }
  if (c.tier == TierChoice::kRocksDb && (a.inflight > 1 || c.op == Op::kLookup)) {
    return ArgError("--tier rocksdb has no asynchronous loads or prefix lookups");
  }
  if (c.tier == TierChoice::kNvmeTier && c.op == Op::kLookup) {
    return ArgError("--tier nvme-tier has no prefix lookups (no Store): use nvme");
  }
  if (!Pick<Codec>({{"raw", Codec::kRaw}, {"int8", Codec::kInt8}, {"fp8", Codec::kFp8}},
                   a.codec, c.codec)) {
    return ArgError("--codec: unknown codec '" + a.codec + "'; use raw, int8 or fp8");
  }
  if (a.block_bytes == 0 || a.block_bytes % 2048 != 0) {
    return ArgError("--block-bytes: " + std::to_string(a.block_bytes) +
                    " must be a positive multiple of 2 KiB (32 layers x K,V x 16 tokens "
                    "x fp16)");
  }
  c.block_bytes = a.block_bytes;
  if ((a.capacity > 0) == (a.blocks > 0)) {
    return ArgError("give exactly one of --capacity and --blocks");
  }
  // --blocks counts whole slots of the tier asked for (NVMe: 4 KiB-aligned).
  const uint64_t slot =
      c.tier == TierChoice::kHost || c.tier == TierChoice::kRocksDb ? a.block_bytes
      : c.tier == TierChoice::kRemote
          ? internal::StoredBlockBytes(a.block_bytes)
          : (internal::StoredBlockBytes(a.block_bytes) + 4095) / 4096 * 4096;
  c.capacity_bytes = a.capacity > 0 ? a.capacity : a.blocks * slot;
  c.blocks = a.blocks;  // the store target opens as many bytes as N blocks need
  if (c.capacity_bytes < slot) {
    return ArgError("--capacity: " + std::to_string(c.capacity_bytes) +
                    " bytes is below one block (" + std::to_string(slot) + " bytes)");
  }
  c.batch = static_cast<uint32_t>(std::min<uint64_t>(a.batch, c.capacity_bytes / slot));
  if (c.tier == TierChoice::kRemote) {
    if (a.redis.empty()) return ArgError("--tier remote needs --redis host:port[,...]");
    c.redis = a.redis;
    c.redis_kind = a.redis_cluster ? RemoteKind::kRedisCluster : RemoteKind::kRedis;
    c.checksum_key = a.checksum_key;
    c.redis_tls = a.redis_tls;
  } else if (!a.redis.empty() || a.redis_cluster || !a.checksum_key.empty() ||
             a.redis_tls.Any()) {
    return ArgError(
        "--redis, --redis-cluster, --redis-tls-* and --checksum-key need --tier remote");
  }
  if (c.tier != TierChoice::kHost && c.tier != TierChoice::kRemote) {
    if (a.dir.empty()) return ArgError("--tier " + a.tier + " needs --dir");
    std::error_code ec;
    if (!std::filesystem::is_directory(a.dir, ec)) {
      return ArgError("--dir: '" + a.dir +
                      "' is not an existing directory; create it first");
    }
    if (!Writable(a.dir)) return ArgError("--dir: cannot write to '" + a.dir + "'");
  }
  if (c.op == Op::kRecover && c.tier != TierChoice::kNvme) {
    return ArgError("--op recover times the NVMe tier's reopen: use --tier nvme");
  }
  if (!a.config.empty()) {
    Options probe;  // the file's errors are argument errors (exit 2)
    if (Status s = ApplyConfigFile(a.config, &probe); !s.ok()) {
      return ArgError("--config: " + s.message());
    }
  }
  c.config_file = a.config;
  c.dir = a.dir;
  c.qd = a.qd;
  c.threads = a.threads;
  c.read_pct = a.read_pct;
  c.inflight = a.inflight;
  c.save_threads = a.save_threads;
  c.seconds = a.seconds;
  c.progress = !a.no_progress;
  return 0;
}

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
  CLI::App app{"kvtier-bench: Store throughput and latency per tier, measured like fio"};
  app.add_option("--tier", a.tier,
                 "host | nvme | all | rocksdb (the naive baseline) | nvme-tier (the NVMe "
                 "tier alone, Loads pipelined --inflight deep) | remote (Redis, --redis) | "
                 "gpu (H2D/D2H/D2D of --block-bytes pieces against one contiguous copy, "
                 "as JSON; exit 77 without a GPU)")
      ->capture_default_str();
  app.add_option("--dir", a.dir, "NVMe (or RocksDB) directory, on the disk measured");
  app.add_option("--redis", a.redis,
                 "--tier remote: the Redis server (host:port), or cluster nodes")
      ->delimiter(',');
  app.add_flag("--redis-cluster", a.redis_cluster, "--redis names Redis Cluster nodes");
  app.add_option("--checksum-key", a.checksum_key,
                 "--tier remote: the keyed checksum's secret (>= 16 bytes)");
  app.add_option(
      "--redis-tls-ca", a.redis_tls.ca_file,
      "--tier remote over TLS: the CA bundle (PEM) that signed the server's "
      "certificate (TLS is on when given; the certificate is always verified)");
  app.add_option("--redis-tls-cert", a.redis_tls.cert_file,
                 "--tier remote over TLS: client certificate (PEM), for mutual TLS");
  app.add_option("--redis-tls-key", a.redis_tls.key_file,
                 "--tier remote over TLS: the client certificate's key (PEM)");
  app.add_option("--redis-tls-server-name", a.redis_tls.server_name,
                 "--tier remote over TLS: the name the server's certificate must carry "
                 "(default: the host of --redis)");
  app.add_option("--block-bytes", a.block_bytes, "bytes per block (256KiB, 1MiB, ...)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--capacity", a.capacity, "bytes of the tier asked for (2GiB, ...)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--blocks", a.blocks, "or: capacity in blocks");
  app.add_option("--qd", a.qd, "NVMe queue depth")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--threads", a.threads, "engine threads calling the Store at once")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--batch", a.batch, "blocks per Save/Load call (one chain)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--op", a.op, "save | load | mixed | lookup | recover")
      ->capture_default_str();
  app.add_option("--inflight", a.inflight,
                 "load: loads each thread keeps in flight (BeginLoad; nvme-tier: batches "
                 "submitted to the tier), like fio's iodepth over chains")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--save-threads", a.save_threads,
                 "lookup: threads saving new chains while the lookups run")
      ->check(CLI::Range(0u, 64u))
      ->capture_default_str();
  app.add_option("--read-pct", a.read_pct, "mixed: percent of calls that are Loads")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str();
  app.add_option("--seconds", a.seconds, "timed part of the run")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--codec", a.codec, "raw | int8 | fp8, for the tier asked for")
      ->capture_default_str();
  app.add_option("--config", a.config,
                 "JSON file of Store options (include/kvtier/config.h), applied over "
                 "the options the other flags choose");
  app.add_flag("--json", a.json, "print one JSON object as the last line");
  app.add_flag("--no-progress", a.no_progress, "no progress line even on a terminal");
  if (auto rc = ParseArgs(app, "kvtier-bench", argc, argv)) return *rc;
  if (a.tier == "gpu") {
    GpuTransferConfig g;
    g.piece_bytes = a.block_bytes;
    if (a.capacity > 0) g.total_bytes = a.capacity;
    return RunGpuTransfers(g);
  }
  BenchConfig c;
  if (int rc = Check(a, c); rc != 0) return rc;
  return Run(a, c);
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Main(argc, argv); }
