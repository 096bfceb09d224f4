// WriteBehind: the store's background writers. They carry out write-downs
// (blocks owed to a slower tier), taken in batches so one batch is one
// device submission. Several writers each keep a batch on the device, so the
// device queue does not drain while one writer commits its batch and takes
// the next (a single writer left the disk idle between batches: 0.65x fio
// on 1 MiB saves).
//
// Bounded: a Push beyond `capacity` waiting jobs is refused (the caller
// counts a drop) rather than blocking the engine's Save. Jobs are taken in
// push order; batches taken by different writers may complete in any order.
//
// Thread safety: thread-safe. The destructor finishes every queued job and
// joins the writers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "lib/placement/write_down_job.h"

namespace kvtier::internal {

class WriteBehind {
 public:
  using CopyFn = std::function<void(std::span<const WriteDownJob>)>;

  struct Shape {
    size_t capacity = 1;  // jobs that may wait
    size_t batch = 1;     // jobs one writer takes at a time
    size_t writers = 1;   // batches in flight at once
  };

  // `copy` gets up to `shape.batch` jobs at a time, on a writer thread; up
  // to `shape.writers` calls run at once.
  WriteBehind(Shape shape, CopyFn copy);
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // False when `capacity` jobs already wait.
  bool Push(const WriteDownJob& job);
  // Returns once everything pushed before the call has run.
  void Drain();

 private:
  void Run();
  // Takes up to batch_ jobs; empty once stopped with nothing left.
  std::vector<WriteDownJob> NextBatch();

  const size_t capacity_;
  const size_t batch_;
  const CopyFn copy_;
  // std::mutex + condition_variable, not internal::Mutex::Await: absl
  // evaluates Await conditions inside its uninstrumented library, which
  // ThreadSanitizer reports as races. Guarded by mu_: the three below.
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<WriteDownJob> jobs_;
  size_t busy_ = 0;  // writers running `copy_`
  bool stop_ = false;
  std::vector<std::thread> writers_;  // last: start after the state above exists
};

}  // namespace kvtier::internal
