// BM_HostSave / BM_HostLoad: one block through HostTier::Write / Read (copy,
// XXH3 checksum, header), to be read against BM_Memcpy of the same bytes.
// A block is 64 segments of block/64 bytes (one per layer K or V of a
// 32-layer model), adjacent in a 512 MiB engine buffer; the arena is 512 MiB
// too, so both sides come from memory, not cache.
//
// The engine buffer is page-aligned, as an engine's KV tensors are, and on
// 4 KiB pages like BM_Memcpy's vectors. Two things cost 25-35% here, for a
// plain memcpy of the same segments as much as for the tier: segments whose
// address is not 64-byte aligned (the copy's loads then split cache lines),
// and segments scattered over 64 per-layer regions instead of adjacent.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "backends/host/host_tier.h"
#include "lib/stored_block.h"

namespace kvtier {
namespace {

constexpr size_t kWorkingSetBytes = size_t{512} << 20;  // >> L3: out of cache
constexpr size_t kSegmentsPerBlock = 64;

// The engine's KV memory, faulted in and filled once.
std::byte* EngineMemory() {
  static std::byte* memory = [] {
    auto* m = static_cast<std::byte*>(std::aligned_alloc(4096, kWorkingSetBytes));
    for (size_t i = 0; i < kWorkingSetBytes; ++i) m[i] = std::byte(i * 131 + 7);
    return m;
  }();
  return memory;
}

std::vector<Segment> BlockSegments(size_t block_bytes, size_t j) {
  const size_t seg = block_bytes / kSegmentsPerBlock;
  std::vector<Segment> segs(kSegmentsPerBlock);
  for (size_t g = 0; g < kSegmentsPerBlock; ++g)
    segs[g] = Segment{EngineMemory() + j * block_bytes + g * seg, seg};
  return segs;
}

// One 512 MiB tier per block size, created once (faulting 512 MiB in costs
// 0.06-1 s here) and shared by Save and Load.
// Null when the tier cannot be created.
internal::HostTier* TierFor(size_t block_bytes) {
  static std::map<size_t, std::unique_ptr<internal::HostTier>> tiers;
  auto& tier = tiers[block_bytes];
  if (!tier) {
    internal::HostTierConfig config;
    config.capacity_bytes = kWorkingSetBytes;
    config.slot_bytes = internal::StoredBlockBytes(block_bytes);
    config.lock_memory = false;  // copies run the same; keep the bench limit-free
    auto created = internal::HostTier::Create(config);
    if (created.ok()) tier = std::move(created).value();
  }
  return tier.get();
}

BlockHash HashOf(size_t slot) { return BlockHash{slot * 0x9E3779B97F4A7C15ull + 1, slot}; }

void BM_HostSave(benchmark::State& state) {
  const size_t block = static_cast<size_t>(state.range(0));
  internal::HostTier* created = TierFor(block);
  if (created == nullptr) {
    state.SkipWithError("HostTier::Create failed");
    return;
  }
  internal::HostTier& tier = *created;
  const size_t blocks = kWorkingSetBytes / block;
  std::vector<std::vector<Segment>> src(blocks);
  for (size_t j = 0; j < blocks; ++j) src[j] = BlockSegments(block, j);

  size_t i = 0;
  for (auto _ : state) {
    const uint32_t slot = static_cast<uint32_t>(i % tier.slot_count());
    if (!tier.Write(slot, HashOf(slot), src[i % blocks]).ok()) {
      state.SkipWithError("HostTier::Write failed");
      break;
    }
    ++i;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
}

void BM_HostLoad(benchmark::State& state) {
  const size_t block = static_cast<size_t>(state.range(0));
  internal::HostTier* created = TierFor(block);
  if (created == nullptr) {
    state.SkipWithError("HostTier::Create failed");
    return;
  }
  internal::HostTier& tier = *created;
  const size_t blocks = kWorkingSetBytes / block;
  std::vector<std::vector<Segment>> dst(blocks);
  for (size_t j = 0; j < blocks; ++j) dst[j] = BlockSegments(block, j);
  for (uint32_t s = 0; s < tier.slot_count(); ++s) {
    if (!tier.Write(s, HashOf(s), dst[s % blocks]).ok()) {
      state.SkipWithError("HostTier::Write failed while filling");
      return;
    }
  }

  size_t i = 0;
  for (auto _ : state) {
    const uint32_t slot = static_cast<uint32_t>(i % tier.slot_count());
    if (!tier.Read(slot, HashOf(slot), dst[i % blocks]).ok()) {
      state.SkipWithError("HostTier::Read failed");
      break;
    }
    ++i;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
}

BENCHMARK(BM_HostSave)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);
BENCHMARK(BM_HostLoad)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);

}  // namespace
}  // namespace kvtier
