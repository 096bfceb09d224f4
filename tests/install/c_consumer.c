/* A C engine built with `cc c_consumer.c $(pkg-config --cflags --libs kvtier)`
 * against an installed kvtier: save, look up, load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtier/kvtier_c.h"

int main(void) {
  kvtier_error err = {{0}};
  kvtier_options o;
  kvtier_options_init(&o);
  o.num_layers = 2;
  o.kv_heads = 2;
  o.head_dim = 16;
  o.model_id = "c-consumer@1";
  o.host_capacity_bytes = 4u << 20;
  o.host_lock_memory = 0;
  kvtier_store* store = NULL;
  if (kvtier_open(&o, &store, &err) != KVTIER_OK)
    return fprintf(stderr, "%s\n", err.message), 1;
  uint32_t tokens[64];
  for (int i = 0; i < 64; ++i) tokens[i] = (uint32_t)(i * 9);
  kvtier_block_hash chain[4];
  size_t per = kvtier_segments_per_block(store), seg = kvtier_segment_bytes(store);
  size_t n = 4 * per, hit = 0, stored = 0, loaded = 0;
  unsigned char* src = malloc(n * seg);
  unsigned char* dst = calloc(n, seg);
  kvtier_segment s[64], d[64];
  for (size_t i = 0; i < n * seg; ++i) src[i] = (unsigned char)(i * 3);
  for (size_t i = 0; i < n; ++i) {
    s[i] = (kvtier_segment){src + i * seg, seg, 0};
    d[i] = (kvtier_segment){dst + i * seg, seg, 0};
  }
  if (kvtier_hash_chain(store, tokens, 64, chain, 4, &err) != KVTIER_OK ||
      kvtier_save(store, chain, 4, 0, s, n, &stored, &err) != KVTIER_OK ||
      kvtier_lookup(store, chain, 4, &hit, &err) != KVTIER_OK ||
      kvtier_load(store, chain, hit, d, hit * per, &loaded, &err) != KVTIER_OK) {
    return fprintf(stderr, "%s\n", err.message), 1;
  }
  if (stored != 4 || hit != 4 || loaded != 4 || memcmp(src, dst, n * seg) != 0) {
    return fprintf(stderr, "round trip failed\n"), 1;
  }
  printf("c consumer (kvtier %s): 4 blocks saved, found and loaded\n", kvtier_version());
  kvtier_close(store);
  free(src);
  free(dst);
  return 0;
}
