// Executor: the threads that run asynchronous transfers (BeginLoad,
// BeginSave, Prefetch) off the engine's threads. A fixed pool, a FIFO of
// tasks; the destructor runs every queued task and joins.
//
// Thread safety: thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kvtier::internal {

class Executor {
 public:
  explicit Executor(size_t threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Run();

  // std::mutex: see lib/write_behind.h on why not internal::Mutex::Await.
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::thread> threads_;         // last: start after the state exists
};

}  // namespace kvtier::internal
