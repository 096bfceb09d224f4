/* kvtier_c.h's structs as kvtier 0.1 released them (frozen: never edit).
 * A caller built against 0.1 passes these layouts; the library must keep
 * accepting them (struct_size = sizeof(kvtier_options_v1)). */
#ifndef KVTIER_TESTS_C_ABI_KVTIER_C_V1_H_
#define KVTIER_TESTS_C_ABI_KVTIER_C_V1_H_

#include "kvtier/kvtier_c.h"

typedef struct kvtier_options_v1 {
  size_t struct_size;
  uint32_t num_layers;
  uint32_t kv_heads;
  uint32_t head_dim;
  kvtier_dtype dtype;
  uint32_t block_tokens;
  uint32_t parts_per_layer;
  const uint32_t* layer_windows;
  const char* model_id;
  const char* tenant_salt;
  uint32_t rank;
  uint64_t gpu_capacity_bytes;
  uint64_t host_capacity_bytes;
  int host_lock_memory;
  kvtier_codec host_codec;
  uint64_t nvme_capacity_bytes;
  uint32_t swa_checkpoint_blocks;
} kvtier_options_v1;

typedef struct kvtier_stats_v1 {
  uint64_t host_capacity_bytes;
  uint64_t host_used_bytes;
  uint64_t host_blocks;
  uint64_t host_hits;
  uint64_t host_evictions;
  uint64_t host_checksum_errors;
  uint64_t lookups;
  uint64_t lookup_hit_blocks;
  uint64_t load_hit_blocks;
  uint64_t save_new_blocks;
  uint64_t save_refreshed_blocks;
  uint64_t invalid_calls;
  int host_memory_locked;
  uint64_t save_trimmed_blocks;
  uint64_t trim_bytes_saved;
} kvtier_stats_v1;

/* The sizes 0.1 had on x86-64 (checked against kvtier_c.h's constants). */
_Static_assert(sizeof(kvtier_options_v1) == 104, "0.1's kvtier_options is 104 bytes");
_Static_assert(sizeof(kvtier_stats_v1) == 120, "0.1's kvtier_stats is 120 bytes");

#endif
