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
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
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

bool WriteBehind::PushTask(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (tasks_.size() >= capacity_) return false;
    tasks_.push_back(std::move(task));
  }
  changed_.notify_all();
  return true;
}

void WriteBehind::Drain() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return jobs_.empty() && tasks_.empty() && !busy_; });
}

void WriteBehind::Run() {
  std::vector<WriteDownJob> batch;
  for (;;) {
    std::function<void()> task;
    batch.clear();
    {
      std::unique_lock lock(mu_);
      busy_ = false;
      changed_.notify_all();  // Drain may be waiting for idle
      changed_.wait(lock, [this] { return stop_ || !jobs_.empty() || !tasks_.empty(); });
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
