// FakeCopyEngine: a CopyEngine over host memory that behaves like CUDA
// streams, for tests on machines without a GPU. Test support only: built
// into kvtier_testing, never into kvtier.
//
// Like a stream: each stream has its own thread; copies run asynchronously,
// in the order they were enqueued; events complete in order; a failed copy
// breaks its stream (every later event reports it, earlier ones do not).
// "Device memory" is host memory the fake handed out (AllocateDevice) and
// tracks, so a copy whose direction does not match its pointers (a device
// pointer used as host memory, or the reverse) is refused at Enqueue as the
// bug it is. Copies go through the same piece math as the CUDA engine
// (copy_pieces.h): runs for DMA, warps and lanes for the gather kernel.
// Decodes and encodes (EnqueueDecode, EnqueueEncode) run the CPU codec
// kernels on the stream's thread, in order with the copies: the math of the
// CUDA codec kernels (lib/codec/codec_math.h), so the bytes are the same.
//
// Host memory as CUDA sees it: pinned (AllocatePinned) and registered
// (RegisterHost) ranges are tracked; a copy whose host side lies in neither
// is pageable, which CUDA copies synchronously through its own staging. The
// fake copies it all the same and counts its bytes (pageable_bytes), so a
// test can pin that the store's DMA paths only touch page-locked memory.
// RefuseRegistration() makes RegisterHost fail as a memlock limit would.
//
// Faults and timing, settable from any thread at any time: a delay before
// each enqueued batch runs, a failure at the n-th piece from now, a pause
// that holds every stream before its next operation (Allow(n) lets n more
// through, in whatever order the streams reach them), and a hold on copies
// that read a given region (to keep one copy in flight while others run).
//
// Thread safety: as CopyEngine; the knobs and counters are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/gpu/copy_engine.h"

namespace kvtier::testing {

class FakeCopyEngine final : public internal::CopyEngine {
 public:
  FakeCopyEngine() = default;
  ~FakeCopyEngine() override;

  std::string Describe() const override { return "fake copy engine (host memory)"; }
  Result<std::unique_ptr<internal::CopyStream>> NewStream() override;
  Result<internal::EngineAllocation> AllocateDevice(size_t bytes) override;
  Result<internal::EngineAllocation> AllocatePinned(size_t bytes) override;
  Status RegisterHost(std::byte* memory, size_t bytes) override;

  // ---- knobs ----
  void set_delay(std::chrono::microseconds per_batch) { delay_us_ = per_batch.count(); }
  // The `n`-th piece copied from now on (1 = the next) fails with IoError
  // and breaks its stream. 0 = no failure.
  void FailPiece(uint64_t n) { fail_at_ = n == 0 ? 0 : pieces_.load() + n; }
  // Holds every stream before its next operation until Resume() or Allow().
  void Pause();
  void Resume();
  // Lets `ops` more operations (a copy batch or an event each) run, then
  // pauses again.
  void Allow(uint64_t ops);
  // Copies with a piece whose source lies in [begin, begin + bytes) wait
  // before copying until ReleaseHold(). One region at a time.
  void HoldReadsFrom(const void* begin, size_t bytes);
  void ReleaseHold();
  // RegisterHost fails from now on (ResourceExhausted), as under a low
  // RLIMIT_MEMLOCK.
  void RefuseRegistration() { refuse_registration_ = true; }
  // Copy batches waiting on the hold now.
  uint64_t held() const;

  // ---- what happened ----
  bool IsDevice(const void* p, size_t bytes) const;
  uint64_t pieces() const { return pieces_.load(); }  // copied (or failed)
  uint64_t dma_batches() const { return dma_batches_.load(); }
  uint64_t gather_batches() const { return gather_batches_.load(); }
  uint64_t decodes() const { return decodes_.load(); }  // DecodePieces run
  uint64_t encodes() const { return encodes_.load(); }  // EncodePieces run
  uint64_t bytes(internal::CopyDirection d) const {
    return bytes_[static_cast<int>(d)].load();
  }
  size_t registered_bytes() const { return registered_bytes_.load(); }
  // True when all of [p, p + bytes) is pinned or registered host memory.
  bool IsPageLocked(const void* p, size_t bytes) const;
  // Bytes copied to or from host memory that is neither (see above).
  uint64_t pageable_bytes() const { return pageable_bytes_.load(); }
  size_t device_bytes_allocated() const;
  // The first AllocateDevice's memory (a store's GPU arena, made at Open).
  std::byte* first_device_allocation() const { return first_device_.load(); }
  // The first RegisterHost's memory (a store's host arena).
  std::byte* first_registration() const { return first_registered_.load(); }

 private:
  friend class FakeStream;
  // Called by a stream's thread before each operation.
  void WaitWhilePaused();
  // Called before a copy batch: waits while one of its sources is held.
  void WaitWhileHeld(const std::vector<internal::CopyPiece>& pieces);
  // Counts the bytes of `pieces` whose host side is pageable.
  void CountPageable(internal::CopyDirection d,
                     const std::vector<internal::CopyPiece>& pieces);
  // Counts one piece; false when it is the one to fail.
  bool TakePiece();

  mutable std::mutex mu_;
  std::condition_variable resumed_;
  int64_t allowance_ = -1;                   // guarded by mu_: -1 = run freely
  uintptr_t hold_begin_ = 0, hold_end_ = 0;  // guarded by mu_
  uint64_t held_ = 0;                        // guarded by mu_
  std::map<uintptr_t, size_t> device_;       // guarded by mu_
  std::map<uintptr_t, size_t> page_locked_;  // guarded by mu_: pinned, registered
  std::atomic<int64_t> delay_us_{0};
  std::atomic<uint64_t> fail_at_{0};
  std::atomic<uint64_t> pieces_{0};
  std::atomic<uint64_t> dma_batches_{0}, gather_batches_{0}, decodes_{0}, encodes_{0};
  std::atomic<uint64_t> bytes_[3] = {0, 0, 0};
  std::atomic<size_t> registered_bytes_{0};
  std::atomic<uint64_t> pageable_bytes_{0};
  std::atomic<bool> refuse_registration_{false};
  std::atomic<std::byte*> first_device_{nullptr};
  std::atomic<std::byte*> first_registered_{nullptr};
};

}  // namespace kvtier::testing
