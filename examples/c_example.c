/* kvtier-c-example: the C API end to end. Saves a prompt's blocks, finds
 * them again, loads them back and checks every byte. Exits non-zero on any
 * failure, so it also runs as a test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtier/kvtier_c.h"

#define CHECK(call)                                                        \
  do {                                                                     \
    kvtier_code code_ = (call);                                            \
    if (code_ != KVTIER_OK) {                                              \
      fprintf(stderr, "%s failed (%d): %s\n", #call, code_, err.message); \
      return 1;                                                            \
    }                                                                      \
  } while (0)

enum { kTokens = 200, kBlockTokens = 16, kBlocks = kTokens / kBlockTokens };

int main(void) {
  kvtier_error err = {{0}};
  kvtier_options options;
  kvtier_options_init(&options);
  options.num_layers = 4;
  options.kv_heads = 2;
  options.head_dim = 64;
  options.block_tokens = kBlockTokens;
  options.model_id = "c-example-model@1";
  options.host_capacity_bytes = 16u << 20;

  kvtier_store* store = NULL;
  CHECK(kvtier_open(&options, &store, &err));

  uint32_t tokens[kTokens];
  for (uint32_t i = 0; i < kTokens; ++i) tokens[i] = 1000 + i * 7;
  kvtier_block_hash chain[kBlocks];
  CHECK(kvtier_hash_chain(store, tokens, kTokens, chain, kBlocks, &err));

  /* Asking for more blocks than the tokens hold is a clear error. */
  kvtier_block_hash too_many[kBlocks + 1];
  if (kvtier_hash_chain(store, tokens, kTokens, too_many, kBlocks + 1, &err) !=
      KVTIER_INVALID_ARGUMENT) {
    fprintf(stderr, "a chain longer than the tokens was accepted\n");
    return 1;
  }

  const size_t per_block = kvtier_segments_per_block(store);
  const size_t seg_bytes = kvtier_segment_bytes(store);
  const size_t n_segments = kBlocks * per_block;
  unsigned char* src = malloc(n_segments * seg_bytes);
  unsigned char* dst = calloc(n_segments, seg_bytes);
  kvtier_segment* src_segs = malloc(n_segments * sizeof(kvtier_segment));
  kvtier_segment* dst_segs = malloc(n_segments * sizeof(kvtier_segment));
  for (size_t i = 0; i < n_segments * seg_bytes; ++i) src[i] = (unsigned char)(i * 31 + 7);
  for (size_t i = 0; i < n_segments; ++i) {
    src_segs[i] = (kvtier_segment){src + i * seg_bytes, seg_bytes, 0};
    dst_segs[i] = (kvtier_segment){dst + i * seg_bytes, seg_bytes, 0};
  }

  size_t hit = 0, stored = 0, loaded = 0;
  CHECK(kvtier_lookup(store, chain, kBlocks, &hit, &err));
  if (hit != 0) return fprintf(stderr, "empty store hit %zu blocks\n", hit), 1;
  CHECK(kvtier_save(store, chain, kBlocks, 0, src_segs, n_segments, &stored, &err));
  CHECK(kvtier_lookup(store, chain, kBlocks, &hit, &err));
  CHECK(kvtier_load(store, chain, hit, dst_segs, hit * per_block, &loaded, &err));
  if (stored != kBlocks || hit != kBlocks || loaded != kBlocks) {
    fprintf(stderr, "stored %zu, hit %zu, loaded %zu of %d\n", stored, hit, loaded, kBlocks);
    return 1;
  }
  if (memcmp(src, dst, n_segments * seg_bytes) != 0) {
    fprintf(stderr, "loaded bytes differ from saved bytes\n");
    return 1;
  }

  /* A wrong segment count is rejected with a message naming the field. */
  if (kvtier_load(store, chain, kBlocks, dst_segs, n_segments - 1, &loaded, &err) !=
          KVTIER_INVALID_ARGUMENT ||
      strstr(err.message, "load.dst") == NULL) {
    fprintf(stderr, "a wrong segment count was not rejected clearly: %s\n", err.message);
    return 1;
  }

  kvtier_stats stats;
  CHECK(kvtier_stats_get(store, &stats));
  printf("C API: saved %zu blocks, loaded %zu, host holds %llu blocks (%llu bytes)\n",
         stored, loaded, (unsigned long long)stats.host_blocks,
         (unsigned long long)stats.host_used_bytes);
  free(src);
  free(dst);
  free(src_segs);
  free(dst_segs);
  kvtier_close(store);
  return 0;
}
