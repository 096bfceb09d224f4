// kvtier-replay: what hit rate would a store of this shape have given on
// this traffic, and how far is that from the best possible? Replays a trace
// on the store's own index and eviction code (simulate mode, the default)
// or on a real Store (--real). Argument errors exit 2; trace errors exit 1.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "bench/common/progress.h"
#include "bench/replay/args.h"
#include "bench/replay/block_numbers.h"
#include "bench/replay/bounds.h"
#include "bench/replay/real_mode.h"
#include "bench/replay/report.h"
#include "bench/replay/simulator.h"
#include "bench/replay/sweep.h"
#include "bench/replay/trace_reader.h"
#include "bench/replay/ttl_hints.h"
#include "kvtier/options.h"
#include "lib/index/eviction_order.h"

namespace kvtier::replay {
namespace {

using bench::ProgressLine;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Report BaseReport(const Args& a, const Trace& trace, const BlockNumbers& numbers) {
  Report r;
  r.trace = a.trace;
  r.format = a.format;
  r.block_tokens = trace.block_tokens;
  r.ttl_hint = a.ttl_hint;
  r.block_bytes = a.real ? RealBlockBytes(trace.block_tokens)
                         : a.kv_bytes_per_token * trace.block_tokens;
  r.distinct_blocks = numbers.distinct_references;
  r.bad_lines = trace.bad_lines;
  if (a.price_hit) r.prices = Prices{*a.price_hit, *a.price_miss};
  return r;
}

int RunSweepMode(const Args& a, const Trace& trace, const BlockNumbers& numbers,
                 Report base) {
  ProgressLine line("sweep runs", !a.no_progress);
  const std::vector<Report> rows =
      RunSweep(trace, numbers, base, a.points, a.policies,
               [&](size_t d, size_t t) { line.Update(d, t); });
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
int Replay(const Args& a, const Trace& trace, uint64_t distinct, Report& r,
           const ProgressFn& progress) {
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
    config.checksum_key_file = a.checksum_key_file;
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
    const uint64_t room = distinct + distinct / 8 + 8;
    SimConfig unlimited{room, 0, a.policies[0], r.config.trim};
    const SimResult ceiling = Simulate(trace, unlimited);
    // Reported only when the room really was unlimited.
    if (ceiling.tiers[static_cast<int>(Tier::kHost)].evictions == 0) {
      r.trimming->ceiling_trimmed_hits = ceiling.hit_blocks;
    }
  }
  return 0;
}

// The ceiling and Belady at `capacity` blocks, timed.
struct Bounds {
  uint64_t ceiling = 0;
  BoundHits belady;
  double seconds = 0;
};

Bounds ComputeBounds(const Trace& trace, const BlockNumbers& numbers, uint64_t capacity) {
  const auto start = Clock::now();
  Bounds b{CeilingHits(trace, numbers), BeladyHits(trace, numbers, capacity), 0};
  b.seconds = SecondsSince(start);
  return b;
}

int RunOne(const Args& a, const Trace& trace, const BlockNumbers& numbers, Report r,
           Clock::time_point start) {
  r.config = SimConfig{a.host_blocks, a.nvme_blocks, a.policies[0], TrimOf(a, trace)};
  r.policy = EvictionPolicyName(a.policies[0]);
  // The bounds need only the trace: computed on a second core meanwhile.
  // Real mode learns the NVMe tier's size in blocks from the store, so
  // there they follow the replay.
  std::future<Bounds> bounds;
  if (!a.real) {
    bounds = std::async(std::launch::async, ComputeBounds, std::cref(trace),
                        std::cref(numbers), r.config.host_blocks + r.config.nvme_blocks);
  }
  const auto replay_start = Clock::now();
  {
    ProgressLine line("replay requests", !a.no_progress);
    const ProgressFn progress = [&](size_t d, size_t t) { line.Update(d, t); };
    if (int rc = Replay(a, trace, numbers.distinct_references, r, progress); rc != 0)
      return rc;
  }
  r.replay_seconds = SecondsSince(replay_start);
  const Bounds b =
      a.real ? ComputeBounds(trace, numbers, r.config.host_blocks + r.config.nvme_blocks)
             : bounds.get();
  r.ceiling_hits = b.ceiling;
  r.belady = b.belady;
  r.bounds_seconds = b.seconds;
  r.seconds = SecondsSince(start);
  PrintTable(r, std::cout);
  if (a.json) std::cout << ToJson(r).dump() << std::endl;
  return 0;
}

int Main(int argc, char** argv) {
  Args a;
  if (auto rc = ParseReplayArgs(argc, argv, &a)) return *rc;

  const auto start = Clock::now();
  Result<Trace> trace =
      ReadTrace(a.trace, ReadOptions{a.trace_format, a.block_tokens, a.skip_bad});
  if (!trace.ok()) {
    std::cerr << "kvtier-replay: " << trace.status().message() << "\n";
    return 1;
  }
  if (trace->bad_lines > 0) {
    std::cerr << "kvtier-replay: skipped " << trace->bad_lines << " malformed records\n";
  }
  if (a.ttl_hint) {
    if (Status s = AddTtlHints(*trace, *a.ttl_hint); !s.ok()) {
      std::cerr << "kvtier-replay: --ttl-hint: " << s.message() << "\n";
      return 1;
    }
  }
  const BlockNumbers numbers = NumberBlocks(*trace);
  Report base = BaseReport(a, *trace, numbers);
  base.read_seconds = SecondsSince(start);
  if (!a.sweep.empty()) return RunSweepMode(a, *trace, numbers, std::move(base));
  return RunOne(a, *trace, numbers, std::move(base), start);
}

}  // namespace
}  // namespace kvtier::replay

int main(int argc, char** argv) { return kvtier::replay::Main(argc, argv); }
