// Sweep: one replay per (tier shape, policy), the bounds at each shape's
// total capacity, written as CSV and drawn as an SVG plot of hit rate
// against capacity, so an operator sees the knee and how far each policy
// is from the offline optimum.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/replay/block_numbers.h"
#include "bench/replay/report.h"
#include "bench/replay/simulator.h"
#include "bench/replay/trace.h"

namespace kvtier::replay {

struct SweepPoint {
  uint64_t host_blocks = 0;
  uint64_t nvme_blocks = 0;
};

// "1000,2000,4000" (host-only) or "1000+8000,2000+8000" (host+nvme);
// nullopt on a malformed list.
std::optional<std::vector<SweepPoint>> ParseSweep(std::string_view text);

// One Report per (point, policy), points in the order given, policies inner.
// The runs and the bounds (one Belady run per distinct capacity) are spread
// over two threads; `progress` is called from either, one call at a time.
std::vector<Report> RunSweep(const Trace& trace, const BlockNumbers& numbers,
                             const Report& base, const std::vector<SweepPoint>& points,
                             const std::vector<EvictionPolicy>& policies,
                             const ProgressFn& progress = nullptr);
// The same, numbering the trace's blocks first.
std::vector<Report> RunSweep(const Trace& trace, const Report& base,
                             const std::vector<SweepPoint>& points,
                             const std::vector<EvictionPolicy>& policies,
                             const ProgressFn& progress = nullptr);

// CSV with a header row; the columns are kSweepColumns, in order.
inline constexpr const char* kSweepColumns =
    "host_blocks,nvme_blocks,capacity_blocks,policy,requests,hit_rate_blocks,"
    "hit_rate_tokens,belady_hit_rate_blocks,ceiling_hit_rate_blocks,evictions,"
    "host_hits,nvme_hits,blended_price";
void WriteSweepCsv(const std::vector<Report>& rows, std::ostream& out);
// A self-contained SVG: hit rate (blocks) against total capacity (blocks,
// and under them tokens and GiB at `kv_bytes_per_token`), one line per
// policy with its end points labelled, Belady's bound dashed, the
// infinite-cache ceiling dotted. `title`: the trace's file name. The default
// KV size is kvtier-replay's (Llama-3.1-8B in fp16).
void WriteSweepSvg(const std::vector<Report>& rows, const std::string& title,
                   std::ostream& out, uint64_t kv_bytes_per_token = 131072);
// The sweep as an aligned table: capacity, policy, hit rate, Belady, the
// share of the LRU-to-Belady gap closed (when LRU was swept too).
void PrintSweepTable(const std::vector<Report>& rows, std::ostream& out);

}  // namespace kvtier::replay
