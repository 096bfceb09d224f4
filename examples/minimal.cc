// kvtier-minimal: the smallest complete use of the C++ API.
#include <cstdio>
#include <vector>

#include "kvtier/kvtier.h"

int main() {
  kvtier::Options options;
  options.layout = {.num_layers = 2, .kv_heads = 4, .head_dim = 64, .block_tokens = 16};
  options.model_id = "my-model@v1";
  options.host.capacity_bytes = 64 << 20;
  auto store = kvtier::Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }

  std::vector<uint32_t> prompt(64);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<uint32_t>(i);
  const auto chain = (*store)->hasher().Chain(prompt);  // 4 blocks of 16 tokens

  // The engine's KV for those blocks: segments_per_block pages per block.
  const kvtier::KvLayout& layout = (*store)->layout();
  std::vector<std::byte> kv(chain.size() * layout.BlockBytes(), std::byte{7});
  std::vector<kvtier::Segment> segments;
  for (size_t i = 0; i < chain.size() * layout.SegmentsPerBlock(); ++i)
    segments.push_back({kv.data() + i * layout.SegmentBytes(), layout.SegmentBytes()});

  auto saved = (*store)->Save(chain, segments);
  auto hit = (*store)->Lookup(chain);
  auto loaded = (*store)->Load(chain, segments);
  std::printf("saved %zu blocks; lookup hits %zu tokens; loaded %zu blocks\n",
              saved.ok() ? saved->stored : 0, hit.tokens, loaded.ok() ? loaded->blocks : 0);
  return 0;
}
