// PrefetchHandle: poll or wait on a prefetch (see store.h for the contract).
#include "lib/prefetch_state.h"

namespace kvtier {

bool PrefetchHandle::Done() const {
  if (!state_) return true;
  std::lock_guard lock(state_->mu);
  return state_->done;
}

size_t PrefetchHandle::Wait() const {
  if (!state_) return 0;
  std::unique_lock lock(state_->mu);
  state_->finished.wait(lock, [this] { return state_->done; });
  return state_->moved;
}

}  // namespace kvtier
