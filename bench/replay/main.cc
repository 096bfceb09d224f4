// kvtier-replay: what hit rate would a store of this shape have given on
// this traffic, and how far is that from the best possible? Replays a trace
// on the store's own index and eviction code (simulate mode, the default)
// or on a real Store (--real). Argument errors exit 2; trace errors exit 1.
#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "bench/common/cli.h"
#include "bench/common/progress.h"
#include "bench/replay/bounds.h"
#include "bench/replay/real_mode.h"
#include "bench/replay/report.h"
#include "bench/replay/simulator.h"
#include "bench/replay/sweep.h"
#include "bench/replay/trace_reader.h"
#include "kvtier/config.h"
#include "kvtier/options.h"
#include "lib/index/eviction_order.h"

namespace kvtier::replay {
namespace {

using bench::ProgressLine;

struct Args {
  std::string trace, format = "mooncake", policy = EvictionPolicyName(Options{}.eviction),
                     sweep, csv = "replay-sweep.csv", plot = "replay-sweep.svg", dir,
                     config;
  uint32_t block_tokens = 512;
  uint64_t capacity_blocks = 0, host_blocks = 0, nvme_blocks = 0, nvme_bytes = 0;
  std::vector<std::string> redis;  // --real: a remote tier
  bool redis_cluster = false;
  // Llama-3.1-8B in fp16: 32 layers x 8 KV heads x 128 dims x K,V x 2 bytes.
  uint64_t kv_bytes_per_token = 131072;
  std::optional<double> price_hit, price_miss;
  // Sliding-window trimming (0 = no sliding layers).
  uint32_t window_tokens = 0, checkpoint_blocks = 0;
  std::optional<double> sliding_share;
  bool json = false, skip_bad = false, real = false, no_progress = false;
  // Derived.
  TraceFormat trace_format = TraceFormat::kMooncake;
  std::vector<EvictionPolicy> policies;
  std::vector<SweepPoint> points;
  std::optional<KvLayout> real_layout;  // --real with trimming
  std::string write_down;               // empty: settle
  WriteDownWait write_down_wait = WriteDownWait::kEachRequest;
};

// "at least N": CLI11's own range checks print their bounds with every
// digit of DBL_MAX.
CLI::Validator AtLeast(uint64_t low) {
  return CLI::Validator(
      [low](std::string& text) -> std::string {
        uint64_t value = 0;
        const auto [end, ec] =
            std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value < low) {
          return "'" + text + "': give a whole number of at least " + std::to_string(low);
        }
        return {};
      },
      ">=" + std::to_string(low));
}

int ArgError(const std::string& message) {
  return bench::ArgError("kvtier-replay", message);
}

// The trimming flags go together; --real lays them out as 6 layers.
int CheckTrim(Args& a) {
  if (a.window_tokens == 0) {
    if (a.sliding_share) return ArgError("--sliding-share needs --window-tokens");
    if (a.checkpoint_blocks > 0) {
      return ArgError("--checkpoint-blocks needs --window-tokens");
    }
    return 0;
  }
  if (!a.sliding_share) {
    return ArgError(
        "--window-tokens needs --sliding-share (the fraction of a block's KV bytes "
        "in sliding-window layers, in (0, 1])");
  }
  const double s = *a.sliding_share;
  if (!(s > 0 && s <= 1)) {
    return ArgError("--sliding-share: " + std::to_string(s) + " is not in (0, 1]");
  }
  if (!a.sweep.empty()) {
    return ArgError(
        "--window-tokens: trimming replays one capacity; --sweep does not trim");
  }
  if (a.real) {
    a.real_layout = RealTrimLayout(a.window_tokens, s);
    if (!a.real_layout) {
      return ArgError(
          "--sliding-share: --real stores 6 layers, so give a multiple of "
          "1/6 (0.1667, 0.3333, 0.5, 0.6667, 0.8333 or 1)");
    }
  }
  return 0;
}

// Checks what CLI11 cannot: values that depend on each other.
int Check(Args& a) {
  const auto format = ParseTraceFormat(a.format);
  if (!format)
    return ArgError("--format: '" + a.format + "'; use mooncake, sessions or tokens");
  a.trace_format = *format;
  for (size_t begin = 0; begin <= a.policy.size();) {
    const size_t comma = std::min(a.policy.find(',', begin), a.policy.size());
    const std::string name = a.policy.substr(begin, comma - begin);
    const auto policy = ParseEvictionPolicy(name);
    if (!policy) return ArgError("--policy: '" + name + "'; use lru, slru or freq");
    a.policies.push_back(*policy);
    begin = comma + 1;
  }
  if (a.policies.size() > 1 && a.sweep.empty()) {
    return ArgError("--policy: a list of policies needs --sweep");
  }
  if (a.price_hit.has_value() != a.price_miss.has_value()) {
    return ArgError("--price-hit and --price-miss go together");
  }
  const bool split = a.host_blocks > 0 || a.nvme_blocks > 0;
  const int shapes = (a.capacity_blocks > 0) + split + !a.sweep.empty();
  if (shapes != 1) {
    return ArgError(
        "give exactly one of --capacity-blocks, --host-blocks/--nvme-blocks, "
        "or --sweep");
  }
  if (a.capacity_blocks > 0) a.host_blocks = a.capacity_blocks;
  if (!a.sweep.empty()) {
    auto points = ParseSweep(a.sweep);
    if (!points)
      return ArgError("--sweep: '" + a.sweep + "'; e.g. 1000,2000,4000 or 1000+8000");
    a.points = *points;
  }
  if (int rc = CheckTrim(a); rc != 0) return rc;
  if (a.real) {
    if (!a.sweep.empty()) return ArgError("--real does not sweep; give one capacity");
    if (a.host_blocks == 0)
      return ArgError("--real needs host blocks (--capacity-blocks)");
    if (a.nvme_bytes > 0 && a.dir.empty()) return ArgError("--nvme-bytes needs --dir");
    if (!a.dir.empty() && a.nvme_bytes == 0) {
      return ArgError(
          "--dir needs --nvme-bytes (the NVMe tier's size); without both "
          "--real runs host only");
    }
    if (a.nvme_blocks > 0) return ArgError("--real sizes NVMe with --nvme-bytes");
    const std::optional<WriteDownWait> wait =
        ParseWriteDownWait(a.write_down.empty() ? "settle" : a.write_down);
    if (!wait)
      return ArgError("--write-down: '" + a.write_down + "'; use settle or overlap");
    a.write_down_wait = *wait;
  } else if (!a.dir.empty() || a.nvme_bytes > 0) {
    return ArgError("--dir and --nvme-bytes are for --real; simulate uses --nvme-blocks");
  } else if (!a.write_down.empty()) {
    return ArgError("--write-down is for --real; the simulator's writer always keeps up");
  } else if (!a.redis.empty() || a.redis_cluster) {
    return ArgError("--redis and --redis-cluster are for --real");
  }
  if (a.redis_cluster && a.redis.empty())
    return ArgError("--redis-cluster needs --redis");
  return 0;
}

Report BaseReport(const Args& a, const Trace& trace) {
  Report r;
  r.trace = a.trace;
  r.format = a.format;
  r.block_tokens = trace.block_tokens;
  r.block_bytes = a.real ? RealBlockBytes(trace.block_tokens)
                         : a.kv_bytes_per_token * trace.block_tokens;
  r.distinct_blocks = trace.distinct_references();
  r.bad_lines = trace.bad_lines;
  if (a.price_hit) r.prices = Prices{*a.price_hit, *a.price_miss};
  return r;
}

int RunSweepMode(const Args& a, const Trace& trace, Report base) {
  ProgressLine line("sweep runs", !a.no_progress);
  const std::vector<Report> rows = RunSweep(
      trace, base, a.points, a.policies, [&](size_t d, size_t t) { line.Update(d, t); });
  const std::string title = std::filesystem::path(a.trace).filename().string();
  const auto write = [](const std::string& path, const auto& write_to) {
    std::ofstream out(path);
    if (out) write_to(out);
    out.close();  // flushes: a full disk fails here, not silently
    if (out) return true;
    std::cerr << "kvtier-replay: cannot write " << path << "\n";
    return false;
  };
  if (!write(a.csv, [&](std::ostream& o) { WriteSweepCsv(rows, o); }) ||
      !write(a.plot, [&](std::ostream& o) {
        WriteSweepSvg(rows, title, o, a.kv_bytes_per_token);
      })) {
    return 1;
  }
  PrintSweepTable(rows, std::cout);
  std::cout << "wrote " << a.csv << " and " << a.plot << "\n";
  if (a.json) {
    nlohmann::json all = {{"sweep", nlohmann::json::array()}};
    for (const Report& r : rows) all["sweep"].push_back(ToJson(r));
    std::cout << all.dump() << std::endl;
  }
  return 0;
}

// The trimming for the flags: the simulator's abstract 1 MiB block, or the
// real Store's 6-layer layout.
SimTrim TrimOf(const Args& a, const Trace& trace) {
  if (a.window_tokens == 0) return {};
  if (a.real_layout) {
    KvLayout l = *a.real_layout;
    l.block_tokens = trace.block_tokens;
    return RealSimTrim(l, a.checkpoint_blocks);
  }
  return TrimForShare(a.window_tokens, trace.block_tokens, *a.sliding_share,
                      a.checkpoint_blocks);
}

int RealError(const Status& s) {
  std::cerr << "kvtier-replay: real mode: " << StatusCodeName(s.code()) << ": "
            << s.message() << "\n";
  return 1;
}

// One replay into r.sim; with trimming, the untrimmed one too.
int Replay(const Args& a, const Trace& trace, Report& r, const ProgressFn& progress) {
  const bool trims = r.config.trim.on();
  if (trims) {
    r.trimming = TrimFigures{a.window_tokens, *a.sliding_share, r.config.trim, {}, {}};
  }
  if (a.real) {
    r.mode = "real";
    RealConfig config{a.host_blocks, a.nvme_bytes, a.dir, a.policies[0]};
    config.wait = a.write_down_wait;
    r.write_down = WriteDownWaitName(a.write_down_wait);
    config.redis = a.redis;
    config.redis_kind = a.redis_cluster ? RemoteKind::kRedisCluster : RemoteKind::kRedis;
    if (trims) {
      // Untrimmed first, on the same 6 layers without windows; then the store
      // is opened again, trimming.
      KvLayout untrimmed = *a.real_layout;
      untrimmed.layer_windows.clear();
      config.layout = untrimmed;
      // Each store its own NVMe directory: the second must not recover the first's.
      if (!a.dir.empty()) {
        config.dir = a.dir + "/untrimmed";
        std::error_code ec;  // a directory that cannot be made fails at Open
        std::filesystem::create_directories(config.dir, ec);
      }
      Report plain = r;
      if (Status s = RunReal(trace, config, plain, progress); !s.ok())
        return RealError(s);
      r.trimming->untrimmed = plain.sim;
      config.layout = a.real_layout;
      config.checkpoint_blocks = a.checkpoint_blocks;
      if (!a.dir.empty()) {
        config.dir = a.dir + "/trimmed";
        std::error_code ec;  // a directory that cannot be made fails at Open
        std::filesystem::create_directories(config.dir, ec);
      }
      KvLayout l = *a.real_layout;
      l.block_tokens = trace.block_tokens;
      r.block_bytes = l.BlockBytes();
    }
    if (Status s = RunReal(trace, config, r, progress); !s.ok()) return RealError(s);
  } else {
    r.sim = Simulate(trace, r.config, progress);
    if (trims) {
      SimConfig plain = r.config;
      plain.trim = {};
      r.trimming->untrimmed = Simulate(trace, plain, progress);
    }
  }
  if (trims) {
    // Unlimited room: every distinct block fits whole, so nothing is evicted.
    const uint64_t room =
        trace.distinct_references() + trace.distinct_references() / 8 + 8;
    SimConfig unlimited{room, 0, a.policies[0], r.config.trim};
    const SimResult ceiling = Simulate(trace, unlimited);
    // Reported only when the room really was unlimited.
    if (ceiling.tiers[static_cast<int>(Tier::kHost)].evictions == 0) {
      r.trimming->ceiling_trimmed_hits = ceiling.hit_blocks;
    }
  }
  return 0;
}

int RunOne(const Args& a, const Trace& trace, Report r,
           std::chrono::steady_clock::time_point start) {
  r.config = SimConfig{a.host_blocks, a.nvme_blocks, a.policies[0], TrimOf(a, trace)};
  r.policy = EvictionPolicyName(a.policies[0]);
  {
    ProgressLine line("replay requests", !a.no_progress);
    const ProgressFn progress = [&](size_t d, size_t t) { line.Update(d, t); };
    if (int rc = Replay(a, trace, r, progress); rc != 0) return rc;
  }
  r.ceiling_hits = CeilingHits(trace);
  // Real mode learns the NVMe tier's size in blocks from the store.
  r.belady = BeladyHits(trace, r.config.host_blocks + r.config.nvme_blocks);
  r.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintTable(r, std::cout);
  if (a.json) std::cout << ToJson(r).dump() << std::endl;
  return 0;
}

int Main(int argc, char** argv) {
  Args a;
  CLI::App app{
      "kvtier-replay: prefix-cache hit rate of a trace on kvtier's own policy code"};
  app.add_option("--trace", a.trace, "trace file (sessions: file or folder)")->required();
  app.add_option("--format", a.format, "mooncake | sessions | tokens")
      ->capture_default_str();
  app.add_option("--block-tokens", a.block_tokens, "tokens per block (mooncake, tokens)")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  app.add_option("--capacity-blocks", a.capacity_blocks, "one tier (host) of N blocks")
      ->check(AtLeast(1));
  app.add_option("--host-blocks", a.host_blocks, "host tier blocks (tier split)");
  app.add_option("--nvme-blocks", a.nvme_blocks,
                 "NVMe tier blocks (tier split, simulate)");
  app.add_option("--policy", a.policy,
                 "lru | slru | freq (with --sweep: a list, lru,slru,freq); default: "
                 "the Store's")
      ->capture_default_str();
  app.add_option("--sweep", a.sweep,
                 "capacities: 1000,2000 or host+nvme splits 1000+8000");
  app.add_option("--csv", a.csv, "sweep CSV output")->capture_default_str();
  app.add_option("--plot", a.plot, "sweep SVG plot output")->capture_default_str();
  app.add_option("--price-hit", a.price_hit, "price per 1M cached input tokens");
  app.add_option("--price-miss", a.price_miss, "price per 1M recomputed input tokens");
  app.add_option("--kv-bytes-per-token", a.kv_bytes_per_token,
                 "KV bytes per token, for bytes read per tier (simulate)")
      ->capture_default_str();
  app.add_flag("--json", a.json, "print one JSON object as the last line");
  app.add_flag("--skip-bad", a.skip_bad, "skip malformed records, count them");
  app.add_flag("--no-progress", a.no_progress, "no progress line even on a terminal");
  app.add_flag("--real", a.real,
               "drive a real Store (host + NVMe) instead of simulating");
  app.add_option("--window-tokens", a.window_tokens,
                 "sliding-window layers' window in tokens (0 = none: no trimming)")
      ->capture_default_str();
  app.add_option("--sliding-share", a.sliding_share,
                 "fraction of a block's KV bytes in sliding-window layers, (0, 1] "
                 "(Gemma 5:1 = 0.8333, all-sliding = 1)");
  app.add_option("--checkpoint-blocks", a.checkpoint_blocks,
                 "keep sliding layers before every N-block checkpoint (0 = chain "
                 "ends only)")
      ->capture_default_str();
  app.add_option("--dir", a.dir, "real mode: NVMe cache directory");
  app.add_option("--nvme-bytes", a.nvme_bytes, "real mode: NVMe tier bytes");
  app.add_option("--write-down", a.write_down,
                 "real mode: settle (the default: wait for write-downs after each "
                 "request, as the simulator models) or overlap (as an engine runs)");
  app.add_option("--redis", a.redis,
                 "real mode: a remote tier on this Redis server (host:port), or on these "
                 "cluster nodes")
      ->delimiter(',');
  app.add_flag("--redis-cluster", a.redis_cluster,
               "real mode: --redis names cluster nodes");
  app.add_option(
      "--config", a.config,
      "JSON Store options (include/kvtier/config.h): eviction, nvme.directories[0] "
      "and nvme.capacity_bytes stand in for --policy, --dir, --nvme-bytes");
  if (auto rc = bench::ParseArgs(app, "kvtier-replay", argc, argv)) return *rc;
  if (!a.config.empty()) {
    Options o;
    o.eviction = EvictionPolicy::kLru;  // the tool's default, unless the file says
    if (Status s = ApplyConfigFile(a.config, &o); !s.ok()) return ArgError(s.message());
    if (app.count("--policy") == 0)
      a.policy = o.eviction == EvictionPolicy::kLru ? "lru" : "slru";
    if (app.count("--dir") == 0 && !o.nvme.directories.empty())
      a.dir = o.nvme.directories[0];
    if (app.count("--nvme-bytes") == 0) a.nvme_bytes = o.nvme.capacity_bytes;
  }
  if (int rc = Check(a); rc != 0) return rc;

  const auto start = std::chrono::steady_clock::now();
  Result<Trace> trace =
      ReadTrace(a.trace, ReadOptions{a.trace_format, a.block_tokens, a.skip_bad});
  if (!trace.ok()) {
    std::cerr << "kvtier-replay: " << trace.status().message() << "\n";
    return 1;
  }
  if (trace->bad_lines > 0) {
    std::cerr << "kvtier-replay: skipped " << trace->bad_lines << " malformed records\n";
  }
  Report base = BaseReport(a, *trace);
  if (!a.sweep.empty()) return RunSweepMode(a, *trace, std::move(base));
  return RunOne(a, *trace, std::move(base), start);
}

}  // namespace
}  // namespace kvtier::replay

int main(int argc, char** argv) { return kvtier::replay::Main(argc, argv); }
