// Scheduler and workers in separate processes (tensor parallelism).
//
// An engine with one scheduler process and one worker process per
// tensor-parallel rank splits the store in two:
//
//   Scheduler (scheduler process): the index, eviction and the slot map of
//     every tier. It holds no KV bytes. It answers lookups and turns loads,
//     saves and write-downs into *plans*: byte strings naming, per block,
//     which tier slot to read or write.
//   Worker (one per rank): its own tiers (host arena, NVMe directory) with
//     the same slot layout on every rank, and the rank's shard of the KV in
//     engine memory. It executes plan bytes and returns per-move *result*
//     bytes.
//
// The engine carries plan bytes to every worker (vLLM: its per-step
// connector metadata) and the result bytes back, and hands the scheduler
// the results of every rank (Commit). A block counts as stored or loaded
// only if every rank succeeded; a rank that sent nothing (its worker gone)
// failed. Every worker verifies each block it reads (hash and checksum), so
// a stale plan, a restarted worker or a slot the index no longer agrees
// with gives a miss, never other bytes.
//
// Lifecycle:
//   scheduler = Scheduler::Open(options, ranks)
//   per rank:  worker = Worker::Open(options with .rank and its own
//              nvme.directories); reply = scheduler->Join(worker->Hello());
//              worker->ApplyJoin(reply)
//   per step:  scheduler->Lookup / PlanLoad / PlanSave / TakeWriteDowns
//              -> plan bytes to every worker -> Execute -> result bytes
//              -> scheduler->Commit(ticket, results of all ranks)
// Until every rank has joined, the scheduler plans nothing (Unavailable).
// A worker that restarts (after a crash) joins again with a new
// incarnation: the scheduler then drops every copy in a volatile tier (the
// rank lost them) and keeps, of a persistent tier, only the blocks the
// restarted worker recovered in the same slot; the reply names the
// worker's recovered blocks the index does not name, which the worker
// forgets. So every rank ends with the index the scheduler holds.
//
// Supported now: a host tier and an NVMe tier per worker; engine memory in
// host memory. A GPU tier, a remote (shared) tier and device engine memory
// are NotSupported in the split (the single-process Store has them).
//
// Thread safety: Scheduler is thread-safe. Worker is thread-safe; its
// Execute calls run one at a time, in call order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/hash.h"
#include "kvtier/options.h"
#include "kvtier/status.h"
#include "kvtier/store.h"

namespace kvtier {

// A plan for every rank. `bytes` is the same for all ranks; send it to each.
struct PlanTicket {
  // Names the plan in Commit. 0: the plan had nothing for the workers to do
  // (nothing to load, every block already stored); it is settled already:
  // do not send or commit it.
  uint64_t ticket = 0;
  enum class Kind : uint8_t { kLoad = 0, kSave = 1, kWriteDown = 2 };
  Kind kind = Kind::kLoad;
  // Loads: blocks the plan reads (the prefix it tries). Saves: blocks it
  // writes (new ones; refreshed and skipped ones are not written).
  // Write-downs: blocks copied to the tier below.
  size_t blocks = 0;
  std::vector<std::byte> bytes;
};

// What every rank achieved, committed.
struct CommitOutcome {
  // Loads: leading chain blocks every rank verified and delivered; the
  // engine may use exactly blocks [0, blocks) on every rank. Saves and
  // write-downs: blocks now stored on every rank.
  size_t blocks = 0;
  // Ranks whose result was missing, damaged, for another ticket or from an
  // earlier incarnation of the worker: their moves counted as failed.
  size_t ranks_failed = 0;
};

class KVTIER_EXPORT Scheduler {
 public:
  // `options`: the workers' options (layout, model_id, tier capacities,
  // codecs, eviction, swa_checkpoint_blocks, nvme.write_queue_blocks); the
  // scheduler opens no tier and ignores directories and `rank`. `ranks`:
  // tensor-parallel size, 1..64. InvalidArgument naming the field; a GPU or
  // remote tier is NotSupported.
  static Result<std::unique_ptr<Scheduler>> Open(const Options& options, uint32_t ranks);
  virtual ~Scheduler() = default;

  // Admits a worker's Hello. InvalidArgument when it is damaged, names a
  // rank out of range, or its layout, codecs or tier slot layout differ from
  // the options or from the ranks joined before (that worker is not
  // admitted). Returns the reply for Worker::ApplyJoin. A rank joining again
  // (new incarnation) reconciles the index (see above); plans in flight
  // fail for it (results of its earlier incarnation count as failed) and
  // the copies they pin are dropped once committed. The same hello twice
  // changes nothing.
  virtual Result<std::vector<std::byte>> Join(std::span<const std::byte> hello) = 0;
  // True once every rank has joined.
  virtual bool Ready() const = 0;

  // The longest prefix of `chain` every rank can load now (0 before Ready).
  // Chain hashes are rank-free: compute them once (e.g. EngineKeyMapper).
  virtual LookupResult Lookup(std::span<const BlockHash> chain) = 0;
  // Plans loading the longest loadable prefix of `chain` into block-major
  // engine memory of chain blocks [0, n) on every rank. Pins what it reads
  // until Commit. Unavailable before Ready; an empty prefix gives ticket 0.
  virtual Result<PlanTicket> PlanLoad(std::span<const BlockHash> chain) = 0;
  // Plans saving chain blocks [first_block, n) from engine memory holding
  // those blocks (block-major, from first_block) on every rank. Blocks
  // already stored are refreshed, not written. With sliding-window layers,
  // Store::Save's rule decides each block's form: whole where a servable
  // prefix needs its sliding-window segments (the chain's last window, and
  // before each checkpoint) unless the engine freed them, trimmed
  // otherwise (all layers sliding: an index entry without bytes).
  // `freed`: one byte per block [first_block, n), nonzero where the engine
  // no longer holds the block's sliding-window segments (vLLM's null
  // block); empty = it holds every block's. The workers may then pass null
  // sliding-window segments for the freed blocks, as Store::Save may.
  // InvalidArgument naming `freed` when its size is neither 0 nor n -
  // first_block.
  virtual Result<PlanTicket> PlanSave(std::span<const BlockHash> chain,
                                      size_t first_block,
                                      std::span<const uint8_t> freed) = 0;
  Result<PlanTicket> PlanSave(std::span<const BlockHash> chain, size_t first_block) {
    return PlanSave(chain, first_block, {});
  }
  // Plans for the copies to slower tiers (host -> NVMe) that saves owed.
  // Execute them like any plan (they need no engine memory) and commit them:
  // their source blocks stay pinned until then. At most `max_blocks` blocks.
  virtual std::vector<PlanTicket> TakeWriteDowns(size_t max_blocks) = 0;
  // Commits a ticket with the result bytes of the ranks that answered (any
  // order; a rank not among them failed). Every ticket must be committed
  // exactly once: its pins are held until then. NotFound for an unknown or
  // already committed ticket.
  virtual Result<CommitOutcome> Commit(
      uint64_t ticket, std::span<const std::vector<std::byte>> results) = 0;
  // Plans made and not committed yet.
  virtual size_t Outstanding() const = 0;
};

class KVTIER_EXPORT Worker {
 public:
  // Opens the rank's tiers (`options.rank`; its own nvme.directories: two
  // workers never share a directory). Errors as Store::Open.
  static Result<std::unique_ptr<Worker>> Open(const Options& options);
  virtual ~Worker() = default;

  // This worker's introduction for Scheduler::Join: rank, a fresh
  // incarnation id per Open, the layout and codec fingerprints, the slot
  // layout of every tier, and the blocks its persistent tiers recovered.
  virtual std::vector<std::byte> Hello() const = 0;
  // Forgets the recovered blocks the scheduler's reply does not keep.
  // Corruption for damaged bytes or a reply for another incarnation.
  virtual Status ApplyJoin(std::span<const std::byte> reply) = 0;
  // Executes a plan. `engine`: the rank's KV of the plan's engine blocks,
  // SegmentsPerBlock() segments each, block-major, host memory: chain
  // blocks [0, n) for a load, [first_block, n) for a save, none for a
  // write-down. A save's blocks that the plan keeps trimmed (the engine
  // freed them: PlanSave's `freed`) may have null sliding-window segments.
  // Returns the result bytes for Commit, or Corruption (damaged plan, or one
  // naming tiers or slots this worker does not have) / InvalidArgument
  // (segment count, size, or a null segment the plan reads); a per-block
  // failure is not an error but part of the result. Execute plans in the order the
  // scheduler made them (ticket order): a slot a plan lets go may be reused by the next
  // one.
  virtual Result<std::vector<std::byte>> Execute(std::span<const std::byte> plan,
                                                 std::span<const Segment> engine) = 0;
  virtual uint32_t rank() const = 0;
  virtual uint64_t incarnation() const = 0;
};

}  // namespace kvtier
