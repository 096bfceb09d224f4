/* kvtier C API: the scheduler and its workers in separate processes
 * (kvtier/split.h in C). Part of the C API: kvtier/kvtier_c.h includes it;
 * the types it uses (kvtier_options, kvtier_segment, kvtier_error, ...) are
 * kvtier_c.h's. */
#ifndef KVTIER_KVTIER_C_SPLIT_H_
#define KVTIER_KVTIER_C_SPLIT_H_

#include "kvtier/kvtier_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Scheduler and workers in separate processes (kvtier/split.h) -------
 * The scheduler (index, eviction; no bytes) runs in the engine's scheduler
 * process, one worker (its own tiers) in each tensor-parallel rank's
 * process. Byte strings go between them through the engine (hello, reply,
 * plans, results); each is a kvtier_bytes the library allocated, released
 * with kvtier_bytes_free. See split.h for the protocol and its guarantees. */
typedef struct kvtier_scheduler kvtier_scheduler;
typedef struct kvtier_worker kvtier_worker;

typedef struct kvtier_bytes {
  uint8_t* data; /* owned by the library until kvtier_bytes_free */
  size_t size;
} kvtier_bytes;
/* Frees the bytes and sets {NULL, 0}; NULL or empty is a no-op. */
KVTIER_EXPORT void kvtier_bytes_free(kvtier_bytes* bytes);

typedef enum kvtier_plan_kind {
  KVTIER_PLAN_LOAD = 0,
  KVTIER_PLAN_SAVE = 1,
  KVTIER_PLAN_WRITE_DOWN = 2
} kvtier_plan_kind;

/* A plan for every rank (PlanTicket). ticket 0: nothing to send or commit. */
typedef struct kvtier_plan {
  uint64_t ticket;
  kvtier_plan_kind kind;
  size_t blocks;
  kvtier_bytes bytes; /* free with kvtier_bytes_free */
} kvtier_plan;

/* The workers' options (directories and rank ignored); ranks 1..64. */
KVTIER_EXPORT kvtier_code kvtier_scheduler_open(const kvtier_options* options,
                                                uint32_t ranks, kvtier_scheduler** out,
                                                kvtier_error* err);
/* NULL is a no-op. */
KVTIER_EXPORT void kvtier_scheduler_close(kvtier_scheduler* scheduler);
/* Admits a worker's hello; *reply (for kvtier_worker_apply_join) set on OK. */
KVTIER_EXPORT kvtier_code kvtier_scheduler_join(kvtier_scheduler* scheduler,
                                                const uint8_t* hello, size_t n_hello,
                                                kvtier_bytes* reply, kvtier_error* err);
/* 1 once every rank has joined. */
KVTIER_EXPORT int kvtier_scheduler_ready(const kvtier_scheduler* scheduler);
KVTIER_EXPORT kvtier_code kvtier_scheduler_lookup(kvtier_scheduler* scheduler,
                                                  const kvtier_block_hash* chain,
                                                  size_t n_blocks, size_t* hit_blocks,
                                                  kvtier_error* err);
/* kvtier_engine_key_chain (kvtier_c.h) for the scheduler: engine keys to the
 * chain a rank-0 store of the scheduler's options would name (chains are
 * rank-free in the split). Same arguments and errors. */
KVTIER_EXPORT kvtier_code kvtier_scheduler_engine_key_chain(
    const kvtier_scheduler* scheduler, kvtier_key_profile profile, uint32_t group,
    const uint8_t* key_bytes, size_t key_bytes_len, const size_t* key_sizes,
    size_t n_keys, kvtier_block_hash* out, size_t n_out, kvtier_error* err);
KVTIER_EXPORT kvtier_code kvtier_scheduler_plan_load(kvtier_scheduler* scheduler,
                                                     const kvtier_block_hash* chain,
                                                     size_t n_blocks, kvtier_plan* out,
                                                     kvtier_error* err);
/* Plans saving chain blocks [first_block, n_blocks). freed: NULL (n_freed
 * 0) when the engine holds every block's sliding-window segments, else
 * n_blocks - first_block bytes, nonzero where the engine freed them (vLLM's
 * null block): those blocks are kept trimmed and the workers may pass
 * their sliding-window segments as NULL (Scheduler::PlanSave). */
KVTIER_EXPORT kvtier_code kvtier_scheduler_plan_save(kvtier_scheduler* scheduler,
                                                     const kvtier_block_hash* chain,
                                                     size_t n_blocks, size_t first_block,
                                                     const uint8_t* freed, size_t n_freed,
                                                     kvtier_plan* out, kvtier_error* err);
/* One write-down plan of at most max_blocks blocks; ticket 0 when none is
 * owed. */
KVTIER_EXPORT kvtier_code kvtier_scheduler_take_write_down(kvtier_scheduler* scheduler,
                                                           size_t max_blocks,
                                                           kvtier_plan* out,
                                                           kvtier_error* err);
/* Commits `ticket` with the result bytes of the n_results ranks that
 * answered (results[i] of sizes[i] bytes). *blocks: loads, the leading
 * blocks every rank delivered; saves and write-downs, blocks stored on
 * every rank. *ranks_failed may be NULL. */
KVTIER_EXPORT kvtier_code kvtier_scheduler_commit(kvtier_scheduler* scheduler,
                                                  uint64_t ticket,
                                                  const uint8_t* const* results,
                                                  const size_t* sizes, size_t n_results,
                                                  size_t* blocks, size_t* ranks_failed,
                                                  kvtier_error* err);

/* Opens rank options->rank's tiers (its own nvme_directories). */
KVTIER_EXPORT kvtier_code kvtier_worker_open(const kvtier_options* options,
                                             kvtier_worker** out, kvtier_error* err);
/* NULL is a no-op. */
KVTIER_EXPORT void kvtier_worker_close(kvtier_worker* worker);
KVTIER_EXPORT kvtier_code kvtier_worker_hello(const kvtier_worker* worker,
                                              kvtier_bytes* out, kvtier_error* err);
KVTIER_EXPORT kvtier_code kvtier_worker_apply_join(kvtier_worker* worker,
                                                   const uint8_t* reply, size_t n_reply,
                                                   kvtier_error* err);
/* Executes plan bytes against the rank's tiers and the engine's segments
 * (host memory; chain blocks [0, n) for a load, [first_block, n) for a save,
 * none for a write-down); *result (for kvtier_scheduler_commit) set on OK. */
KVTIER_EXPORT kvtier_code kvtier_worker_execute(kvtier_worker* worker,
                                                const uint8_t* plan, size_t n_plan,
                                                const kvtier_segment* segments,
                                                size_t n_segments, kvtier_bytes* result,
                                                kvtier_error* err);

/* What one rank's result bytes say: *moves the plan's moves, *failed those
 * that failed on this rank (0: this rank did all it was asked). A rank can
 * tell its own job's success without the scheduler's commit, which still
 * decides what counts (every rank must succeed). KVTIER_CORRUPTION for
 * damaged bytes. */
KVTIER_EXPORT kvtier_code kvtier_worker_result_moves(const uint8_t* result,
                                                     size_t n_result, size_t* moves,
                                                     size_t* failed, kvtier_error* err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KVTIER_KVTIER_C_SPLIT_H_ */
