// The state a PrefetchHandle shares with the worker running its prefetch:
// a done flag and a count, under one mutex (a one-shot future).
// Thread safety: thread-safe.
#pragma once

#include <cstddef>

#include "absl/base/thread_annotations.h"
#include "kvtier/store.h"
#include "lib/mutex.h"

namespace kvtier {

struct PrefetchHandle::State {
  // Called once by the worker.
  void Finish(size_t blocks) {
    internal::MutexLock lock(&mu);
    moved = blocks;
    done = true;
  }
  internal::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  size_t moved ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace kvtier
