// FaultyIoQueue: wraps a real IoQueue and fails, shortens, refuses or slows
// its ops on request, the way a sick disk does. Test support only: built
// into kvtier_testing, never into kvtier. Install it on an NVMe tier with
// NvmeHooks::wrap_queue (FaultyIoQueue::Wrapper).
//
// Thread safety: as any IoQueue (a submission side and a completion side
// that may run at once); the Faults knobs are atomics, shared by every queue
// of a tier, and may be turned from any thread at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "backends/nvme/io_queue.h"

namespace kvtier::testing {

struct IoFaults {
  std::atomic<uint32_t> fail_writes{0};  // next n writes complete with -write_errno
  std::atomic<int> write_errno{5};       // EIO; ENOSPC = 28
  std::atomic<uint32_t> fail_reads{0};   // next n reads complete with -EIO
  std::atomic<uint32_t> short_ops{0};    // next n ops move only part of their bytes
  std::atomic<uint32_t> eagain_ops{0};   // next n ops complete with -EAGAIN first
  std::atomic<int64_t> delay_us{0};      // every completion waits this long
  std::atomic<uint64_t> ops{0};          // ops prepared (including faulted ones)
  std::atomic<uint64_t> injected{0};     // faults injected
  std::atomic<uint64_t> submits{0};      // Submit calls (batches handed to the device)
  std::atomic<uintptr_t> last_buf{0};    // buf of the last op prepared
};

class FaultyIoQueue final : public internal::IoQueue {
 public:
  FaultyIoQueue(std::unique_ptr<internal::IoQueue> inner,
                std::shared_ptr<IoFaults> faults);

  // For NvmeHooks::wrap_queue: wraps every queue the tier makes.
  static std::function<
      std::unique_ptr<internal::IoQueue>(std::unique_ptr<internal::IoQueue>)>
  Wrapper(std::shared_ptr<IoFaults> faults);

  const char* engine() const override { return inner_->engine(); }
  uint32_t depth() const override { return inner_->depth(); }
  bool RegisterBuffers(std::span<const std::span<std::byte>> buffers) override {
    return inner_->RegisterBuffers(buffers);
  }
  void Prepare(const internal::IoOp& op) override;
  void PrepareNop(uint64_t tag) override { inner_->PrepareNop(tag); }
  Status Submit() override {
    faults_->submits.fetch_add(1);
    return inner_->Submit();
  }
  Result<internal::IoCompletion> WaitOne() override;

 private:
  static bool Take(std::atomic<uint32_t>& n);

  std::unique_ptr<internal::IoQueue> inner_;
  std::shared_ptr<IoFaults> faults_;
  // A failed op goes to the device as a nop; its completion takes the
  // injected result (by tag, unique among ops in flight).
  std::mutex mu_;
  std::unordered_map<uint64_t, int32_t> injected_;  // guarded by mu_
};

}  // namespace kvtier::testing
