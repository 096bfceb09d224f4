// A C++ engine's loop through an installed kvtier: save, look up, load.
#include <cstdio>
#include <cstring>
#include <vector>

#include "kvtier/kvtier.h"
#include "kvtier/version.h"

int main() {
  static_assert(KVTIER_VERSION_MAJOR == 0 && KVTIER_VERSION_MINOR >= 2);
  kvtier::Options options;
  options.layout = {.num_layers = 2, .kv_heads = 2, .head_dim = 16, .block_tokens = 16};
  options.model_id = "consumer@1";
  options.host.capacity_bytes = 4 << 20;
  options.host.lock_memory = false;
  auto opened = kvtier::Store::Open(options);
  if (!opened.ok())
    return std::fprintf(stderr, "%s\n", opened.status().ToString().c_str()), 1;
  auto store = std::move(opened).value();
  std::vector<uint32_t> tokens(64);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 5);
  auto chain = store->hasher().Chain(tokens);
  const size_t n = chain.size() * store->layout().SegmentsPerBlock();
  const size_t seg = store->layout().SegmentBytes();
  std::vector<unsigned char> src(n * seg), dst(n * seg);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 11);
  std::vector<kvtier::Segment> s(n), d(n);
  for (size_t i = 0; i < n; ++i) {
    s[i] = {src.data() + i * seg, seg};
    d[i] = {dst.data() + i * seg, seg};
  }
  auto saved = store->Save(chain, s);
  auto hit = store->Lookup(chain);
  auto loaded = store->Load({chain.data(), hit.blocks}, d);
  if (!saved.ok() || saved->stored != chain.size() || hit.blocks != chain.size() ||
      !loaded.ok() || loaded->blocks != chain.size() || src != dst) {
    std::fprintf(stderr, "round trip failed\n");
    return 1;
  }
  std::printf("c++ consumer: %zu blocks saved, found and loaded\n", chain.size());
  return 0;
}
