// The copy seam's stream pool.
#include "backends/gpu/copy_engine.h"

namespace kvtier::internal {

Result<StreamPool::Lease> StreamPool::Take() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      std::unique_ptr<CopyStream> s = std::move(free_.back());
      free_.pop_back();
      return Lease(this, std::move(s));
    }
  }
  Result<std::unique_ptr<CopyStream>> s = engine_->NewStream();
  if (!s.ok()) return s.status();
  return Lease(this, std::move(s).value());
}

void StreamPool::Return(std::unique_ptr<CopyStream> stream) {
  std::lock_guard lock(mu_);
  free_.push_back(std::move(stream));
}

}  // namespace kvtier::internal
