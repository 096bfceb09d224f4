// Store-level benchmarks: what an engine sees through the public API.
//   BM_StoreSave/N, BM_StoreLoad/N  - Save/Load of one N-byte block through
//       the Store (index, lock, checksum, copy), beside BM_Memcpy/N.
//   BM_HashAndLookup/T - hash a T-token prompt and Lookup its chain in a
//       store that indexes 1M blocks (the 128K-token goal: < 0.3 ms).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kvtier/kvtier.h"

namespace {

using kvtier::BlockHash;
using kvtier::Segment;

constexpr size_t kWorkingSetBytes = size_t{512} << 20;  // >> L3, as BM_Memcpy

// A 32-layer K/V block of `block_bytes`: 64 segments.
kvtier::Options BlockOptions(size_t block_bytes, size_t capacity) {
  kvtier::Options o;
  o.layout.num_layers = 32;
  o.layout.kv_heads = 1;
  o.layout.dtype = kvtier::DType::kFp16;
  o.layout.block_tokens = 16;
  o.layout.head_dim = static_cast<uint32_t>(block_bytes / 64 / 16 / 2);
  o.model_id = "bench";
  o.host.capacity_bytes = capacity;
  return o;
}

struct StoreBench {
  explicit StoreBench(size_t block_bytes)
      : store(std::move(kvtier::Store::Open(BlockOptions(
                            block_bytes, kWorkingSetBytes + (kWorkingSetBytes >> 4))))
                  .value()),
        blocks(kWorkingSetBytes / block_bytes),
        memory(static_cast<std::byte*>(std::aligned_alloc(4096, kWorkingSetBytes))) {
    std::memset(memory.get(), 1, kWorkingSetBytes);
    const kvtier::KvLayout& l = store->layout();
    for (size_t b = 0; b < blocks; ++b) {
      std::vector<uint32_t> tokens(16, static_cast<uint32_t>(b));
      chains.push_back(store->hasher().Chain(tokens));
      for (size_t s = 0; s < l.SegmentsPerBlock(); ++s)
        segments.push_back(Segment{
            memory.get() + b * l.BlockBytes() + s * l.SegmentBytes(), l.SegmentBytes()});
    }
  }
  std::span<const Segment> SegmentsOf(size_t b) const {
    const size_t n = store->layout().SegmentsPerBlock();
    return std::span<const Segment>(segments).subspan(b * n, n);
  }
  std::unique_ptr<kvtier::Store> store;
  size_t blocks;
  // Page-aligned, as an engine's KV tensors are (see bm_host.cc).
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> memory;
  std::vector<std::vector<BlockHash>> chains;
  std::vector<Segment> segments;
};

void BM_StoreSave(benchmark::State& state) {
  StoreBench b(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    // A fresh hash each pass so every Save really copies (no refresh).
    state.PauseTiming();
    if (i == b.blocks) {
      b.store =
          std::move(kvtier::Store::Open(BlockOptions(
                        state.range(0), kWorkingSetBytes + (kWorkingSetBytes >> 4))))
              .value();
      i = 0;
    }
    state.ResumeTiming();
    auto r = b.store->Save(b.chains[i], b.SegmentsOf(i));
    benchmark::DoNotOptimize(r);
    ++i;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}
BENCHMARK(BM_StoreSave)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);

void BM_StoreLoad(benchmark::State& state) {
  StoreBench b(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < b.blocks; ++i) (void)b.store->Save(b.chains[i], b.SegmentsOf(i));
  size_t i = 0;
  for (auto _ : state) {
    auto r = b.store->Load(b.chains[i], b.SegmentsOf(i));
    if (!r.ok() || r->blocks != 1) state.SkipWithError("load missed");
    i = (i + 1) % b.blocks;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}
BENCHMARK(BM_StoreLoad)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);

// BeginLoad + WaitLoad: the same blocks moved layer by layer on a transfer
// thread (each block verified in place first, then copied layer-major).
void BM_StoreLoadAsync(benchmark::State& state) {
  StoreBench b(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < b.blocks; ++i) (void)b.store->Save(b.chains[i], b.SegmentsOf(i));
  size_t i = 0;
  for (auto _ : state) {
    auto h = b.store->BeginLoad(b.chains[i], b.SegmentsOf(i));
    if (!h.ok() || h->WaitLoad().blocks != 1) state.SkipWithError("load missed");
    i = (i + 1) % b.blocks;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
}
BENCHMARK(BM_StoreLoadAsync)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);

// A store of tiny blocks so 1M of them fit: the index is what is measured.
void BM_HashAndLookup(benchmark::State& state) {
  constexpr size_t kIndexed = 1 << 20;
  kvtier::Options o;
  o.layout.num_layers = 1;
  o.layout.kv_heads = 1;
  o.layout.head_dim = 2;
  o.layout.block_tokens = 16;
  o.model_id = "bench-index";
  o.host.capacity_bytes = kIndexed * 192;
  o.host.lock_memory = false;
  static auto store = std::move(kvtier::Store::Open(o)).value();
  const size_t tokens = static_cast<size_t>(state.range(0));
  std::vector<uint32_t> prompt(tokens);
  for (size_t i = 0; i < tokens; ++i) prompt[i] = static_cast<uint32_t>(i * 2654435761u);
  static bool filled = false;
  if (!filled) {
    // 1M blocks: this prompt's chain plus unrelated prompts.
    const auto chain = store->hasher().Chain(prompt);
    std::vector<std::byte> kv(store->layout().BlockBytes() * chain.size());
    std::vector<Segment> segs;
    for (size_t i = 0; i < chain.size() * store->layout().SegmentsPerBlock(); ++i)
      segs.push_back({kv.data() + i * store->layout().SegmentBytes(),
                      store->layout().SegmentBytes()});
    for (uint32_t p = 1;
         store->Stats().tier(kvtier::Tier::kHost).blocks + chain.size() < kIndexed; ++p) {
      std::vector<uint32_t> other(prompt.size(), p);
      other[0] = p * 7;
      (void)store->Save(store->hasher().Chain(other), segs);
    }
    (void)store->Save(chain, segs);
    filled = true;
  }
  size_t hit = 0;
  for (auto _ : state) {
    const auto chain = store->hasher().Chain(prompt);
    hit = store->Lookup(chain).blocks;
    benchmark::DoNotOptimize(hit);
  }
  state.counters["hit_blocks"] = static_cast<double>(hit);
  state.counters["indexed_blocks"] =
      static_cast<double>(store->Stats().tier(kvtier::Tier::kHost).blocks);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * tokens));
}
BENCHMARK(BM_HashAndLookup)->Arg(131072)->Unit(benchmark::kMicrosecond);

}  // namespace
