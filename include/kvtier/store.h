// Store: the KV block cache an inference engine links in.
//
// The engine describes its layout once (Options), then for each prompt:
//
//   auto chain = store->hasher().Chain(tokens);      // one hash per full block
//   auto hit   = store->Lookup(chain);                // longest loadable prefix
//   store->Load({chain.data(), hit.blocks}, dst);     // copy those blocks in
//   ... compute KV for the rest ...
//   store->Save(chain, src, /*first_block=*/hit.blocks);
//
// Thread safety: every method may be called concurrently with any other from
// any thread. Byte copies run outside the store's lock, so Loads and Saves of
// different blocks proceed in parallel.
//
// Tiers: an ordered stack, fastest first: GPU HBM (options.gpu), host
// (DRAM), NVMe. Save writes the fastest tier of the engine memory's kind
// (host for host segments; the GPU tier, if any, for device ones); the
// tiers below get their copies in the background, never on the engine's
// thread: with write-through (default) every saved block is
// queued for NVMe at once, with write-back only the coldest blocks, ahead of
// their eviction. When the disk falls behind, write-downs beyond
// options.nvme.write_queue_blocks are skipped and counted
// (Stats().nvme.copy_down_dropped); Save never waits for the disk. Load
// reads NVMe-only blocks in one batched submission and promotes them to host
// (the NVMe copy stays). What NVMe acknowledged survives a process kill and
// is found by Open.
//
// Asynchronous calls: BeginLoad and BeginSave return a TransferHandle at
// once (kvtier/transfer.h): poll or wait for the whole transfer or for one
// layer, cancel it, read each block's outcome. Load and Save are the same
// transfers run on the calling thread. An engine whose scheduler looks up
// and whose worker loads later takes a lease (LookupAndLease): the prefix
// stays pinned until the load that uses it, ReleaseLease, or expiry.
//
// Sliding-window layers (KvLayout::layer_windows): a block far behind the end
// of every chain that uses it does not need its sliding-window layers, so
// Save keeps them only for the blocks covering the last `window` tokens
// before each saved chain's end and before each checkpoint
// (Options::swa_checkpoint_blocks); elsewhere a block keeps its
// full-attention layers only (no bytes when every layer slides) and takes a
// smaller slot in every tier. Lookup and Load serve a prefix only where such
// a window ends: between checkpoints, up to the last one.
//
// Device memory (MemoryKind::kDevice): segments may be in the engine's CUDA
// memory. They are copied by DMA on the store's own streams. A raw block in
// the host tier crosses straight between its slot in the host arena
// (registered with CUDA for DMA) and the engine's memory; GPU-tier blocks
// go device to device (below); other blocks (an 8-bit host tier, NVMe, an
// arena CUDA would not register) go through pinned staging buffers
// (Stats().device_blocks_direct / device_blocks_staged). Save copies them
// out and makes the stored block and its checksum from that host copy.
// Load verifies every block on the host
// (in its slot, or in staging) before copying it in, layer by layer, and
// keeps the block pinned until its copy completed: BeginLoad reports a layer
// once its copy to the device completed; a failed copy makes the load a
// miss (0 blocks, Stats().device_copy_errors). The GPU tier keeps the same
// stored blocks in HBM. A save of device segments into it is copied (raw)
// or encoded (int8/fp8, on the device) device to device
// (Stats().device_blocks_d2d_saved) under a header made on the host; its
// payload checksum is computed on the host over the block's first copy out
// of HBM (normally the write-down right after the save) and remembered for
// later ones. A save of host segments is checksummed before it enters.
// What is verified for blocks that stay in HBM: a GPU-tier block loaded
// into device memory is copied (raw) or decoded (int8/fp8, on the device)
// device to device (Stats().device_blocks_d2d) after its 64-byte header is
// copied to the host and checked (this block, codec, segment geometry,
// header checksum); its payload checksum is not recomputed on that path
// (no host round trip; HBM's own ECC is what guards it there). Every block
// that leaves HBM for the host (a load into host memory, a write-down) is
// verified on the host in full first; for a block saved device to device,
// bytes that changed in HBM before its first copy out are checksummed as
// they are, so no check catches them. Without CUDA in this build, a CUDA
// driver or a device, a call with device segments (and Open with a GPU
// tier) returns NotSupported with the CUDA runtime's reason; host calls are
// unaffected.
//
// Best effort: a failing or full tier degrades to misses and counters in
// Stats(); only bad arguments produce an error Status from Lookup/Load/Save.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/hash.h"
#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "kvtier/request_context.h"
#include "kvtier/shadow.h"
#include "kvtier/stats.h"
#include "kvtier/status.h"
#include "kvtier/transfer.h"

namespace kvtier {

enum class MemoryKind : uint8_t { kHost = 0, kDevice = 1 };

// One contiguous piece of a block in the engine's memory (typically one
// layer's K or V page). Borrowed for the duration of the call only.
// Save reads it; Load writes it.
// kDevice: memory on CUDA device `device` (-1 or options.gpu.device),
// copied by DMA on the store's own streams (see "Device memory" above).
struct Segment {
  void* data = nullptr;
  size_t bytes = 0;  // must equal layout.SegmentBytes()
  MemoryKind kind = MemoryKind::kHost;
  int device = -1;  // kDevice only: the CUDA device ordinal; -1 = the store's
};

struct LookupResult {
  size_t blocks = 0;  // length of the loadable prefix, in blocks
  size_t tokens = 0;  // blocks * block_tokens
  // How many blocks of that prefix each tier serves, indexed by Tier; a block
  // held by several tiers counts for the fastest. Sums to `blocks`.
  std::array<size_t, kNumTiers> blocks_per_tier{};
  // LookupAndLease: the lease pinning this prefix (0 = none: empty prefix).
  uint64_t lease = 0;
};

// Longest a lookup lease may last.
inline constexpr uint32_t kMaxLeaseMs = 60'000;

struct LoadOptions {
  // A lease from LookupAndLease on a prefix of this chain: the load serves
  // every block the lookup reported (unless one fails verification) and
  // ends the lease. An unknown or expired lease is ignored: the load plans
  // afresh. 0 = none.
  uint64_t lease = 0;
  // What the engine knows of the request (kvtier/request_context.h): a
  // session-aware eviction order (EvictionPolicy::kSession) files the
  // served blocks under its session. Default: unknown, as without one.
  RequestContext context;
};

struct SaveOptions {
  // As LoadOptions::context, for the saved and refreshed blocks. A
  // request's Load and Save should carry the same context.
  RequestContext context;
};

struct LoadResult {
  // Blocks 0..blocks-1 of the requested prefix were written into their
  // destination segments: byte-exact from a raw tier; from an int8/fp8 tier,
  // the decode of exactly what was stored (options.h, Codec). Segments of
  // later blocks are unspecified (partially written, possibly); the engine
  // recomputes them.
  size_t blocks = 0;
};

struct SaveResult {
  size_t stored = 0;     // blocks written for the first time
  size_t refreshed = 0;  // already stored: only made most recent
  size_t skipped = 0;    // not admitted (no slot could be freed); not an error
};

struct EraseResult {
  size_t blocks = 0;  // blocks removed from every tier that held them
};

// Prefetch's answer: a handle on blocks moving up from NVMe to host in the
// background. A value the engine keeps, polls and drops at will; dropping it
// does not cancel the work.
//
// Thread safety: Done/Wait may be called from any thread, concurrently.
class KVTIER_EXPORT PrefetchHandle {
 public:
  PrefetchHandle() = default;  // nothing to do: Done() at once, Wait() == 0

  // True once the prefetch finished. Never blocks.
  bool Done() const;
  // Blocks until the prefetch finished; returns how many blocks it moved up
  // (blocks already in host or not stored at all are not counted).
  size_t Wait() const;

  struct State;  // shared with the worker that runs the prefetch
  explicit PrefetchHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

class KVTIER_EXPORT Store {
 public:
  // Opens a store. Errors: InvalidArgument naming the field (bad layout, no
  // model_id, a tier too small for one block); NotSupported for a tier or
  // codec this build does not have (never a silent fallback).
  static Result<std::unique_ptr<Store>> Open(const Options& options);

  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const KvLayout& layout() const { return layout_; }
  // The hasher of this store's namespace; chains passed in must come from it.
  const PrefixHasher& hasher() const { return hasher_; }

  // The longest prefix of `chain` that Load would serve now. Block i counts
  // only if blocks 0..i-1 count. With sliding-window layers: the longest P
  // such that every block before P keeps its full-attention layers and the
  // blocks covering the last `window` tokens before P (the last
  // ceil(window / block_tokens) blocks; the largest window when layers
  // differ) keep their sliding ones. With options.load_cost on, the prefix
  // also stops where loading the next blocks would take longer than the
  // engine recomputing them (LoadCostOptions; Stats().lookup_capped_blocks).
  // Touches nothing, so it takes no RequestContext: the engine's context is
  // told where blocks are used (LoadOptions, SaveOptions). Cost: one
  // hash-map probe per block under a shared lock (two with load_cost on).
  virtual LookupResult Lookup(std::span<const BlockHash> chain) = 0;

  // Lookup that also pins the prefix it reports for up to `lease_ms`
  // milliseconds (1..kMaxLeaseMs), so a Load passing result.lease soon after
  // serves all of it (with options.load_cost on, the prefix Lookup would
  // offer: only that is pinned). The lease ends with that load, ReleaseLease,
  // or expiry (Stats().leases_expired). Pinned blocks are not evicted: keep
  // leases short. Cost: Lookup plus one pin per block, under the exclusive
  // lock. InvalidArgument for lease_ms out of range.
  virtual Result<LookupResult> LookupAndLease(std::span<const BlockHash> chain,
                                              uint32_t lease_ms) = 0;
  // Ends a lease without loading; false when it already ended.
  virtual bool ReleaseLease(uint64_t lease) = 0;

  // Copies blocks 0..n of `chain` into `dst` (decoding them if their tier
  // stores 8-bit) and makes them most recent. `dst` holds chain.size() *
  // layout.SegmentsPerBlock() segments, block-major. Every served block was
  // verified against its hash and checksum before use; a block that fails is
  // dropped, counted, and ends the prefix. An 8-bit tier costs about one
  // memcpy of the block in CPU time per load and save, on the calling thread.
  // With sliding-window layers Load serves the prefix Lookup describes and
  // writes exactly its segments: every full-attention segment of blocks
  // 0..n, and the sliding-window segments of the blocks in the window before
  // n. It leaves the other sliding-window segments untouched (the engine
  // does not attend to them), except that a block failing verification moves
  // the prefix back, and the first attempt may have written segments of
  // blocks the shorter prefix does not need.
  // InvalidArgument for a null or mis-sized segment or a wrong count, or a
  // bad context field ("load.context.session").
  virtual Result<LoadResult> Load(std::span<const BlockHash> chain,
                                  std::span<const Segment> dst,
                                  const LoadOptions& options = {}) = 0;

  // Load, asynchronously: returns at once (errors as Load) and moves the
  // blocks on the store's transfer threads, layer by layer from the host
  // tier (transfer.h). `chain` is copied; `dst` is borrowed until the
  // handle is Done(). With sliding-window layers, layers are reported in
  // place only once the whole load settled (a failing block moves the
  // window). WaitLoad() returns what Load would have.
  virtual Result<TransferHandle> BeginLoad(std::span<const BlockHash> chain,
                                           std::span<const Segment> dst,
                                           const LoadOptions& options = {}) = 0;

  // Stores blocks first_block..chain.size()-1 of `chain` from `src`, which
  // holds (chain.size() - first_block) * layout.SegmentsPerBlock() segments,
  // block-major. Blocks 0..first_block-1 are only made recent (the engine
  // loaded them). A block that is already stored is refreshed, not copied;
  // one stored trimmed that this chain needs whole (its end falls within the
  // window after it) is stored again whole: growth. A sliding-window
  // segment of `src` may be null when the engine no longer holds that layer
  // for that block; the block is then kept trimmed (never a full-attention
  // segment: InvalidArgument). Only the segments kept are read.
  // Full tiers evict in Options::eviction's order, chain tails first.
  // InvalidArgument names a bad context field ("save.context.ttl_s").
  virtual Result<SaveResult> Save(std::span<const BlockHash> chain,
                                  std::span<const Segment> src, size_t first_block = 0,
                                  const SaveOptions& options = {}) = 0;

  // Save, asynchronously: returns at once (errors as Save); the handle is
  // done when `src` has been read into the fastest tier, and the engine may
  // reuse that memory from then on. `chain` is copied; `src` is borrowed
  // until Done(). Outcome(k) is block first_block + k's. WaitSave() returns
  // what Save would have.
  virtual Result<TransferHandle> BeginSave(std::span<const BlockHash> chain,
                                           std::span<const Segment> src,
                                           size_t first_block = 0,
                                           const SaveOptions& options = {}) = 0;

  // Starts moving the blocks of the longest loadable prefix of `chain` that
  // only NVMe holds up to the host tier, on the store's transfer threads,
  // so a Load soon after reads DRAM. Returns at once. Best effort: with no
  // NVMe tier or nothing to move, the handle is done with 0.
  virtual PrefetchHandle Prefetch(std::span<const BlockHash> chain) = 0;

  // Removes the blocks of `chain` and every block stored below one of them
  // (each longer prefix through them: a block can be served only after its
  // parent, so none of those could be served again) from every tier. To drop
  // one conversation's tail but keep the prefix it shares, pass the tail's
  // hashes only. A persistent tier forgets them before Erase returns, as a
  // Save's blocks are recorded: a restart does not bring them back. Leases
  // that pinned any of them end (a load under such a lease misses them); a
  // transfer that is moving one of them is waited for (transfers take
  // milliseconds). Blocks saved again after Erase began may stay. A shared
  // remote tier (Redis) keeps its copies, so a later Lookup may find them
  // there again: other stores share them, and Redis evicts on its own
  // (options.remote.ttl_seconds). Unknown hashes are ignored. Unavailable, with what it
  // could erase erased, when some blocks are still in use after 10 s (a transfer that
  // never ends).
  virtual Result<EraseResult> Erase(std::span<const BlockHash> chain) = 0;
  // Erases every block of this store's namespace (model, layout, codecs,
  // rank, tenant), in every tier, as Erase does.
  virtual Result<EraseResult> Clear() = 0;

  // Waits until every background write-down queued so far (write-through
  // copies to NVMe) has been written or dropped. For shutdown, tests and
  // benchmarks; engines need not call it. The destructor does it too.
  virtual void Flush() = 0;

  virtual StoreStats Stats() const = 0;

  // Shadow verification (options.shadow, kvtier/shadow.h). Of `chain`, the
  // blocks a load sampled and whose served bytes kvtier still holds, as
  // ascending indices into `chain`: recompute those and pass each to
  // ShadowVerify. Empty when sampling is off. Cost: one probe per block
  // under a short lock.
  virtual std::vector<size_t> ShadowSampled(std::span<const BlockHash> /*chain*/) {
    return {};
  }
  // Compares the engine's recomputation of a sampled block (`recomputed`:
  // layout.SegmentsPerBlock() segments in host memory, as a Load's dst for
  // one block, borrowed for the call) with what kvtier served, counts the
  // check and any divergence on the serving tier (TierStats::shadow_checked,
  // shadow_diverged; logged as a warning, rate-limited) and forgets the
  // sample. NotFound when the block is not sampled (never served sampled,
  // already verified, or aged out); InvalidArgument naming
  // shadow.recomputed[i] for a null, mis-sized or device segment; a
  // segment the load did not write (a sliding-window layer outside its
  // prefix's window) is not compared and may be null.
  virtual Result<ShadowResult> ShadowVerify(const BlockHash& /*block*/,
                                            std::span<const Segment> /*recomputed*/) {
    return NotSupported("shadow verification: not offered by this store");
  }

 protected:
  Store(KvLayout layout, PrefixHasher hasher)
      : layout_(std::move(layout)), hasher_(hasher) {}

 private:
  const KvLayout layout_;
  const PrefixHasher hasher_;
};

}  // namespace kvtier
