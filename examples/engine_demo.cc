// kvtier-demo: drives a Store the way an inference engine does.
//
// Several multi-turn chats share one system prompt. Each turn the "engine"
// hashes the whole prompt (system + history + new message), asks the store
// how much is cached, loads that prefix into its KV buffers, "computes" the
// rest and saves it. The stand-in for attention makes each block's KV a pure
// function of its hash, so every loaded byte is also checked.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kvtier/kvtier.h"

namespace {

using kvtier::BlockHash;
using kvtier::Segment;

// The engine's stand-in for the model: KV of a block derived from its hash.
void ComputeKv(const BlockHash& h, size_t segment, std::byte* out, size_t bytes) {
  uint64_t x = h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull) ^ ((segment + 1) * 0xD1B54A32D192ED03ull);
  for (size_t i = 0; i < bytes; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out + i, &x, std::min<size_t>(8, bytes - i));
  }
}

// KV buffers for one prompt, block-major segments as the layout describes.
struct KvBuffers {
  KvBuffers(const kvtier::KvLayout& layout, size_t blocks)
      : per_block(layout.SegmentsPerBlock()), seg_bytes(layout.SegmentBytes()),
        memory(blocks * per_block * seg_bytes) {
    for (size_t i = 0; i < blocks * per_block; ++i)
      segments.push_back(Segment{memory.data() + i * seg_bytes, seg_bytes});
  }
  std::span<const Segment> Blocks(size_t first, size_t n) const {
    return std::span<const Segment>(segments).subspan(first * per_block, n * per_block);
  }
  size_t per_block, seg_bytes;
  std::vector<std::byte> memory;
  std::vector<Segment> segments;
};

struct Chat {
  std::vector<uint32_t> tokens;  // the conversation so far
};

void Append(std::vector<uint32_t>& tokens, std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<uint32_t> vocab(3, 128000);
  for (size_t i = 0; i < n; ++i) tokens.push_back(vocab(rng));
}

}  // namespace

int main() {
  kvtier::Options options;
  options.layout.num_layers = 8;  // a small model: 8 layers x 8 KV heads x 128
  options.layout.kv_heads = 8;
  options.layout.head_dim = 128;
  options.layout.dtype = kvtier::DType::kFp16;
  options.layout.block_tokens = 16;
  options.model_id = "demo-model@rev1";
  options.host.capacity_bytes = size_t{256} << 20;
  auto opened = kvtier::Store::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "kvtier-demo: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  kvtier::Store& store = **opened;
  const kvtier::KvLayout& layout = store.layout();
  std::printf("kvtier demo: %u layers, %zu KiB per block of %u tokens, %zu MiB host tier\n",
              layout.num_layers, layout.BlockBytes() >> 10, layout.block_tokens,
              size_t{options.host.capacity_bytes >> 20});

  std::mt19937 rng(42);
  std::vector<uint32_t> system_prompt;
  Append(system_prompt, rng, 700);
  std::vector<Chat> chats(4, Chat{system_prompt});
  size_t verify_failures = 0;

  std::printf("%-5s %-5s %8s %8s %9s  %s\n", "chat", "turn", "prompt", "reused", "computed",
              "from");
  for (int turn = 1; turn <= 4; ++turn) {
    for (size_t c = 0; c < chats.size(); ++c) {
      Chat& chat = chats[c];
      Append(chat.tokens, rng, 60 + rng() % 200);  // the user's new message

      const std::vector<BlockHash> chain = store.hasher().Chain(chat.tokens);
      const kvtier::LookupResult hit = store.Lookup(chain);
      KvBuffers kv(layout, chain.size());
      auto loaded = store.Load(std::span(chain).first(hit.blocks), kv.Blocks(0, hit.blocks));
      const size_t reused = loaded.ok() ? loaded->blocks : 0;

      // Check the loaded KV, then "compute" the rest and hand it to the store.
      std::vector<std::byte> want(kv.seg_bytes);
      for (size_t b = 0; b < chain.size(); ++b) {
        for (size_t s = 0; s < kv.per_block; ++s) {
          std::byte* seg = static_cast<std::byte*>(kv.segments[b * kv.per_block + s].data);
          if (b < reused) {
            ComputeKv(chain[b], s, want.data(), kv.seg_bytes);
            verify_failures += std::memcmp(want.data(), seg, kv.seg_bytes) != 0;
          } else {
            ComputeKv(chain[b], s, seg, kv.seg_bytes);
          }
        }
      }
      auto saved = store.Save(chain, kv.Blocks(reused, chain.size() - reused), reused);
      if (!saved.ok()) std::fprintf(stderr, "save: %s\n", saved.status().ToString().c_str());

      const size_t reused_tokens = reused * layout.block_tokens;
      std::printf("%-5zu %-5d %8zu %8zu %9zu  %s\n", c + 1, turn, chat.tokens.size(),
                  reused_tokens, chat.tokens.size() - reused_tokens,
                  reused == 0 ? "-" : "host");
      Append(chat.tokens, rng, 40 + rng() % 120);  // the assistant's reply
    }
  }

  const kvtier::StoreStats stats = store.Stats();
  const kvtier::TierStats& host = stats.tier(kvtier::Tier::kHost);
  std::printf(
      "\nblocks: %llu looked up, %llu hit, %llu loaded and verified, %llu saved\n"
      "host tier: %llu blocks, %.1f of %.1f MiB, %llu evictions, page-locked: %s\n",
      (unsigned long long)stats.lookup_blocks, (unsigned long long)stats.lookup_hit_blocks,
      (unsigned long long)stats.load_hit_blocks, (unsigned long long)stats.save_new_blocks,
      (unsigned long long)host.blocks, host.used_bytes / 1048576.0,
      host.capacity_bytes / 1048576.0, (unsigned long long)host.evictions,
      stats.host_memory_locked ? "yes" : "no");
  if (verify_failures > 0) {
    std::printf("ERROR: %zu loaded segments differ from what was saved\n", verify_failures);
    return 1;
  }
  std::printf("every loaded byte matched what was saved\n");
  return 0;
}
