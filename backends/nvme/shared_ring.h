// SharedRing: one IoQueue that every batch of the NVMe tier shares, so the
// device queue stays full across calls and threads: any thread submits jobs
// (under the ring's lock: the submission side), one reaper thread takes
// every completion (the completion side), continues short transfers,
// requeues -EAGAIN/-EINTR, and finishes each job, starting queued jobs as
// depth and staging buffers free up (liburing's discipline, as RunIo had it
// per batch).
//
// A job transfers into or out of either the caller's own buffer (4 KiB
// aligned and sized: O_DIRECT DMA straight there) or one of the ring's
// staging buffers (depth() of them, buffer_bytes each, registered with the
// queue when the memlock limit allows). Its RingClient's Fill runs before a
// staged write is issued; Done runs once per job, on the reaper thread (or on
// the submitter's, for a job of a broken ring), while the staging buffer is
// still the job's, so the client decodes from it and the buffer is reused
// only after.
//
// A queue that fails (Submit or WaitOne returns an error) breaks the ring:
// every job queued or in flight finishes with that error and later jobs fail
// at once; the owner replaces a broken ring.
//
// Memory: depth() staging buffers of buffer_bytes, one thread.
// Thread safety: Submit and the accessors are thread-safe; the destructor
// waits for every job and must not race a Submit.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "backends/nvme/io_queue.h"
#include "kvtier/status.h"

namespace kvtier::internal {

// Where one job's bytes go on disk.
struct IoTarget {
  bool write = false;
  int fd = -1;
  uint64_t offset = 0;
  uint32_t len = 0;  // 4 KiB multiple; <= the buffer
};

// The batch a job belongs to. Both hooks may run on any thread, for
// different jobs at once.
class RingClient {
 public:
  virtual ~RingClient() = default;
  // A staged write's bytes: fill `buf` for job `job`.
  virtual void Fill(size_t job, std::span<std::byte> buf) = 0;
  // Job `job` is done: `io` is OK when every byte moved; `buf` holds them
  // (reads) and is the job's until Done returns.
  virtual void Done(size_t job, std::span<std::byte> buf, const Status& io) = 0;
};

struct RingJob {
  RingClient* client = nullptr;
  size_t job = 0;
  IoTarget target;
  // The caller's buffer (4 KiB aligned, >= target.len), or empty: staging.
  std::span<std::byte> own = {};
};

class SharedRing {
 public:
  // Takes `queue`, allocates its staging buffers of `buffer_bytes` and
  // starts the reaper. ResourceExhausted when the buffers cannot be had.
  static Result<std::unique_ptr<SharedRing>> Start(std::unique_ptr<IoQueue> queue,
                                                   size_t buffer_bytes);
  ~SharedRing();
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;

  // Queues `jobs` and issues what fits; returns without waiting for the
  // device. Each job's Done runs exactly once.
  void Submit(std::span<const RingJob> jobs);

  // Jobs queued or in flight: for choosing the least loaded ring.
  size_t load() const;
  bool broken() const;
  const char* engine() const { return queue_->engine(); }
  bool fixed_buffers() const { return fixed_; }
  uint32_t depth() const { return depth_; }

 private:
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  // A tag's life: taken (kStarting: filled outside the lock, its job's
  // alone), on the device (kIssued), completed (kFinishing: Done running),
  // free again; or kAbandoned by Break while on the device (never reused).
  enum class TagState { kFree, kStarting, kIssued, kFinishing, kAbandoned };
  struct InFlight {  // one tag: an op on the device
    RingJob job;
    std::span<std::byte> buf;  // own or staging
    int staging = -1;          // staging buffer index, -1 = own
    uint32_t done = 0;         // bytes moved so far
    int retries = 0;
    TagState state = TagState::kFree;
  };
  // A job given a tag (and staging) but not yet prepared: its Fill runs
  // outside the lock.
  struct Started {
    uint32_t tag;
    bool fill;
  };

  SharedRing(std::unique_ptr<IoQueue> queue, size_t buffer_bytes);
  // Issues queued jobs while tags and staging are free.
  void Pump();
  std::vector<Started> TakeStartable();  // REQUIRES: mu_ held
  void Issue(uint32_t tag);              // REQUIRES: mu_ held
  void ReaperLoop();
  // Handles one completion: reissues, or finishes its job.
  void OnCompletion(const IoCompletion& c);
  void Finish(uint32_t tag, const Status& s);
  // The queue failed: every job fails with `s`, now and later.
  void Break(const Status& s);

  std::unique_ptr<IoQueue> queue_;
  const uint32_t depth_;
  const size_t buffer_bytes_;
  std::unique_ptr<std::byte, FreeDeleter> memory_;
  std::vector<std::span<std::byte>> buffers_;
  bool fixed_ = false;

  mutable std::mutex mu_;
  std::condition_variable idle_;     // jobs_ reached 0
  std::deque<RingJob> queued_;       // guarded by mu_
  std::vector<InFlight> tags_;       // guarded by mu_ (a busy tag: by its job)
  std::vector<uint32_t> free_tags_;  // guarded by mu_
  std::vector<int> free_staging_;    // guarded by mu_
  size_t jobs_ = 0;                  // queued + started, guarded by mu_
  Status broken_;                    // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  bool reaper_gone_ = false;         // the queue failed it; guarded by mu_
  std::thread reaper_;
};

}  // namespace kvtier::internal
