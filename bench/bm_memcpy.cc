// BM_Memcpy: the baseline every byte-moving benchmark is a ratio against.
// Source and destination are larger than the last-level cache, so each
// iteration copies block-size bytes from memory, as a tier copy would.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

namespace {

constexpr size_t kWorkingSetBytes = size_t{512} << 20;  // >> L3: out of cache

void BM_Memcpy(benchmark::State& state) {
  const size_t block = static_cast<size_t>(state.range(0));
  const size_t count = kWorkingSetBytes / block;
  std::vector<char> src(count * block, 1), dst(count * block, 2);
  size_t i = 0;
  for (auto _ : state) {
    std::memcpy(dst.data() + i * block, src.data() + i * block, block);
    benchmark::ClobberMemory();
    i = (i + 1) % count;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
}
BENCHMARK(BM_Memcpy)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);

}  // namespace
