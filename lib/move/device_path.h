// DevicePath: the store's side of the copy seam (backends/gpu/copy_engine.h):
// the copy engine, its streams, pinned staging buffers, and what a call with
// engine segments in device memory (MemoryKind::kDevice) needs to cross the
// device boundary. Each such call gets a DeviceTransfer
// (lib/move/device_transfer.h), which the mover drives while the plan's
// slots are pinned.
//
// Direct or staged: the host arena is registered with the engine for DMA
// (CopyEngine::RegisterHost) when the engine is opened. Where registration
// succeeded, a raw block in a host slot crosses by one DMA between the slot
// and the engine's device segments; everything else (a codec'd tier, NVMe,
// an arena the engine refused to register) goes through a pinned staging
// buffer with a CPU copy on the host side. A GPU-tier block is copied (or
// decoded) to the engine device to device, and a save into the GPU tier
// copied (or encoded) from the engine device to device. All are counted
// (Stats().device_blocks_direct / device_blocks_staged / device_blocks_d2d /
// device_blocks_d2d_saved).
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
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "backends/gpu/copy_engine.h"
#include "kvtier/layout.h"
#include "kvtier/store.h"
#include "kvtier/transfer.h"

namespace kvtier::internal {

class DeviceTransfer;

// Where a store's copy engine comes from.
struct EngineSource {
  CopyEngine* borrowed = nullptr;     // tests: the fake, outlives the store
  std::unique_ptr<CopyEngine> owned;  // opened at Open (GPU tier)
  CopyEngineFactory open;             // else opened on first use
  int device = 0;
  std::span<std::byte> host_arena;  // registered with the engine for DMA
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

  // A transfer over the call's engine segments `engine` (block-major, as
  // the call gave them). `state` (may be null): the call's handle state,
  // for cancellation and the blocks' final outcomes; `layer_state` (may be
  // null): where each layer is reported once its copy to the device
  // completed (null when the load reports only at its end). The engine's
  // error when it cannot be opened.
  Result<std::unique_ptr<DeviceTransfer>> Begin(std::span<const Segment> engine,
                                                TransferHandle::State* state,
                                                TransferHandle::State* layer_state);

  // True when all of `memory` lies in host memory registered with the
  // engine (the host arena, when registration succeeded): DMA reaches it.
  bool Registered(std::span<const std::byte> memory) const;

  uint64_t copy_errors() const { return copy_errors_.load(std::memory_order_relaxed); }
  uint64_t blocks_direct() const { return direct_.load(std::memory_order_relaxed); }
  uint64_t blocks_staged() const { return staged_.load(std::memory_order_relaxed); }
  uint64_t blocks_d2d() const { return d2d_.load(std::memory_order_relaxed); }
  uint64_t blocks_d2d_saved() const { return d2d_saved_.load(std::memory_order_relaxed); }

 private:
  friend class DeviceTransfer;
  Result<EngineAllocation> TakeStaging(size_t bytes);
  void ReturnStaging(EngineAllocation buffer);
  Result<StreamPool::Lease> TakeStream() { return streams_->Take(); }
  void CountCopyError() { copy_errors_.fetch_add(1, std::memory_order_relaxed); }
  void CountBlocks(uint64_t direct, uint64_t staged, uint64_t d2d) {
    direct_.fetch_add(direct, std::memory_order_relaxed);
    staged_.fetch_add(staged, std::memory_order_relaxed);
    d2d_.fetch_add(d2d, std::memory_order_relaxed);
  }
  void CountSavedInDevice(uint64_t blocks) {
    d2d_saved_.fetch_add(blocks, std::memory_order_relaxed);
  }

  const KvLayout layout_;
  std::unique_ptr<CopyEngine> owned_;  // before everything that uses it
  CopyEngine* engine_ = nullptr;
  EngineSource source_;
  std::once_flag opened_;
  Status open_status_;
  std::span<const std::byte> registered_;  // set once, in Ready
  std::unique_ptr<StreamPool> streams_;
  std::mutex mu_;
  std::vector<EngineAllocation> staging_;  // guarded by mu_: free buffers
  std::atomic<uint64_t> copy_errors_{0}, direct_{0}, staged_{0}, d2d_{0}, d2d_saved_{0};
};

}  // namespace kvtier::internal
