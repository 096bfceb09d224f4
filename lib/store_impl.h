// StoreImpl: the Store front. It checks every call's arguments, turns it
// into a plan through Placement (index, leases, eviction; no bytes), runs
// the plan through the Mover (bytes, verification, codecs) on the calling
// thread (Load, Save) or on the transfer threads (BeginLoad, BeginSave,
// Prefetch), and commits the results. Write-downs owed to slower tiers run
// on the background writer. The flow and its invariants are in
// lib/placement/placement.h and docs/design.md.
//
// Thread safety: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "backends/nvme/open_nvme.h"
#include "kvtier/store.h"
#include "lib/cost/load_cost_model.h"
#include "lib/metrics/latency_recorder.h"
#include "lib/move/device_path.h"
#include "lib/move/device_transfer.h"
#include "lib/move/executor.h"
#include "lib/move/mover.h"
#include "lib/placement/placement.h"
#include "lib/shadow/shadow_verifier.h"
#include "lib/sliding_window.h"
#include "lib/tier_backend.h"
#include "lib/write_behind.h"

namespace kvtier::internal {

// Backends indexed by Tier (nullptr = not in the stack).
using TierBackends = std::array<std::unique_ptr<TierBackend>, kNumTiers>;

// Checks everything Open can check before allocating anything.
Status ValidateOptions(const Options& options);

// Opens a store over the given backends (nullptr = tier disabled). Store::Open
// builds the real ones; tests pass fakes and fault-injecting tiers here.
// `device`: how device segments are copied (null: the CUDA engine, opened
// on first use).
Result<std::unique_ptr<Store>> OpenStoreWithTiers(
    const Options& options, TierBackends backends, bool host_memory_locked = true,
    std::unique_ptr<DevicePath> device = {});

// Test seam for device memory: the copy engine (e.g. FakeCopyEngine),
// borrowed, outliving the store. Null: the CUDA engine (libkvtier_cuda.so).
struct GpuHooks {
  CopyEngine* engine = nullptr;
};

// The tiers Store::Open builds for `options` (validated first), before any
// store is made over them: the split's workers run these without a Store.
struct OpenedTiers {
  std::unique_ptr<DevicePath> device;  // first: outlives the backends (GPU arena)
  TierBackends backends;
  bool host_memory_locked = true;
};
Result<OpenedTiers> OpenTiers(const Options& options, const NvmeHooks& hooks,
                              const GpuHooks& gpu = {});

// Store::Open with test seams for the NVMe tier's queues and the copy engine.
Result<std::unique_ptr<Store>> OpenStore(const Options& options, const NvmeHooks& hooks,
                                         const GpuHooks& gpu = {});

// The stack of `backends` (enabled ones, fastest first) with each tier's
// traits from `options`: where backends meet Options, the only place tiers
// are named.
TierStack StackOf(const Options& options, const TierBackends& backends);

// Placement's view of the backends: admission pauses and record tickets.
class BackendGate final : public TierGate {
 public:
  explicit BackendGate(std::vector<TierBackend*> backends)
      : backends_(std::move(backends)) {}
  bool Accepting(size_t tier) const override { return backends_[tier]->Accepting(); }
  uint64_t PrepareForget(size_t tier, uint32_t slot) override;

 private:
  const std::vector<TierBackend*> backends_;
};

class StoreImpl final : public Store {
 public:
  StoreImpl(const Options& options, TierBackends backends, bool host_memory_locked,
            std::unique_ptr<DevicePath> device);
  ~StoreImpl() override;

  LookupResult Lookup(std::span<const BlockHash> chain) override;
  Result<LookupResult> LookupAndLease(std::span<const BlockHash> chain,
                                      uint32_t lease_ms) override;
  bool ReleaseLease(uint64_t lease) override;
  Result<LoadResult> Load(std::span<const BlockHash> chain, std::span<const Segment> dst,
                          const LoadOptions& options) override;
  Result<TransferHandle> BeginLoad(std::span<const BlockHash> chain,
                                   std::span<const Segment> dst,
                                   const LoadOptions& options) override;
  Result<SaveResult> Save(std::span<const BlockHash> chain, std::span<const Segment> src,
                          size_t first_block, const SaveOptions& options) override;
  Result<TransferHandle> BeginSave(std::span<const BlockHash> chain,
                                   std::span<const Segment> src, size_t first_block,
                                   const SaveOptions& options) override;
  PrefetchHandle Prefetch(std::span<const BlockHash> chain) override;
  Result<EraseResult> Erase(std::span<const BlockHash> chain) override;
  Result<EraseResult> Clear() override;
  void Flush() override;
  StoreStats Stats() const override;
  std::vector<size_t> ShadowSampled(std::span<const BlockHash> chain) override;
  Result<ShadowResult> ShadowVerify(const BlockHash& block,
                                    std::span<const Segment> recomputed) override;

  // The load-cost model its tiers' reads feed (options.load_cost): the seam
  // where tests inject measurements.
  LoadCostModel& load_cost() { return load_cost_; }

 private:
  // `sliding_may_be_null`: Save's sources, where a null sliding-window
  // segment means the engine no longer holds that layer.
  Status CheckSegments(std::span<const Segment> segments, size_t blocks, const char* what,
                       bool sliding_may_be_null = false) const;
  Status CheckSave(std::span<const BlockHash> chain, std::span<const Segment> src,
                   size_t first_block) const;
  Status Reject(Status status);  // counts invalid calls
  // Check a call's arguments and count it (or the rejection).
  Status AcceptLoad(std::span<const BlockHash> chain, std::span<const Segment> dst,
                    const LoadOptions& options);
  Status AcceptSave(std::span<const BlockHash> chain, std::span<const Segment> src,
                    size_t first_block, const SaveOptions& options);
  LookupResult ToResult(const PrefixInfo& info) const;
  // The blocks after the local prefix `local` that the shared tier holds,
  // without a gap (one batched ask of the tier); empty without one.
  SharedRun AskShared(std::span<const BlockHash> chain, size_t local) const;
  // Adds the shared tier's run to a lookup's answer.
  void Extend(std::span<const BlockHash> chain, LookupResult& r) const;
  // Load or recompute (options.load_cost): Lookup's answer for `chain`
  // capped where loading stops paying off (the rest counted as capped).
  LookupResult CostCappedLookup(std::span<const BlockHash> chain);
  void IndexRecovered();

  // The transfers, on whichever thread runs them (store_transfer.cc).
  // `device`: set when the engine's segments include device memory (how
  // they cross; it also makes the engine's tier the device one, which
  // decides the tier saves go to and loads promote into:
  // Placement::EngineTier).
  LoadResult RunLoad(std::span<const BlockHash> chain, std::span<const Segment> dst,
                     const LoadOptions& options, LoadOrder order,
                     TransferHandle::State* state, DeviceTransfer* device = nullptr);
  SaveResult RunSave(std::span<const BlockHash> chain, std::span<const Segment> src,
                     size_t first_block, const SaveOptions& options,
                     TransferHandle::State* state, DeviceTransfer* device = nullptr);
  // Calls with device segments: RunLoad/RunSave over a DeviceTransfer, on
  // the store's streams (store_device.cc).
  LoadResult RunDeviceLoad(std::span<const BlockHash> chain, std::span<const Segment> dst,
                           const LoadOptions& options, TransferHandle::State* state);
  SaveResult RunDeviceSave(std::span<const BlockHash> chain, std::span<const Segment> src,
                           size_t first_block, const SaveOptions& options,
                           TransferHandle::State* state);
  LoadResult LoadAny(std::span<const BlockHash> chain, std::span<const Segment> dst,
                     const LoadOptions& options, LoadOrder order,
                     TransferHandle::State* state);
  SaveResult SaveAny(std::span<const BlockHash> chain, std::span<const Segment> src,
                     size_t first_block, const SaveOptions& options,
                     TransferHandle::State* state);
  size_t RunPrefetch(std::span<const BlockHash> chain);
  void RunWriteDowns(std::span<const WriteDownJob> jobs);
  void QueueWriteDowns(const std::vector<WriteDownJob>& jobs);
  void CountTrimming(const Plan& plan, std::span<const Status> results);
  // The blocks of `plan` (a load) delivered to the engine, below `loaded`.
  std::vector<ServedBlock> ServedBy(const Plan& plan, size_t loaded) const;
  void Forget(const Plan& plan, const std::vector<SlotRelease>& more);
  // Runs `pass` (a Placement erase) until no block it names is in use, or
  // the wait runs out (store_erase.cc).
  using ErasePass = std::function<EraseCount(std::vector<SlotRelease>*)>;
  Result<EraseResult> EraseUntilFree(const ErasePass& pass);

  // First: the copy engine outlives the backends (the GPU tier's arena).
  const std::unique_ptr<DevicePath> device_;
  const int gpu_device_;
  const TierBackends backends_;
  const bool host_memory_locked_;
  const size_t segments_per_block_;
  const size_t segment_bytes_;
  const SlidingWindow window_;
  BackendGate gate_;
  Placement placement_;
  const Mover mover_;
  // Stack position of the shared tier (Authority::kShared), if any.
  const std::optional<size_t> shared_tier_;
  ShadowVerifier shadow_;
  LoadCostModel load_cost_;
  std::array<uint64_t, kNumTiers> stored_block_bytes_{};  // a whole block, per Tier
  std::atomic<uint64_t> lookup_capped_{0};

  std::atomic<uint64_t> lookups_{0}, lookup_blocks_{0}, lookup_hit_blocks_{0};
  std::atomic<uint64_t> loads_{0}, load_blocks_{0}, load_hit_blocks_{0};
  std::atomic<uint64_t> saves_{0}, save_blocks_{0}, save_new_{0}, save_refreshed_{0};
  std::atomic<uint64_t> invalid_calls_{0};
  std::atomic<uint64_t> save_trimmed_{0}, trim_bytes_saved_{0};
  std::atomic<uint64_t> transfers_started_{0}, transfers_cancelled_{0};
  // Per call, from entry to return (a Begin* call: to its handle).
  LatencyRecorder lookup_latency_, load_latency_, save_latency_;
  uint64_t recovery_micros_ = 0;

  // Destroyed first, in this order: transfers in flight finish (and may owe
  // write-downs), then the writer drains, before anything they use goes.
  std::unique_ptr<WriteBehind> writer_;
  std::unique_ptr<WriteBehind> shared_writer_;  // write-throughs to the shared tier
  std::unique_ptr<Executor> transfers_;
};

}  // namespace kvtier::internal
