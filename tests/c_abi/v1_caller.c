/* kvtier-c-abi-v1: a C caller built against 0.1's kvtier_c.h structs
 * (kvtier_c_v1.h) and linked to today's libkvtier.so. It fills the 0.1
 * struct by hand (0.1's kvtier_options_init wrote 104 bytes) and must still
 * open, save, look up and load byte-exact, and read 0.1's stats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtier_c_v1.h"

#define CHECK(cond, what)                                      \
  do {                                                         \
    if (!(cond)) {                                             \
      fprintf(stderr, "FAILED: %s (%s)\n", what, err.message); \
      return 1;                                                \
    }                                                          \
  } while (0)

enum { kBlockTokens = 16, kBlocks = 6, kTokens = kBlocks * kBlockTokens };

int main(void) {
  kvtier_error err = {{0}};
  kvtier_options_v1 o;
  memset(&o, 0, sizeof(o));
  o.struct_size = sizeof(o);
  o.num_layers = 2;
  o.kv_heads = 2;
  o.head_dim = 16;
  o.dtype = KVTIER_DTYPE_FP16;
  o.block_tokens = kBlockTokens;
  o.parts_per_layer = 2;
  o.model_id = "abi-v1-model@1";
  o.host_capacity_bytes = 4u << 20;
  o.host_codec = KVTIER_CODEC_RAW;

  kvtier_store* store = NULL;
  CHECK(kvtier_open((const kvtier_options*)&o, &store, &err) == KVTIER_OK, "open");

  uint32_t tokens[kTokens];
  for (int i = 0; i < kTokens; ++i) tokens[i] = (uint32_t)(i * 3 + 1);
  kvtier_block_hash chain[kBlocks];
  CHECK(kvtier_hash_chain(store, tokens, kTokens, chain, kBlocks, &err) == KVTIER_OK,
        "hash_chain");
  const size_t per_block = kvtier_segments_per_block(store);
  const size_t seg_bytes = kvtier_segment_bytes(store);
  const size_t n = kBlocks * per_block;
  unsigned char* src = malloc(n * seg_bytes);
  unsigned char* dst = calloc(n, seg_bytes);
  kvtier_segment* src_segs = malloc(n * sizeof(kvtier_segment));
  kvtier_segment* dst_segs = malloc(n * sizeof(kvtier_segment));
  for (size_t i = 0; i < n * seg_bytes; ++i) src[i] = (unsigned char)(i * 7 + 5);
  for (size_t i = 0; i < n; ++i) {
    src_segs[i] = (kvtier_segment){src + i * seg_bytes, seg_bytes, 0};
    dst_segs[i] = (kvtier_segment){dst + i * seg_bytes, seg_bytes, 0};
  }
  size_t stored = 0, hit = 0, loaded = 0;
  CHECK(kvtier_save(store, chain, kBlocks, 0, src_segs, n, &stored, &err) == KVTIER_OK,
        "save");
  CHECK(kvtier_lookup(store, chain, kBlocks, &hit, &err) == KVTIER_OK, "lookup");
  CHECK(kvtier_load(store, chain, hit, dst_segs, hit * per_block, &loaded, &err) ==
            KVTIER_OK,
        "load");
  CHECK(stored == kBlocks && hit == kBlocks && loaded == kBlocks, "all blocks served");
  CHECK(memcmp(src, dst, n * seg_bytes) == 0, "byte-exact");

  kvtier_stats_v1 stats;
  CHECK(kvtier_stats_get(store, (kvtier_stats*)&stats) == KVTIER_OK, "stats");
  CHECK(stats.host_blocks == kBlocks && stats.save_new_blocks == kBlocks,
        "0.1 stats layout");
  kvtier_close(store);
  free(src);
  free(dst);
  free(src_segs);
  free(dst_segs);
  printf("a 0.1 caller (struct_size %zu) opened and round-tripped %d blocks\n", sizeof(o),
         kBlocks);
  return 0;
}
