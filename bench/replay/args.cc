// kvtier-replay's command line (args.h).
#include "bench/replay/args.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <string>

#include "bench/common/cli.h"
#include "bench/replay/trace_reader.h"
#include "bench/replay/ttl_hints.h"
#include "kvtier/config.h"

namespace kvtier::replay {
namespace {

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

// --ttl-hint: simulate only (a real Store's clock is the wall clock, which
// runs far slower than a replayed trace's).
int CheckTtlHint(const Args& a) {
  if (!a.ttl_hint) return 0;
  const double s = *a.ttl_hint;
  if (!(s >= 0 && s <= kMaxTtlHintSigma)) {
    char max[32];
    std::snprintf(max, sizeof max, "%g", kMaxTtlHintSigma);
    return ArgError(std::string("--ttl-hint: give a sigma from 0 (exact) to ") + max);
  }
  if (a.real) {
    return ArgError(
        "--ttl-hint is for simulate mode: a real Store's clock runs at wall speed, "
        "not at the trace's");
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
    if (!policy) {
      return ArgError("--policy: '" + name + "'; use lru, slru, freq or session");
    }
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
    if (!a.checksum_key_file.empty() && a.dir.empty())
      return ArgError("--checksum-key-file needs --dir (it keys the NVMe tier)");
    const std::optional<WriteDownWait> wait =
        ParseWriteDownWait(a.write_down.empty() ? "settle" : a.write_down);
    if (!wait)
      return ArgError("--write-down: '" + a.write_down + "'; use settle or overlap");
    a.write_down_wait = *wait;
  } else if (!a.dir.empty() || a.nvme_bytes > 0 || !a.checksum_key_file.empty()) {
    return ArgError(
        "--dir, --nvme-bytes and --checksum-key-file are for --real; simulate uses "
        "--nvme-blocks");
  } else if (!a.write_down.empty()) {
    return ArgError("--write-down is for --real; the simulator's writer always keeps up");
  } else if (!a.redis.empty() || a.redis_cluster) {
    return ArgError("--redis and --redis-cluster are for --real");
  }
  if (a.redis_cluster && a.redis.empty())
    return ArgError("--redis-cluster needs --redis");
  return CheckTtlHint(a);
}

}  // namespace

std::optional<int> ParseReplayArgs(int argc, const char* const* argv, Args* args) {
  Args& a = *args;
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
  app.add_option("--ttl-hint", a.ttl_hint,
                 "give each request a TTL hint (RequestContext::ttl_s, used by the "
                 "session policy): the time to its session's next request in the trace "
                 "times e^(SIGMA * N(0,1)); 0 = exact (sessions format; simulate)");
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
  app.add_option("--checksum-key-file", a.checksum_key_file,
                 "real mode: key the NVMe tier's checksum with the secret in this file "
                 "(created, 0600, if missing)");
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
    if (app.count("--policy") == 0) a.policy = EvictionPolicyName(o.eviction);
    if (app.count("--dir") == 0 && !o.nvme.directories.empty())
      a.dir = o.nvme.directories[0];
    if (app.count("--nvme-bytes") == 0) a.nvme_bytes = o.nvme.capacity_bytes;
  }
  if (int rc = Check(a); rc != 0) return rc;
  return std::nullopt;
}

}  // namespace kvtier::replay
