// kvtier-bench's command line (args.h).
#include "bench/kvtier_bench/args.h"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <map>

#include "bench/common/cli.h"
#include "kvtier/config.h"
#include "lib/stored_block.h"

namespace kvtier::bench {
namespace {

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
    c.redis_tls = a.redis_tls;
  } else if (!a.redis.empty() || a.redis_cluster || a.redis_tls.Any()) {
    return ArgError("--redis, --redis-cluster and --redis-tls-* need --tier remote");
  }
  const bool nvme = c.tier == TierChoice::kNvme || c.tier == TierChoice::kAll ||
                    c.tier == TierChoice::kNvmeTier;
  if (!a.checksum_key.empty() && !nvme && c.tier != TierChoice::kRemote) {
    return ArgError("--checksum-key needs --tier nvme, all, nvme-tier or remote");
  }
  if (!a.checksum_key_file.empty() && !nvme) {
    return ArgError("--checksum-key-file needs --tier nvme, all or nvme-tier");
  }
  if (!a.checksum_key.empty() && !a.checksum_key_file.empty()) {
    return ArgError("give at most one of --checksum-key and --checksum-key-file");
  }
  c.checksum_key = a.checksum_key;
  c.checksum_key_file = a.checksum_key_file;
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

}  // namespace

std::optional<int> ParseBenchArgs(int argc, const char* const* argv, Args* args,
                                  BenchConfig* config) {
  Args& a = *args;
  CLI::App app{"kvtier-bench: Store throughput and latency per tier, measured like fio"};
  app.add_option(
         "--tier", a.tier,
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
                 "--tier remote, nvme, all or nvme-tier: the keyed checksum's secret "
                 "(>= 16 bytes)");
  app.add_option("--checksum-key-file", a.checksum_key_file,
                 "--tier nvme, all or nvme-tier: the keyed checksum's secret file "
                 "(created, 0600, if missing)");
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
  if (a.tier == "gpu") return std::nullopt;
  if (int rc = Check(a, *config); rc != 0) return rc;
  return std::nullopt;
}

}  // namespace kvtier::bench
