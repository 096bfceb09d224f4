// BM_Lookup, BM_IndexSaveEvict, BM_TouchChain: the BlockIndex at 1M blocks
// in the host tier, over chains of 8K blocks (a 128K-token prompt at 16
// tokens per block). Items are blocks; the index is far larger than the
// caches, and successive iterations use different chains.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "lib/index/block_index.h"

namespace kvtier::internal {
namespace {

constexpr size_t kIndexedBlocks = size_t{1} << 20;
constexpr size_t kChainBlocks = 8192;
constexpr size_t kChains = kIndexedBlocks / kChainBlocks;

BlockHash Hash(uint64_t n) {
  // splitmix64: hashes that look like XXH3 output.
  uint64_t x = n + 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return BlockHash{x, x * 0xD1B54A32D192ED03ull + n};
}

std::vector<BlockHash> MakeChain(uint64_t chain_id) {
  std::vector<BlockHash> chain(kChainBlocks);
  for (size_t i = 0; i < kChainBlocks; ++i) chain[i] = Hash(chain_id * kChainBlocks + i);
  return chain;
}

std::array<TierBudget, kNumTiers> HostBudget() {
  std::array<TierBudget, kNumTiers> budgets{};
  budgets[static_cast<int>(Tier::kHost)] = TierBudget{true, kIndexedBlocks};
  return budgets;
}

// Stores `chain` ready in the host tier as the Store does, evicting as needed.
// With a window, only the last `window` blocks are whole (sliding-window
// trimming, chain end only).
void Save(BlockIndex& index, const std::vector<BlockHash>& chain, uint32_t* next_slot,
          uint32_t window = 0) {
  for (size_t i = 0; i < chain.size(); ++i) {
    auto evicted = index.MakeRoom(Tier::kHost, 1);
    uint32_t slot = (*next_slot)++;
    if (!evicted->empty()) slot = evicted->front().slot;
    const BlockForm form = window == 0 || i + window >= chain.size()
                               ? BlockForm::kWhole
                               : BlockForm::kTrimmed;
    index.AddPending(Tier::kHost, chain[i], i > 0 ? &chain[i - 1] : nullptr, slot, 1,
                     form);
    index.MarkReady(Tier::kHost, chain[i]);
  }
  index.TouchChain(chain);
}

// kChains chains of kChainBlocks, all in the host tier, which is full.
// `window` > 0: a sliding-window layout of that many blocks, chains trimmed.
struct FullIndex {
  explicit FullIndex(uint32_t window = 0)
      : index(HostBudget(), EvictionPolicy::kLru, window) {
    for (size_t c = 0; c < kChains; ++c) {
      chains.push_back(MakeChain(c));
      Save(index, chains.back(), &next_slot, window);
    }
  }
  BlockIndex index;
  std::vector<std::vector<BlockHash>> chains;
  uint32_t next_slot = 0;
};

FullIndex& SharedIndex() {
  static FullIndex* index = new FullIndex();  // built once for all benchmarks
  return *index;
}

// Mistral-style: a 4096-token window at 16 tokens per block.
constexpr uint32_t kWindowBlocks = 256;

FullIndex& SharedWindowedIndex() {
  static FullIndex* index = new FullIndex(kWindowBlocks);
  return *index;
}

enum class LookupKind { kHit, kHalf, kMiss };

// hit: every block of a stored chain; half: a stored chain with block 4096
// replaced, so the answer is 4096 blocks; miss: an unknown first block.
// Each iteration queries another chain, so the index is read from memory.
void BM_Lookup(benchmark::State& state, LookupKind kind) {
  FullIndex& f = SharedIndex();
  std::vector<std::vector<BlockHash>> queries;
  if (kind == LookupKind::kMiss) {
    queries.push_back(MakeChain(kChains));
  } else {
    for (size_t c = 0; c < kChains; ++c) {
      queries.push_back(f.chains[(c * 37) % kChains]);
      if (kind == LookupKind::kHalf)
        queries.back()[kChainBlocks / 2] = Hash(~uint64_t{c});
    }
  }
  size_t probed = 0;
  uint64_t n = 0;
  for (auto _ : state) {
    std::vector<BlockHash>& query = queries[n % queries.size()];
    if (kind == LookupKind::kMiss) query[0] = Hash(~n);  // a fresh miss each time
    const PrefixInfo info = f.index.LongestPrefix(query);
    benchmark::DoNotOptimize(info);
    probed += info.blocks + (info.blocks < kChainBlocks ? 1 : 0);
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(probed));
}
BENCHMARK_CAPTURE(BM_Lookup, hit, LookupKind::kHit);

// The same full hit on a sliding-window index (the windowed LongestPrefix:
// a run counter and per-tier window sums on top of the plain walk).
void BM_LookupWindowed(benchmark::State& state) {
  FullIndex& f = SharedWindowedIndex();
  size_t probed = 0;
  uint64_t n = 0;
  for (auto _ : state) {
    const PrefixInfo info = f.index.LongestPrefix(f.chains[(n * 37) % kChains]);
    benchmark::DoNotOptimize(info);
    probed += info.blocks;
    ++n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(probed));
}
BENCHMARK(BM_LookupWindowed);
BENCHMARK_CAPTURE(BM_Lookup, half, LookupKind::kHalf);
BENCHMARK_CAPTURE(BM_Lookup, miss, LookupKind::kMiss);

void BM_TouchChain(benchmark::State& state) {
  FullIndex& f = SharedIndex();
  size_t c = 0;
  for (auto _ : state) {
    // Chains in the order they were saved: each touch moves the coldest
    // chain to the hot end, so the LRU order keeps its shape.
    f.index.TouchChain(f.chains[c]);
    c = (c + 1) % kChains;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kChainBlocks));
}
BENCHMARK(BM_TouchChain);

// One block saved into the full tier: MakeRoom evicts the coldest chain
// tail, AddPending + MarkReady admit the new block; a TouchChain closes each
// 8K-block chain, as the Store does after a Save.
void BM_IndexSaveEvict(benchmark::State& state) {
  static FullIndex* f = new FullIndex();  // its own: this benchmark churns it
  static uint64_t next_chain = kChains;
  std::vector<BlockHash> chain = MakeChain(next_chain++);
  size_t i = 0;
  for (auto _ : state) {
    auto evicted = f->index.MakeRoom(Tier::kHost, 1);
    const uint32_t slot = evicted->front().slot;
    f->index.AddPending(Tier::kHost, chain[i], i > 0 ? &chain[i - 1] : nullptr, slot);
    f->index.MarkReady(Tier::kHost, chain[i]);
    if (++i == kChainBlocks) {
      f->index.TouchChain(chain);
      state.PauseTiming();
      chain = MakeChain(next_chain++);
      state.ResumeTiming();
      i = 0;
    }
  }
  // A partial chain is left at the hot end, untouched: finish it so the
  // next run starts from whole chains.
  if (i > 0) f->index.TouchChain(std::span(chain).first(i));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_IndexSaveEvict);

}  // namespace
}  // namespace kvtier::internal
