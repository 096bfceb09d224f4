// WriteBehind: a bounded job queue and the one thread that drains it.
#include "lib/write_behind.h"

#include <utility>
#include <vector>

namespace kvtier::internal {

WriteBehind::WriteBehind(size_t capacity, size_t batch, CopyFn copy)
    : capacity_(capacity),
      batch_(batch),
      copy_(std::move(copy)),
      thread_([this] { Run(); }) {}

WriteBehind::~WriteBehind() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

bool WriteBehind::Push(const CopyDownJob& job) {
  MutexLock lock(&mu_);
  if (jobs_.size() >= capacity_) return false;
  jobs_.push_back(job);
  return true;
}

bool WriteBehind::PushTask(std::function<void()> task) {
  MutexLock lock(&mu_);
  if (tasks_.size() >= capacity_) return false;
  tasks_.push_back(std::move(task));
  return true;
}

void WriteBehind::Drain() {
  MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return jobs_.empty() && tasks_.empty() && !busy_;
  };
  mu_.Await(absl::Condition(&idle));
}

void WriteBehind::Run() {
  std::vector<CopyDownJob> batch;
  for (;;) {
    std::function<void()> task;
    batch.clear();
    {
      MutexLock lock(&mu_);
      busy_ = false;
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !jobs_.empty() || !tasks_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (!tasks_.empty()) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
      } else if (!jobs_.empty()) {
        while (!jobs_.empty() && batch.size() < batch_) {
          batch.push_back(jobs_.front());
          jobs_.pop_front();
        }
      } else {
        return;  // stop_ and nothing left
      }
      busy_ = true;
    }
    if (task) {
      task();
    } else {
      copy_(batch);
    }
  }
}

}  // namespace kvtier::internal
