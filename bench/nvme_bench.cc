// kvtier-nvme-bench: NVMe tier throughput and recovery time.
//
//   kvtier-nvme-bench --dir DIR [--block-kib 256] [--qd 16] [--mib 2048] [--reps 3]
//       Save and Load GB/s through the Store (host tier of 8 blocks, so Loads
//       read the disk; write-through, Flush included), each rep one pass of
//       --mib over a tier of that size (a warm-up pass first, so slots are
//       overwritten as in a steady cache and as fio overwrites its file).
//       Prints medians; bench/nvme_vs_fio.sh puts fio beside them.
//   kvtier-nvme-bench --dir DIR --recovery N
//       Fills an NVMe tier with N small blocks, then times Store::Open's
//       rebuild of the index from the manifest (Stats().nvme.recovery_micros)
//       and the whole Open.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kvtier/kvtier.h"

namespace {

using kvtier::BlockHash;
using kvtier::Segment;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string dir;
  size_t block_kib = 256;
  uint32_t qd = 16;
  size_t mib = 2048;
  int reps = 3;
  size_t recovery = 0;
  bool fill = true;  // --fill 0: time the reopen of an already filled DIR
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

kvtier::Options BenchOptions(const Args& a, size_t block_bytes, uint64_t nvme_bytes,
                             size_t host_blocks) {
  kvtier::Options o;
  o.layout.num_layers = 32;
  o.layout.kv_heads = 1;
  o.layout.dtype = kvtier::DType::kFp16;
  o.layout.block_tokens = 16;
  o.layout.head_dim = static_cast<uint32_t>(block_bytes / 64 / 16 / 2);
  o.model_id = "nvme-bench";
  o.host.capacity_bytes = host_blocks * (block_bytes + 64);
  o.host.lock_memory = false;
  o.nvme.capacity_bytes = nvme_bytes;
  o.nvme.directories = {a.dir};
  o.nvme.queue_depth = a.qd;
  o.nvme.write_queue_blocks = 4 * a.qd;
  o.nvme.wipe_on_mismatch = true;
  return o;
}

// Engine buffers for `blocks` blocks, page-aligned like an engine's tensors.
struct Buffers {
  Buffers(const kvtier::KvLayout& l, size_t blocks)
      : bytes(blocks * l.BlockBytes()),
        memory(static_cast<std::byte*>(std::aligned_alloc(4096, bytes))) {
    std::memset(memory.get(), 0x5A, bytes);
    for (size_t i = 0; i < blocks * l.SegmentsPerBlock(); ++i) {
      segments.push_back(Segment{memory.get() + i * l.SegmentBytes(), l.SegmentBytes()});
    }
  }
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  size_t bytes;
  std::unique_ptr<std::byte, Free> memory;
  std::vector<Segment> segments;
};

std::vector<BlockHash> ChainOf(const kvtier::Store& s, uint64_t id, size_t blocks) {
  std::vector<uint32_t> tokens(blocks * s.layout().block_tokens);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<uint32_t>(id * 1000003u + i);
  }
  return s.hasher().Chain(tokens);
}

int Throughput(const Args& a) {
  const size_t block_bytes = a.block_kib << 10;
  const size_t chains = (a.mib << 20) / block_bytes / a.qd;
  const uint64_t nvme_bytes =
      uint64_t{chains} * a.qd * ((block_bytes + 64 + 4095) / 4096 * 4096);
  // Host holds 4 chains: Save needs room for one whole chain there, and the
  // passes are far larger, so Loads read the disk.
  auto opened = kvtier::Store::Open(BenchOptions(a, block_bytes, nvme_bytes, 4 * a.qd));
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  kvtier::Store& store = **opened;
  Buffers buf(store.layout(), a.qd);
  std::vector<double> save, load;
  for (int rep = 0; rep <= a.reps; ++rep) {  // rep 0 warms up (first write of each slot)
    std::vector<std::vector<BlockHash>> all;
    for (size_t c = 0; c < chains; ++c)
      all.push_back(ChainOf(store, rep * chains + c, a.qd));
    const uint64_t written0 = store.Stats().nvme.copy_down_blocks;
    auto t0 = Clock::now();
    for (const auto& chain : all) (void)store.Save(chain, buf.segments);
    store.Flush();
    const double ts = Seconds(t0);
    const uint64_t written = store.Stats().nvme.copy_down_blocks - written0;
    t0 = Clock::now();
    size_t loaded = 0;
    for (const auto& chain : all) {
      auto r = store.Load(chain, buf.segments);
      if (r.ok()) loaded += r->blocks;
    }
    const double tl = Seconds(t0);
    const double gb = double(written * block_bytes) / 1e9;  // blocks that reached NVMe
    if (rep > 0) {
      save.push_back(gb / ts);
      load.push_back(double(loaded * block_bytes) / 1e9 / tl);
    }
    std::fprintf(stderr,
                 "rep %d: save %.2f GB/s (%llu blocks down), load %.2f GB/s (%zu/%zu)\n",
                 rep, gb / ts, static_cast<unsigned long long>(written),
                 double(loaded * block_bytes) / 1e9 / tl, loaded, chains * a.qd);
  }
  const kvtier::StoreStats st = store.Stats();
  std::printf(
      "block_kib=%zu qd=%u io_uring=%d fixed_buffers=%d direct=%d copy_down_dropped=%llu "
      "save_gbps=%.3f load_gbps=%.3f\n",
      a.block_kib, a.qd, st.nvme.io_uring, st.nvme.fixed_buffers, st.nvme.direct_io,
      static_cast<unsigned long long>(st.nvme.copy_down_dropped), Median(save),
      Median(load));
  return 0;
}

int Recovery(const Args& a) {
  const size_t block_bytes = 2048;  // one 4 KiB slot per block
  const uint64_t nvme_bytes = uint64_t{a.recovery} * 4096;
  if (a.fill) {
    auto opened = kvtier::Store::Open(BenchOptions(a, block_bytes, nvme_bytes, 4096));
    if (!opened.ok()) {
      std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
      return 1;
    }
    kvtier::Store& store = **opened;
    Buffers buf(store.layout(), 64);
    const auto t0 = Clock::now();
    for (size_t c = 0; c < a.recovery / 64; ++c) {
      (void)store.Save(ChainOf(store, c, 64), buf.segments);
    }
    store.Flush();
    std::fprintf(
        stderr, "filled %llu blocks in %.1f s\n",
        static_cast<unsigned long long>(store.Stats().tier(kvtier::Tier::kNvme).blocks),
        Seconds(t0));
  }
  std::vector<double> open_s, rebuild_s;
  uint64_t recovered = 0;
  for (int rep = 0; rep < a.reps; ++rep) {
    const auto t0 = Clock::now();
    auto opened = kvtier::Store::Open(BenchOptions(a, block_bytes, nvme_bytes, 4096));
    open_s.push_back(Seconds(t0));
    if (!opened.ok()) return 1;
    const kvtier::StoreStats st = (*opened)->Stats();
    rebuild_s.push_back(st.nvme.recovery_micros / 1e6);
    recovered = st.nvme.recovered_blocks;
  }
  // rebuild_s: manifest scan + checks + index rebuild; open_s: all of Open.
  std::printf("recovery entries=%llu rebuild_s=%.3f open_s=%.3f\n",
              static_cast<unsigned long long>(recovered), Median(rebuild_s),
              Median(open_s));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dir") a.dir = v;
    if (k == "--block-kib") a.block_kib = std::stoul(v);
    if (k == "--qd") a.qd = static_cast<uint32_t>(std::stoul(v));
    if (k == "--mib") a.mib = std::stoul(v);
    if (k == "--reps") a.reps = std::stoi(v);
    if (k == "--recovery") a.recovery = std::stoul(v);
    if (k == "--fill") a.fill = v != "0";
  }
  if (a.dir.empty()) {
    std::fprintf(stderr,
                 "usage: %s --dir DIR [--block-kib K] [--qd N] [--mib M] [--reps R] "
                 "[--recovery ENTRIES]\n",
                 argv[0]);
    return 2;
  }
  std::filesystem::create_directories(a.dir);
  return a.recovery > 0 ? Recovery(a) : Throughput(a);
}
