// kvtier-bench's workloads: the untimed fill, the timed threads, and the
// latency and counter accounting shared by every target.
#include "bench/kvtier_bench/workload.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "bench/common/progress.h"

namespace kvtier::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

Latency Summarize(std::vector<double> us) {
  Latency l;
  l.calls = us.size();
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))];
  };
  l.p50_us = at(0.5);
  l.p99_us = at(0.99);
  l.p999_us = at(0.999);
  double sum = 0;
  for (double v : us) sum += v;
  l.mean_us = sum / us.size();
  return l;
}

// Saves chains 0..chains-1, flushing every two so the write-behind queue
// (4 chains deep) never drops a block. Not timed.
void Fill(const BenchConfig& c, Target& target, uint64_t chains) {
  ProgressLine line("fill chains", c.progress);
  Buffers buf(target.layout(), c.batch);
  for (uint64_t id = 0; id < chains; ++id) {
    (void)target.Save(id, buf);
    if (id % 2 == 1) target.Flush();
    line.Update(id + 1, chains);
  }
  target.Flush();
}

struct ThreadLog {
  std::vector<double> save_us, load_us, lookup_us;
  uint64_t looked_up_blocks = 0;
};

double MicrosSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// A load thread with `c.inflight` loads in flight: as each completes (in
// issue order) the next starts in its buffers. Latency: issue to completion.
void AsyncLoader(const BenchConfig& c, Target& target, uint32_t index, uint64_t window,
                 std::atomic<uint64_t>& next_id, Clock::time_point deadline,
                 ThreadLog& log) {
  struct Slot {
    std::unique_ptr<Buffers> buf;
    std::unique_ptr<PendingLoad> load;
    Clock::time_point issued;
  };
  std::vector<Slot> ring(c.inflight);
  std::mt19937_64 rng(0x6b76746965720000ull + index);
  for (Slot& s : ring) s.buf = std::make_unique<Buffers>(target.layout(), c.batch);
  for (size_t i = 0;; i = (i + 1) % ring.size()) {
    Slot& s = ring[i];
    if (s.load) {
      (void)s.load->Wait();
      log.load_us.push_back(MicrosSince(s.issued));
      s.load.reset();
    }
    if (Clock::now() >= deadline) {
      bool any = false;
      for (const Slot& o : ring) any |= o.load != nullptr;
      if (!any) return;
      continue;
    }
    const uint64_t newest = next_id.load(std::memory_order_relaxed);
    s.issued = Clock::now();
    s.load = target.BeginLoad(newest - 1 - rng() % window, *s.buf);
  }
}

// Lookups of random filled chains until the deadline.
void Looker(const BenchConfig& c, Target& target, uint32_t index, uint64_t window,
            std::atomic<uint64_t>& next_id, Clock::time_point deadline, ThreadLog& log) {
  std::mt19937_64 rng(0x6c6f6f6b00000000ull + index);
  while (Clock::now() < deadline) {
    const uint64_t id = next_id.load(std::memory_order_relaxed) - 1 - rng() % window;
    const auto t0 = Clock::now();
    log.looked_up_blocks += target.Lookup(id);
    log.lookup_us.push_back(MicrosSince(t0));
  }
}

// Saves of new chains until the deadline (beside the lookups).
void Saver(const BenchConfig& c, Target& target, std::atomic<uint64_t>& next_id,
           Clock::time_point deadline, ThreadLog& log) {
  Buffers buf(target.layout(), c.batch);
  while (Clock::now() < deadline) {
    const auto t0 = Clock::now();
    (void)target.Save(next_id.fetch_add(1, std::memory_order_relaxed), buf);
    log.save_us.push_back(MicrosSince(t0));
  }
}

// One engine thread: calls until the deadline. Loads pick a chain at random
// among the `window` most recently saved; Saves write new chains.
void Worker(const BenchConfig& c, Target& target, uint32_t index, uint64_t window,
            std::atomic<uint64_t>& next_id, Clock::time_point start, ThreadLog& log) {
  Buffers buf(target.layout(), c.batch);
  std::mt19937_64 rng(0x6b76746965720000ull + index);
  const uint32_t read_pct = c.op == Op::kLoad ? 100 : c.op == Op::kSave ? 0 : c.read_pct;
  const auto deadline = start + std::chrono::duration<double>(c.seconds);
  ProgressLine line("kvtier-bench ms", c.progress && index == 0);
  const uint64_t total_ms = static_cast<uint64_t>(c.seconds * 1000);
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    const bool load = rng() % 100 < read_pct;
    const auto t0 = Clock::now();
    if (load) {
      const uint64_t newest = next_id.load(std::memory_order_relaxed);
      (void)target.Load(newest - 1 - rng() % window, buf);
    } else {
      (void)target.Save(next_id.fetch_add(1, std::memory_order_relaxed), buf);
    }
    const double us =
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    (load ? log.load_us : log.save_us).push_back(us);
    line.Update(std::min<uint64_t>(total_ms, Seconds(start) * 1000), total_ms);
  }
}

}  // namespace

RunResult RunWorkload(const BenchConfig& c, Target& target) {
  RunResult r;
  // Fill 90% so Loads hit, and so Saves overwrite slots as fio overwrites
  // its preallocated file.
  const uint64_t chains =
      std::max<uint64_t>(1, target.capacity_blocks() * 9 / 10 / c.batch);
  Fill(c, target, chains);
  r.filled_blocks = chains * c.batch;
  const TargetCounters before = target.Counters();

  std::atomic<uint64_t> next_id{chains};
  std::vector<ThreadLog> logs(c.threads + c.save_threads);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(c.seconds));
  {
    std::vector<std::jthread> threads;
    for (uint32_t t = 0; t < c.threads; ++t) {
      threads.emplace_back([&, t] {
        if (c.op == Op::kLookup) {
          Looker(c, target, t, chains, next_id, deadline, logs[t]);
        } else if (c.op == Op::kLoad && c.inflight > 1 &&
                   c.tier != TierChoice::kNvmeTier) {
          AsyncLoader(c, target, t, chains, next_id, deadline, logs[t]);
        } else {
          Worker(c, target, t, chains, next_id, start, logs[t]);
        }
      });
    }
    for (uint32_t t = 0; t < c.save_threads; ++t) {
      threads.emplace_back(
          [&, t] { Saver(c, target, next_id, deadline, logs[c.threads + t]); });
    }
  }
  target.Flush();  // a Save counts once its blocks are on the tier asked for
  r.seconds = Seconds(start);

  const TargetCounters after = target.Counters();
  r.saved_blocks = after.saved_blocks - before.saved_blocks;
  r.loaded_blocks = after.loaded_blocks - before.loaded_blocks;
  for (int t = 0; t < kNumTiers; ++t) r.hits[t] = after.hits[t] - before.hits[t];
  r.dropped = after.dropped - before.dropped;
  r.errors = after.errors - before.errors;
  std::vector<double> save, load, lookup;
  for (const ThreadLog& log : logs) {
    save.insert(save.end(), log.save_us.begin(), log.save_us.end());
    load.insert(load.end(), log.load_us.begin(), log.load_us.end());
    lookup.insert(lookup.end(), log.lookup_us.begin(), log.lookup_us.end());
    r.looked_up_blocks += log.looked_up_blocks;
  }
  r.load_asked_blocks = load.size() * c.batch;
  std::vector<double> all = save;
  all.insert(all.end(), load.begin(), load.end());
  r.lookup = Summarize(std::move(lookup));
  r.save = Summarize(std::move(save));
  r.load = Summarize(std::move(load));
  r.all = Summarize(std::move(all));
  r.describe = target.Describe();
  return r;
}

Result<RecoverResult> RunRecover(const BenchConfig& c) {
  {
    auto target = OpenStoreTarget(c);
    if (!target.ok()) return target.status();
    Fill(c, **target, std::max<uint64_t>(1, (*target)->capacity_blocks() / c.batch));
  }
  std::vector<double> open_s, rebuild_s;
  RecoverResult r;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    auto target = OpenStoreTarget(c);
    open_s.push_back(Seconds(t0));
    if (!target.ok()) return target.status();
    const TargetCounters counters = (*target)->Counters();
    rebuild_s.push_back(counters.recovery_micros / 1e6);
    r.recovered_blocks = counters.recovered_blocks;
  }
  std::sort(open_s.begin(), open_s.end());
  std::sort(rebuild_s.begin(), rebuild_s.end());
  r.open_s = open_s[1];
  r.rebuild_s = rebuild_s[1];
  return r;
}

}  // namespace kvtier::bench
