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
 * they found. No C++ exception ever crosses this API: one that escapes
 * the library (std::bad_alloc) becomes KVTIER_INTERNAL.
 *
 * Compatibility: structs that carry a `struct_size` grow only at the end.
 * The library accepts any struct_size from the first released size of that
 * struct up to its own (fields past the caller's size take their defaults)
 * and refuses a larger one (a caller built against a newer kvtier) with
 * KVTIER_INVALID_ARGUMENT naming struct_size. kvtier_stats (0.1) is frozen;
 * newer counters come through the kvtier_*_stats_get calls.
 *
 * Beyond save, lookup and load: erase and clear (kvtier_erase,
 * kvtier_clear), lookup leases (kvtier_lookup_and_lease), asynchronous
 * transfers (kvtier_load_start, kvtier_save_start and the kvtier_transfer_*
 * calls); blocks named by an engine's own keys and hashes
 * (kvtier_engine_key_chain, kvtier_vllm_block_hashes,
 * kvtier_sglang_page_hashes: kvtier/kvtier_c_keys.h) and the scheduler and
 * its workers in separate processes (kvtier/kvtier_c_split.h); this header
 * includes both.
 */
#ifndef KVTIER_KVTIER_C_H_
#define KVTIER_KVTIER_C_H_

#include <stddef.h>
#include <stdint.h>

#include "kvtier/export.h"
#include "kvtier/version.h"

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

typedef enum kvtier_tier {
  KVTIER_TIER_GPU = 0,
  KVTIER_TIER_HOST = 1,
  KVTIER_TIER_NVME = 2,
  KVTIER_TIER_REMOTE = 3 /* shared (Redis); kvtier_tier_stats_get reports it */
} kvtier_tier;

/* How remote_endpoints are read; see kvtier::RemoteKind. */
typedef enum kvtier_remote_kind {
  KVTIER_REMOTE_REDIS = 0,        /* one server */
  KVTIER_REMOTE_REDIS_CLUSTER = 1 /* seed nodes of a Redis Cluster */
} kvtier_remote_kind;

/* When a saved block goes down to NVMe; see kvtier::WritePolicy. */
typedef enum kvtier_write_policy {
  KVTIER_WRITE_THROUGH = 0,
  KVTIER_WRITE_BACK = 1
} kvtier_write_policy;

/* Which block a full tier gives up; see kvtier::EvictionPolicy. */
typedef enum kvtier_eviction {
  KVTIER_EVICTION_LRU = 0,
  KVTIER_EVICTION_SLRU = 1,
  KVTIER_EVICTION_FREQUENCY = 2, /* frequency-admitted SLRU (kvtier::EvictionPolicy) */
  KVTIER_EVICTION_SESSION = 3    /* SLRU plus the engine's session hints */
} kvtier_eviction;

typedef enum kvtier_log_level {
  KVTIER_LOG_DEBUG = 0,
  KVTIER_LOG_INFO = 1,
  KVTIER_LOG_WARNING = 2,
  KVTIER_LOG_ERROR = 3,
  KVTIER_LOG_OFF = 4
} kvtier_log_level;

/* Receives the store's log messages (any thread; must not call back into
 * the store). `message` is valid during the call only. */
typedef void (*kvtier_log_fn)(void* user_data, kvtier_log_level level,
                              const char* message);

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
  int device; /* 0 = host memory, 1 = CUDA memory on options' gpu_device */
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
  /* ---- 0.2: every other option (kvtier_options_init sets their defaults) */
  const char* const* nvme_directories; /* nvme_directory_count paths; each must
                                          exist and accept O_DIRECT */
  size_t nvme_directory_count;
  uint32_t nvme_queue_depth;            /* I/Os in flight per batch (16) */
  kvtier_write_policy nvme_write_policy; /* KVTIER_WRITE_THROUGH */
  int nvme_allow_buffered_io;           /* nonzero: page cache if O_DIRECT is refused */
  int nvme_wipe_on_mismatch;            /* nonzero: wipe a directory of another namespace */
  kvtier_codec nvme_codec;
  uint32_t nvme_write_queue_blocks;     /* write-through copies waiting (1024) */
  int gpu_device;
  kvtier_codec gpu_codec;
  kvtier_eviction eviction;             /* KVTIER_EVICTION_SLRU */
  kvtier_log_fn log;                    /* NULL: stderr at the level KVTIER_LOG names */
  void* log_user_data;                  /* passed to `log` */
  kvtier_log_level log_level;           /* least level `log` receives (WARNING) */
  /* ---- the remote tier (Redis, Valkey); see kvtier::RemoteTierOptions */
  const char* const* remote_endpoints;  /* remote_endpoint_count "host:port"; none =
                                           no remote tier */
  size_t remote_endpoint_count;
  kvtier_remote_kind remote_kind;       /* KVTIER_REMOTE_REDIS */
  const char* remote_username;          /* NULL: AUTH password only */
  const char* remote_password;          /* NULL: no AUTH */
  const char* remote_key_prefix;        /* NULL: "kvtier" */
  const char* remote_checksum_key;      /* NULL: no keyed checksum; else >= 16 bytes */
  uint32_t remote_ttl_seconds;          /* 0: until Redis evicts */
  uint32_t remote_queue_blocks;         /* write-throughs waiting (256) */
  uint32_t remote_exists_cache_ms;      /* how long a presence answer is trusted (200) */
  /* TLS to the remote tier: on when remote_tls_ca_file or remote_tls_ca_dir
   * is set; the server's certificate is then always verified. NULL = not
   * set. See kvtier::RemoteTierOptions. A caller whose struct_size ends
   * before these fields has TLS off. */
  const char* remote_tls_ca_file;       /* PEM bundle of the CAs to trust */
  const char* remote_tls_ca_dir;        /* directory of hashed CA certificates */
  const char* remote_tls_cert_file;     /* client certificate (mutual TLS) */
  const char* remote_tls_key_file;      /* its unencrypted PEM private key */
  const char* remote_tls_server_name;   /* name the certificate must carry; NULL =
                                           the endpoint's host */
  /* ---- the NVMe tier's keyed checksum; see kvtier::NvmeTierOptions. At most
     one of key and key file. */
  const char* nvme_checksum_key;        /* NULL: none; else >= 16 bytes */
  const char* nvme_checksum_key_file;   /* NULL: none; a private file holding it */
  int nvme_create_checksum_key_file;    /* nonzero: create that file (0600) if missing */
  /* ---- shadow verification and load-or-recompute; see kvtier::ShadowOptions
     and kvtier::LoadCostOptions. A caller whose struct_size ends before a
     field gets its default (off). */
  double shadow_sample_rate;            /* share of served blocks sampled, 0..1 (0) */
  uint32_t shadow_max_pending_blocks;   /* samples held at once, 1..65536 (64) */
  double load_cost_prefill_tokens_per_second; /* > 0 caps Lookup by cost; 0 off (0) */
  double load_cost_measurement_weight;  /* weight of a new measurement, (0, 1] (0.1) */
} kvtier_options;

/* sizeof(kvtier_options) in kvtier 0.1, the smallest struct_size accepted. */
#define KVTIER_OPTIONS_SIZE_V1 ((size_t)104)

/* Counters; see kvtier/stats.h for each one's meaning. Frozen at 0.1's
 * layout: kvtier_tier_stats_get, kvtier_nvme_stats_get and
 * kvtier_call_stats_get report everything, for every tier. */
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

/* One tier's counters (kvtier::TierStats). Set struct_size = sizeof before
 * the call; kvtier_tier_stats_get fills that many bytes. */
typedef struct kvtier_tier_stats {
  size_t struct_size;
  int enabled;
  kvtier_codec codec;
  uint64_t capacity_bytes;
  uint64_t used_bytes;
  uint64_t slot_bytes;
  uint64_t blocks;
  uint64_t hits;
  uint64_t inserts;
  uint64_t evictions;
  uint64_t placement_evictions;
  uint64_t orphans_dropped;
  uint64_t rejected;
  uint64_t checksum_errors;
  uint64_t io_errors;
  uint64_t bytes_written;
  uint64_t bytes_read;
  uint64_t logical_bytes_written;
  uint64_t logical_bytes_read;
  /* Since 0.3: shadow verification of blocks this tier served. */
  uint64_t shadow_checked;
  uint64_t shadow_diverged;
} kvtier_tier_stats;

/* The NVMe tier's own figures (kvtier::NvmeStats); all zero when it is off. */
typedef struct kvtier_nvme_stats {
  size_t struct_size;
  int io_uring;
  int fixed_buffers;
  int direct_io;
  int wiped_at_open;
  uint64_t recovered_blocks;
  uint64_t recovery_dropped;
  uint64_t recovery_micros;
  uint64_t full_events;
  uint64_t manifest_errors;
  uint64_t copy_down_blocks;
  uint64_t copy_down_dropped;
  uint64_t promotions;
} kvtier_nvme_stats;

/* Per-call counters (kvtier::StoreStats outside the tiers). */
typedef struct kvtier_call_stats {
  size_t struct_size;
  uint64_t lookups;
  uint64_t lookup_blocks;
  uint64_t lookup_hit_blocks;
  uint64_t loads;
  uint64_t load_blocks;
  uint64_t load_hit_blocks;
  uint64_t saves;
  uint64_t save_blocks;
  uint64_t save_new_blocks;
  uint64_t save_refreshed_blocks;
  uint64_t invalid_calls;
  uint64_t save_trimmed_blocks;
  uint64_t trim_bytes_saved;
  uint64_t save_upgraded_blocks;
  int host_memory_locked;
  /* Since 0.2: Erase/Clear, lookup leases, asynchronous transfers. */
  uint64_t erased_blocks;
  uint64_t leases_granted;
  uint64_t leases_used;
  uint64_t leases_released;
  uint64_t leases_expired;
  uint64_t leases_active;
  uint64_t transfers_started;
  uint64_t transfers_cancelled;
  /* Since 0.3: shadow verification and load-or-recompute. */
  uint64_t shadow_sampled;
  uint64_t shadow_expired;
  uint64_t lookup_capped_blocks;
} kvtier_call_stats;

typedef struct kvtier_store kvtier_store;
/* A prefetch in flight; see kvtier::PrefetchHandle. */
typedef struct kvtier_prefetch kvtier_prefetch;

/* The library's version, "MAJOR.MINOR.PATCH" (KVTIER_VERSION_STRING of the
 * build that made the library, which may differ from the header's). */
KVTIER_EXPORT const char* kvtier_version(void);

/* Fills the first `size` bytes of *options (the caller's sizeof) with the
 * defaults, struct_size = size; nothing past them is written. Use the
 * kvtier_options_init macro, which passes sizeof(*options): a program built
 * against an older, shorter header then never has memory past its struct
 * written by a newer library. */
KVTIER_EXPORT void kvtier_options_init_sized(kvtier_options* options, size_t size);
/* The function of that name (kept for callers built before 0.2) fills 0.1's
 * fields only. */
KVTIER_EXPORT void kvtier_options_init(kvtier_options* options);
#define kvtier_options_init(options) \
  kvtier_options_init_sized((options), sizeof(*(options)))

/* Opens a store; *out is set only on KVTIER_OK. */
KVTIER_EXPORT kvtier_code kvtier_open(const kvtier_options* options, kvtier_store** out,
                        kvtier_error* err);
/* Releases the store and its memory. NULL is a no-op. */
KVTIER_EXPORT void kvtier_close(kvtier_store* store);

/* Bytes of one segment and segments per block, from the store's layout. */
KVTIER_EXPORT size_t kvtier_segment_bytes(const kvtier_store* store);
KVTIER_EXPORT size_t kvtier_segments_per_block(const kvtier_store* store);

/* Writes the hashes of the first n_blocks full blocks of `tokens` to `out`.
 * KVTIER_INVALID_ARGUMENT when n_tokens < n_blocks * block_tokens. */
KVTIER_EXPORT kvtier_code kvtier_hash_chain(const kvtier_store* store, const uint32_t* tokens,
                              size_t n_tokens, kvtier_block_hash* out, size_t n_blocks,
                              kvtier_error* err);

/* *hit_blocks = the longest loadable prefix of the chain, in blocks. */
KVTIER_EXPORT kvtier_code kvtier_lookup(kvtier_store* store, const kvtier_block_hash* chain,
                          size_t n_blocks, size_t* hit_blocks, kvtier_error* err);

/* Loads a prefix of the chain into dst (n_blocks * segments_per_block
 * segments, block-major); *loaded = blocks written byte-exact. */
KVTIER_EXPORT kvtier_code kvtier_load(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, const kvtier_segment* dst, size_t n_segments,
                        size_t* loaded, kvtier_error* err);

/* Saves blocks first_block..n_blocks-1 of the chain from src
 * ((n_blocks - first_block) * segments_per_block segments); *stored = blocks
 * written for the first time (may be NULL). */
KVTIER_EXPORT kvtier_code kvtier_save(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, size_t first_block, const kvtier_segment* src,
                        size_t n_segments, size_t* stored, kvtier_error* err);

KVTIER_EXPORT kvtier_code kvtier_stats_get(const kvtier_store* store, kvtier_stats* out);

/* Counters of one tier; a tier that is off reports enabled = 0. */
KVTIER_EXPORT kvtier_code kvtier_tier_stats_get(const kvtier_store* store, kvtier_tier tier,
                                  kvtier_tier_stats* out, kvtier_error* err);
KVTIER_EXPORT kvtier_code kvtier_nvme_stats_get(const kvtier_store* store, kvtier_nvme_stats* out,
                                  kvtier_error* err);
KVTIER_EXPORT kvtier_code kvtier_call_stats_get(const kvtier_store* store, kvtier_call_stats* out,
                                  kvtier_error* err);

/* Starts moving the NVMe-only blocks of the chain's loadable prefix up to
 * host in the background (kvtier::Store::Prefetch). *out is a handle to
 * poll, wait on and release; releasing does not cancel the work. */
KVTIER_EXPORT kvtier_code kvtier_prefetch_start(kvtier_store* store, const kvtier_block_hash* chain,
                                  size_t n_blocks, kvtier_prefetch** out,
                                  kvtier_error* err);
/* 1 once the prefetch finished, else 0. Never blocks. */
KVTIER_EXPORT int kvtier_prefetch_done(const kvtier_prefetch* prefetch);
/* Blocks until it finished; returns the blocks it moved up. */
KVTIER_EXPORT size_t kvtier_prefetch_wait(const kvtier_prefetch* prefetch);
/* Releases the handle. NULL is a no-op. */
KVTIER_EXPORT void kvtier_prefetch_release(kvtier_prefetch* prefetch);

/* The store's metrics in the Prometheus text format (kvtier/metrics.h),
 * NUL-terminated, into buf (capacity bytes). *needed = the text's length +
 * 1 always; KVTIER_RESOURCE_EXHAUSTED when capacity is smaller (call again
 * with a larger buffer). buf may be NULL when capacity is 0. */
KVTIER_EXPORT kvtier_code kvtier_metrics_text(const kvtier_store* store, char* buf,
                                              size_t capacity, size_t* needed,
                                              kvtier_error* err);

/* Serves the store's metrics over HTTP on 127.0.0.1:port (0 = a free port;
 * kvtier_metrics_server_port says which) until kvtier_metrics_server_stop,
 * which must come before kvtier_close of the store. */
typedef struct kvtier_metrics_server kvtier_metrics_server;
KVTIER_EXPORT kvtier_code kvtier_metrics_server_start(const kvtier_store* store,
                                                      uint16_t port,
                                                      kvtier_metrics_server** out,
                                                      kvtier_error* err);
KVTIER_EXPORT uint16_t kvtier_metrics_server_port(const kvtier_metrics_server* server);
/* Stops serving and releases the server. NULL is a no-op. */
KVTIER_EXPORT void kvtier_metrics_server_stop(kvtier_metrics_server* server);

/* Opens a store from `options`, then a JSON config file (if config_file is
 * not NULL) and then, with KVTIER_CONFIG_ENV in flags, the KVTIER_*
 * environment variables applied over it (kvtier/config.h lists them). */
#define KVTIER_CONFIG_ENV 1
KVTIER_EXPORT kvtier_code kvtier_open_configured(const kvtier_options* options,
                                                 const char* config_file, int flags,
                                                 kvtier_store** out, kvtier_error* err);

/* Shadow verification (kvtier::Store::ShadowSampled / ShadowVerify,
 * kvtier/shadow.h; on with options.shadow_sample_rate > 0). */
/* The blocks of the chain a load sampled and kvtier still holds, as
 * ascending indices into it: *count of them, the first `capacity` written to
 * indices (NULL with capacity 0 to ask the count). */
KVTIER_EXPORT kvtier_code kvtier_shadow_sampled(kvtier_store* store,
                                                const kvtier_block_hash* chain,
                                                size_t n_blocks, size_t* indices,
                                                size_t capacity, size_t* count,
                                                kvtier_error* err);
/* Compares the engine's recomputation of a sampled block (segments_per_block
 * host segments) with what kvtier served and counts it on the serving tier.
 * *diverged = 1 when they differ (beyond the codec's bound for an 8-bit
 * tier), else 0; *tier = the tier that served it; relative_rms (may be NULL)
 * = the relative RMS error. KVTIER_NOT_FOUND when the block is not sampled. */
KVTIER_EXPORT kvtier_code kvtier_shadow_verify(kvtier_store* store,
                                               const kvtier_block_hash* block,
                                               const kvtier_segment* recomputed,
                                               size_t n_segments, int* diverged,
                                               kvtier_tier* tier, double* relative_rms,
                                               kvtier_error* err);

/* Waits until every background write-down queued so far is done or dropped. */
KVTIER_EXPORT kvtier_code kvtier_flush(kvtier_store* store, kvtier_error* err);

/* Erases the chain's blocks and every block stored below one of them from
 * every tier, durably (kvtier::Store::Erase); *erased = blocks removed (may
 * be NULL). KVTIER_UNAVAILABLE when some stay in use by a transfer for 10 s. */
KVTIER_EXPORT kvtier_code kvtier_erase(kvtier_store* store, const kvtier_block_hash* chain,
                                       size_t n_blocks, size_t* erased, kvtier_error* err);
/* Erases every block of the store's namespace (kvtier::Store::Clear). */
KVTIER_EXPORT kvtier_code kvtier_clear(kvtier_store* store, size_t* erased,
                                       kvtier_error* err);

/* ---- Lookup leases (kvtier::Store::LookupAndLease) ---------------------- */

/* kvtier_lookup that also pins the prefix it reports for up to lease_ms
 * milliseconds (1..60000), so a load passing *lease soon after serves all of
 * it. *lease = 0 when nothing was pinned. The lease ends with that load,
 * kvtier_release_lease, or expiry. */
KVTIER_EXPORT kvtier_code kvtier_lookup_and_lease(kvtier_store* store,
                                                  const kvtier_block_hash* chain,
                                                  size_t n_blocks, uint32_t lease_ms,
                                                  size_t* hit_blocks, uint64_t* lease,
                                                  kvtier_error* err);
/* Ends a lease without loading. *released = 1, or 0 when it had already
 * ended (may be NULL). */
KVTIER_EXPORT kvtier_code kvtier_release_lease(kvtier_store* store, uint64_t lease,
                                               int* released, kvtier_error* err);
/* kvtier_load under a lease from kvtier_lookup_and_lease (0 = none). */
KVTIER_EXPORT kvtier_code kvtier_load_leased(kvtier_store* store,
                                             const kvtier_block_hash* chain,
                                             size_t n_blocks, const kvtier_segment* dst,
                                             size_t n_segments, uint64_t lease,
                                             size_t* loaded, kvtier_error* err);

/* ---- The engine's request context (kvtier/request_context.h) ------------ */

typedef enum kvtier_session_state {
  KVTIER_SESSION_UNKNOWN = 0,
  KVTIER_SESSION_OPEN = 1,   /* more requests of this session may follow */
  KVTIER_SESSION_CLOSED = 2  /* this is the session's last request */
} kvtier_session_state;

/* What the engine knows of a request beyond its tokens; see
 * kvtier::RequestContext. Fill with kvtier_request_context_init, then set
 * fields. A session-aware eviction order (KVTIER_EVICTION_SESSION) files the
 * blocks under their session and sends a closed session's own blocks to the
 * cold end; the other orders ignore it. */
typedef struct kvtier_request_context {
  size_t struct_size;
  uint64_t session_id;    /* conversation, agent or sub-agent; 0 = unknown */
  int32_t session_state;  /* a kvtier_session_state */
  uint8_t priority;       /* > 0: kept as if reused; 0 = normal */
  double ttl_s;           /* seconds until the session's next request; 0 = unknown; >= 0 */
} kvtier_request_context;

/* Unknown everything, struct_size = sizeof. */
KVTIER_EXPORT void kvtier_request_context_init(kvtier_request_context* context);

/* kvtier_load_leased and kvtier_save with the request's context (NULL = none,
 * as the calls without it). KVTIER_INVALID_ARGUMENT names a bad field
 * ("context.struct_size", "load.context.session", "save.context.ttl_s"). A
 * request's load and save should carry the same context. */
KVTIER_EXPORT kvtier_code kvtier_load_in_context(kvtier_store* store,
                                                 const kvtier_block_hash* chain,
                                                 size_t n_blocks, const kvtier_segment* dst,
                                                 size_t n_segments, uint64_t lease,
                                                 const kvtier_request_context* context,
                                                 size_t* loaded, kvtier_error* err);
KVTIER_EXPORT kvtier_code kvtier_save_in_context(kvtier_store* store,
                                                 const kvtier_block_hash* chain,
                                                 size_t n_blocks, size_t first_block,
                                                 const kvtier_segment* src, size_t n_segments,
                                                 const kvtier_request_context* context,
                                                 size_t* stored, kvtier_error* err);

/* ---- Asynchronous transfers (kvtier/transfer.h) -------------------------- */

/* A load or save in flight. The memory dst/src point at stays borrowed
 * until it is done: keep it alive and untouched until kvtier_transfer_done
 * says 1. */
typedef struct kvtier_transfer kvtier_transfer;

typedef enum kvtier_block_outcome {
  KVTIER_BLOCK_PENDING = 0,   /* not finished yet */
  KVTIER_BLOCK_DONE = 1,      /* loaded (verified), or stored / refreshed */
  KVTIER_BLOCK_MISSING = 2,   /* load: past the servable prefix; save: not admitted */
  KVTIER_BLOCK_FAILED = 3,    /* verification or I/O failed: a miss */
  KVTIER_BLOCK_CANCELLED = 4  /* kvtier_transfer_cancel came first */
} kvtier_block_outcome;

/* Starts loading (as kvtier_load_leased) or saving (as kvtier_save) on the
 * store's transfer threads; returns at once with *out to poll, wait on,
 * cancel and release. Argument errors as the synchronous calls. */
KVTIER_EXPORT kvtier_code kvtier_load_start(kvtier_store* store,
                                            const kvtier_block_hash* chain, size_t n_blocks,
                                            const kvtier_segment* dst, size_t n_segments,
                                            uint64_t lease, kvtier_transfer** out,
                                            kvtier_error* err);
KVTIER_EXPORT kvtier_code kvtier_save_start(kvtier_store* store,
                                            const kvtier_block_hash* chain, size_t n_blocks,
                                            size_t first_block, const kvtier_segment* src,
                                            size_t n_segments, kvtier_transfer** out,
                                            kvtier_error* err);
/* 1 once every block has its outcome and the engine's memory is no longer
 * used, else 0. Never blocks. */
KVTIER_EXPORT int kvtier_transfer_done(const kvtier_transfer* transfer);
/* Blocks until done; returns the blocks loaded (a load) or stored for the
 * first time (a save), as the synchronous call would have. */
KVTIER_EXPORT size_t kvtier_transfer_wait(const kvtier_transfer* transfer);
/* A load: 1 once layer `layer` of every block it will serve is in place. */
KVTIER_EXPORT int kvtier_transfer_layer_done(const kvtier_transfer* transfer,
                                             uint32_t layer);
/* Blocks until that layer is in place; returns the leading blocks that have
 * it (vLLM's wait_for_layer_load). */
KVTIER_EXPORT size_t kvtier_transfer_wait_layer(const kvtier_transfer* transfer,
                                                uint32_t layer);
/* Asks the transfer to stop early; returns at once (memory stays borrowed
 * until done). */
KVTIER_EXPORT void kvtier_transfer_cancel(kvtier_transfer* transfer);
/* Blocks in the transfer, and the outcome of one (PENDING for an index out
 * of range). */
KVTIER_EXPORT size_t kvtier_transfer_block_count(const kvtier_transfer* transfer);
KVTIER_EXPORT kvtier_block_outcome kvtier_transfer_outcome(const kvtier_transfer* transfer,
                                                           size_t block);
/* Releases the handle; a transfer still running is waited for first (cancel
 * it before to stop early). NULL is a no-op. */
KVTIER_EXPORT void kvtier_transfer_release(kvtier_transfer* transfer);

#ifdef __cplusplus
} /* extern "C" */
#endif

/* Engines' own keys and block hashes (kvtier/engine_keys.h,
 * kvtier/engine_hashes.h). */
#include "kvtier/kvtier_c_keys.h"
/* The scheduler and workers in separate processes (kvtier/split.h). */
#include "kvtier/kvtier_c_split.h"

#endif /* KVTIER_KVTIER_C_H_ */
