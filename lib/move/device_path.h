// DevicePath: how engine segments in device memory (MemoryKind::kDevice)
// cross into and out of the store, through the copy seam
// (backends/gpu/copy_engine.h) on the store's own streams.
//
//   save   device segments --D2H, one batch, one event--> pinned staging;
//          the save then runs as from host memory: the stored block and its
//          checksum are made from the host copy (stored_block.h)
//   load   the load runs into pinned staging as into host memory (every
//          block verified on the host, decoded if 8-bit); then --H2D--> the
//          engine's device segments layer by layer, an event per layer, at
//          most kLayersInFlight layers enqueued ahead; layer l of the served
//          blocks is reported in place when its event completed
//
// Host segments of the same call are read and written directly, as always;
// only device ones are staged. Staging buffers are pinned (the engine's
// AllocatePinned), kept and reused.
//
// The engine is opened lazily, at the first call that needs it, unless the
// store opened it already (a GPU tier); a failure to open (no CUDA in this
// build, no device) is remembered and returned for every later call.
//
// Thread safety: thread-safe; each transfer leases its own stream.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "backends/gpu/copy_engine.h"
#include "kvtier/layout.h"
#include "kvtier/store.h"
#include "kvtier/transfer.h"

namespace kvtier::internal {

// Where a store's copy engine comes from.
struct EngineSource {
  CopyEngine* borrowed = nullptr;     // tests: the fake, outlives the store
  std::unique_ptr<CopyEngine> owned;  // opened at Open (GPU tier)
  CopyEngineFactory open;             // else opened on first use
  int device = 0;
  std::span<std::byte> host_arena;  // registered with the engine for DMA
};

// Engine memory of one call, staged in pinned host memory.
struct Staged {
  EngineAllocation buffer;        // pinned; holds every staged segment
  std::vector<Segment> segments;  // the call's segments, device ones replaced
};

class DevicePath {
 public:
  static constexpr uint32_t kLayersInFlight = 4;

  DevicePath(EngineSource source, const KvLayout& layout);
  ~DevicePath();
  DevicePath(const DevicePath&) = delete;
  DevicePath& operator=(const DevicePath&) = delete;

  // OK once an engine is open; else why not (NotSupported with the CUDA
  // runtime's reason). Opens it the first time.
  Status Ready();
  // REQUIRES: Ready().ok().
  CopyEngine* engine() const { return engine_; }

  static bool AnyDevice(std::span<const Segment> segments);

  // Save: copies the device segments of `src` into staging and waits.
  // IoError when a copy failed (nothing of the call can be stored).
  Result<Staged> StageFromEngine(std::span<const Segment> src);
  // Load: staging for the device segments of `dst`, not yet written.
  Result<Staged> StageForLoad(std::span<const Segment> dst);
  // Load: copies what the host phase wrote into staging (blocks
  // 0..served-1, the segments `needed(block, segment)` says) to the engine's
  // device segments, layer by layer, reporting each layer to `state` (may be
  // null) once its copy completed. Returns how many leading blocks are in
  // place: `served`, or 0 when a copy failed or the transfer was cancelled
  // (their outcome is then kFailed / kCancelled). Returns only once no copy
  // of this call is in flight.
  size_t DeliverToEngine(Staged& staged, std::span<const Segment> dst, size_t served,
                         const std::function<bool(size_t, size_t)>& needed,
                         TransferHandle::State* state);

  // Gives a staging buffer back for reuse (DeliverToEngine does it itself).
  void Release(Staged& staged);

  uint64_t copy_errors() const { return copy_errors_.load(std::memory_order_relaxed); }

 private:
  Result<Staged> Stage(std::span<const Segment> segments);
  Result<EngineAllocation> TakeStaging(size_t bytes);
  void ReturnStaging(EngineAllocation buffer);
  // Layer `layer`'s H2D pieces of blocks 0..served-1.
  void LayerPieces(const Staged& staged, std::span<const Segment> dst, size_t served,
                   uint32_t layer, const std::function<bool(size_t, size_t)>& needed,
                   std::vector<CopyPiece>& pieces) const;

  const size_t segments_per_block_;
  const uint32_t parts_per_layer_;
  const uint32_t layers_;
  std::unique_ptr<CopyEngine> owned_;  // before everything that uses it
  CopyEngine* engine_ = nullptr;
  EngineSource source_;
  std::once_flag opened_;
  Status open_status_;
  std::unique_ptr<StreamPool> streams_;
  std::mutex mu_;
  std::vector<EngineAllocation> staging_;  // guarded by mu_: free buffers
  std::atomic<uint64_t> copy_errors_{0};
};

}  // namespace kvtier::internal
