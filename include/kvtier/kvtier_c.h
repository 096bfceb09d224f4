/* kvtier C API: the Store for engines written in C or reached through an FFI
 * (Python ctypes/cffi, Rust, Go). The same calls and guarantees as the C++
 * API in kvtier/store.h, over an opaque handle.
 *
 * Thread safety: every function taking a kvtier_store* may be called
 * concurrently from any thread, except kvtier_close, which must be the last
 * call on that handle.
 *
 * Errors: every call returns a kvtier_code. When `err` is not NULL, a
 * failing call writes a NUL-terminated message naming the offending field
 * into it. A miss is not an error: lookup and load report how many blocks
 * they found.
 */
#ifndef KVTIER_KVTIER_C_H_
#define KVTIER_KVTIER_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Same values and meaning as kvtier::StatusCode. */
typedef enum kvtier_code {
  KVTIER_OK = 0,
  KVTIER_INVALID_ARGUMENT = 1, /* fix the call; never retry */
  KVTIER_NOT_SUPPORTED = 2,    /* not in this build; never retry */
  KVTIER_NOT_FOUND = 3,
  KVTIER_RESOURCE_EXHAUSTED = 4, /* transient; retry later */
  KVTIER_UNAVAILABLE = 5,        /* transient; retry later */
  KVTIER_IO_ERROR = 6,
  KVTIER_CORRUPTION = 7,
  KVTIER_INTERNAL = 8
} kvtier_code;

typedef enum kvtier_dtype {
  KVTIER_DTYPE_FP16 = 1,
  KVTIER_DTYPE_BF16 = 2,
  KVTIER_DTYPE_FP32 = 3,
  KVTIER_DTYPE_FP8_E4M3 = 4
} kvtier_dtype;

typedef enum kvtier_codec {
  KVTIER_CODEC_RAW = 0,
  KVTIER_CODEC_INT8 = 1,
  KVTIER_CODEC_FP8 = 2
} kvtier_codec;

typedef struct kvtier_error {
  char message[512];
} kvtier_error;

typedef struct kvtier_block_hash {
  uint64_t lo;
  uint64_t hi;
} kvtier_block_hash;

/* One contiguous piece of a block in the engine's memory; see store.h. */
typedef struct kvtier_segment {
  void* data;
  size_t bytes;
  int device; /* 0 = host memory, 1 = device memory (needs the GPU tier) */
} kvtier_segment;

/* Fill with kvtier_options_init, then set fields. `struct_size` lets later
 * versions add fields at the end without breaking callers built earlier. */
typedef struct kvtier_options {
  size_t struct_size;
  /* layout */
  uint32_t num_layers;
  uint32_t kv_heads;
  uint32_t head_dim;
  kvtier_dtype dtype;
  uint32_t block_tokens;
  uint32_t parts_per_layer;
  const uint32_t* layer_windows; /* NULL or num_layers entries; 0 = full attention */
  /* namespace */
  const char* model_id;    /* required */
  const char* tenant_salt; /* may be NULL */
  uint32_t rank;
  /* tiers */
  uint64_t gpu_capacity_bytes;
  uint64_t host_capacity_bytes;
  int host_lock_memory; /* nonzero: page-lock the host arena */
  kvtier_codec host_codec;
  uint64_t nvme_capacity_bytes;
  /* sliding-window trimming: keep sliding layers every N blocks (0 = chain
   * ends only); see Options::swa_checkpoint_blocks */
  uint32_t swa_checkpoint_blocks;
} kvtier_options;

/* Counters; see kvtier/stats.h for each one's meaning. */
typedef struct kvtier_stats {
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
  uint64_t save_trimmed_blocks; /* sliding-window trimming */
  uint64_t trim_bytes_saved;
} kvtier_stats;

typedef struct kvtier_store kvtier_store;

void kvtier_options_init(kvtier_options* options);

/* Opens a store; *out is set only on KVTIER_OK. */
kvtier_code kvtier_open(const kvtier_options* options, kvtier_store** out,
                        kvtier_error* err);
/* Releases the store and its memory. NULL is a no-op. */
void kvtier_close(kvtier_store* store);

/* Bytes of one segment and segments per block, from the store's layout. */
size_t kvtier_segment_bytes(const kvtier_store* store);
size_t kvtier_segments_per_block(const kvtier_store* store);

/* Writes the hashes of the first n_blocks full blocks of `tokens` to `out`.
 * KVTIER_INVALID_ARGUMENT when n_tokens < n_blocks * block_tokens. */
kvtier_code kvtier_hash_chain(const kvtier_store* store, const uint32_t* tokens,
                              size_t n_tokens, kvtier_block_hash* out, size_t n_blocks,
                              kvtier_error* err);

/* *hit_blocks = the longest loadable prefix of the chain, in blocks. */
kvtier_code kvtier_lookup(kvtier_store* store, const kvtier_block_hash* chain,
                          size_t n_blocks, size_t* hit_blocks, kvtier_error* err);

/* Loads a prefix of the chain into dst (n_blocks * segments_per_block
 * segments, block-major); *loaded = blocks written byte-exact. */
kvtier_code kvtier_load(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, const kvtier_segment* dst, size_t n_segments,
                        size_t* loaded, kvtier_error* err);

/* Saves blocks first_block..n_blocks-1 of the chain from src
 * ((n_blocks - first_block) * segments_per_block segments); *stored = blocks
 * written for the first time (may be NULL). */
kvtier_code kvtier_save(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, size_t first_block, const kvtier_segment* src,
                        size_t n_segments, size_t* stored, kvtier_error* err);

kvtier_code kvtier_stats_get(const kvtier_store* store, kvtier_stats* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KVTIER_KVTIER_C_H_ */
