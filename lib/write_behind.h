// WriteBehind: the store's background writer. It carries out write-downs
// (blocks owed to a slower tier), taken in batches so one batch is one
// device submission, and runs tasks, which go first.
//
// Bounded: a Push beyond `capacity` waiting jobs is refused (the caller
// counts a drop) rather than blocking the engine's Save.
//
// Thread safety: thread-safe. The destructor finishes every queued job and
// joins the thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>

#include "lib/placement/write_down_job.h"

namespace kvtier::internal {

class WriteBehind {
 public:
  using CopyFn = std::function<void(std::span<const WriteDownJob>)>;

  // `copy` gets up to `batch` jobs at a time, on the worker thread.
  WriteBehind(size_t capacity, size_t batch, CopyFn copy);
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // False when `capacity` jobs already wait.
  bool Push(const WriteDownJob& job);
  // Runs `task` on the worker before any waiting copy-down. False when full.
  bool PushTask(std::function<void()> task);
  // Returns once everything pushed before the call has run.
  void Drain();

 private:
  void Run();

  const size_t capacity_;
  const size_t batch_;
  const CopyFn copy_;
  // std::mutex + condition_variable, not internal::Mutex::Await: absl
  // evaluates Await conditions inside its uninstrumented library, which
  // ThreadSanitizer reports as races. Guarded by mu_: the four below.
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<WriteDownJob> jobs_;
  std::deque<std::function<void()>> tasks_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace kvtier::internal
