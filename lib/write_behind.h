// WriteBehind: the store's background worker. It writes blocks down to NVMe
// (write-through copy-downs, taken in batches so one batch is one device
// submission) and runs Prefetch tasks, which go first.
//
// Bounded: a Push beyond `capacity` waiting jobs is refused (the caller
// counts a drop) rather than blocking the engine's Save.
//
// Thread safety: thread-safe. The destructor finishes every queued job and
// joins the thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <span>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "kvtier/hash.h"
#include "lib/mutex.h"

namespace kvtier::internal {

struct CopyDownJob {
  BlockHash hash;
  BlockHash parent;
  bool has_parent = false;
};

class WriteBehind {
 public:
  using CopyFn = std::function<void(std::span<const CopyDownJob>)>;

  // `copy` gets up to `batch` jobs at a time, on the worker thread.
  WriteBehind(size_t capacity, size_t batch, CopyFn copy);
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // False when `capacity` jobs already wait.
  bool Push(const CopyDownJob& job);
  // Runs `task` on the worker before any waiting copy-down. False when full.
  bool PushTask(std::function<void()> task);
  // Returns once everything pushed before the call has run.
  void Drain();

 private:
  void Run();

  const size_t capacity_;
  const size_t batch_;
  const CopyFn copy_;
  Mutex mu_;
  std::deque<CopyDownJob> jobs_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace kvtier::internal
