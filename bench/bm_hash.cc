// BM_PrefixHash: PrefixHasher::Chain over a whole prompt, 16-token blocks,
// the call the engine makes before every Lookup. Items are tokens; bytes are
// the 4-byte token ids hashed.
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "kvtier/hash.h"

namespace kvtier {
namespace {

void BM_PrefixHash(benchmark::State& state) {
  const size_t tokens = static_cast<size_t>(state.range(0));
  std::vector<uint32_t> prompt(tokens);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (uint32_t& t : prompt) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t = static_cast<uint32_t>(x % 128256);  // Llama-3 vocabulary
  }
  Namespace ns;
  ns.model_id = "meta-llama/Llama-3.1-8B@main";
  ns.layout_fingerprint = 0x8fc88138b52e541aull;
  const PrefixHasher hasher(ns, 16);

  for (auto _ : state) {
    std::vector<BlockHash> chain = hasher.Chain(prompt);
    benchmark::DoNotOptimize(chain.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * tokens));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * tokens * 4));
  state.counters["blocks"] = static_cast<double>(tokens / 16);
}
BENCHMARK(BM_PrefixHash)->Arg(4096)->Arg(131072);

}  // namespace
}  // namespace kvtier
