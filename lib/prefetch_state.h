// The state a PrefetchHandle shares with the worker running its prefetch:
// a done flag and a count, under one mutex (a one-shot future).
// Thread safety: thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "kvtier/store.h"

namespace kvtier {

struct PrefetchHandle::State {
  // Called once by the worker.
  void Finish(size_t blocks) {
    {
      std::lock_guard lock(mu);
      moved = blocks;
      done = true;
    }
    finished.notify_all();
  }
  // std::mutex: see write_behind.h on why not internal::Mutex::Await.
  std::mutex mu;
  std::condition_variable finished;
  bool done = false;  // guarded by mu
  size_t moved = 0;   // guarded by mu
};

}  // namespace kvtier
