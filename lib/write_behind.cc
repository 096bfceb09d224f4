// WriteBehind: a bounded job queue and the writer threads that drain it.
#include "lib/write_behind.h"

#include <algorithm>
#include <utility>

namespace kvtier::internal {

WriteBehind::WriteBehind(Shape shape, CopyFn copy)
    : capacity_(std::max<size_t>(1, shape.capacity)),
      batch_(std::max<size_t>(1, shape.batch)),
      copy_(std::move(copy)) {
  const size_t writers = std::max<size_t>(1, shape.writers);
  writers_.reserve(writers);
  for (size_t i = 0; i < writers; ++i) writers_.emplace_back([this] { Run(); });
}

WriteBehind::~WriteBehind() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : writers_) t.join();
}

bool WriteBehind::Push(const WriteDownJob& job) {
  {
    std::lock_guard lock(mu_);
    if (jobs_.size() >= capacity_) return false;
    jobs_.push_back(job);
  }
  changed_.notify_all();
  return true;
}

void WriteBehind::Drain() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return jobs_.empty() && busy_ == 0; });
}

std::vector<WriteDownJob> WriteBehind::NextBatch() {
  std::vector<WriteDownJob> batch;
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
  const size_t n = std::min(batch_, jobs_.size());
  batch.assign(jobs_.begin(), jobs_.begin() + static_cast<ptrdiff_t>(n));
  jobs_.erase(jobs_.begin(), jobs_.begin() + static_cast<ptrdiff_t>(n));
  if (n > 0) ++busy_;
  return batch;
}

void WriteBehind::Run() {
  for (;;) {
    const std::vector<WriteDownJob> batch = NextBatch();
    if (batch.empty()) return;  // stopped and nothing left
    copy_(batch);
    {
      std::lock_guard lock(mu_);
      --busy_;
    }
    changed_.notify_all();  // Drain may be waiting for idle
  }
}

}  // namespace kvtier::internal
