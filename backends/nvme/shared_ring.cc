// SharedRing: the completion loop of the NVMe tier, shared by every batch.
// See shared_ring.h.
#include "backends/nvme/shared_ring.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace kvtier::internal {
namespace {

// -EAGAIN can repeat while the device is saturated; beyond this many
// retries of one op the job fails rather than spinning forever.
constexpr int kMaxRetries = 64;
// The nop that tells the reaper to stop; never a job's tag.
constexpr uint64_t kStopTag = UINT64_MAX;
constexpr size_t kBufferAlign = 4096;  // O_DIRECT

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "errno " + std::to_string(err)) + ": " +
         std::strerror(err);
}

Status FromErrno(const IoTarget& t, int err) {
  std::string what = std::string(t.write ? "write" : "read") + " of " +
                     std::to_string(t.len) + " bytes at offset " +
                     std::to_string(t.offset) + ": " + ErrnoText(err);
  // A full device is transient (space may come back); everything else is EIO-like.
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(what));
  return IoError(std::move(what));
}

}  // namespace

SharedRing::SharedRing(std::unique_ptr<IoQueue> queue, size_t buffer_bytes)
    : queue_(std::move(queue)), depth_(queue_->depth()), buffer_bytes_(buffer_bytes) {}

Result<std::unique_ptr<SharedRing>> SharedRing::Start(std::unique_ptr<IoQueue> queue,
                                                      size_t buffer_bytes) {
  auto ring = std::unique_ptr<SharedRing>(new SharedRing(std::move(queue), buffer_bytes));
  const size_t bytes = size_t{ring->depth_} * buffer_bytes;
  ring->memory_.reset(static_cast<std::byte*>(std::aligned_alloc(kBufferAlign, bytes)));
  if (!ring->memory_) {
    return ResourceExhausted("nvme tier: " + std::to_string(bytes) +
                             " bytes of staging buffers");
  }
  std::memset(ring->memory_.get(), 0, bytes);
  for (uint32_t i = 0; i < ring->depth_; ++i) {
    ring->buffers_.emplace_back(ring->memory_.get() + i * buffer_bytes, buffer_bytes);
  }
  // Refused beyond RLIMIT_MEMLOCK (8 MiB here without CAP_IPC_LOCK): plain
  // reads and writes of the same buffers then, which measure no slower.
  ring->fixed_ = ring->queue_->RegisterBuffers(ring->buffers_);
  ring->tags_.resize(ring->depth_);
  for (uint32_t i = ring->depth_; i-- > 0;) {
    ring->free_tags_.push_back(i);
    ring->free_staging_.push_back(static_cast<int>(i));
  }
  ring->reaper_ = std::thread(&SharedRing::ReaperLoop, ring.get());
  return ring;
}

SharedRing::~SharedRing() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return jobs_ == 0; });
  stopping_ = true;
  if (reaper_.joinable() && !reaper_gone_) {
    queue_->PrepareNop(kStopTag);
    // A queue that cannot even submit a nop leaves the reaper waiting:
    // detach rather than hang (its queue and buffers then leak).
    if (!queue_->Submit().ok()) {
      reaper_.detach();
      (void)queue_.release();
      (void)memory_.release();
      return;
    }
  }
  lock.unlock();
  if (reaper_.joinable()) reaper_.join();
}

size_t SharedRing::load() const {
  std::lock_guard lock(mu_);
  return jobs_;
}

bool SharedRing::broken() const {
  std::lock_guard lock(mu_);
  return !broken_.ok();
}

void SharedRing::Submit(std::span<const RingJob> jobs) {
  Status broken;
  {
    std::lock_guard lock(mu_);
    broken = broken_;
    if (broken.ok()) {
      queued_.insert(queued_.end(), jobs.begin(), jobs.end());
      jobs_ += jobs.size();
    }
  }
  if (!broken.ok()) {
    for (const RingJob& j : jobs) j.client->Done(j.job, {}, broken);
    return;
  }
  Pump();
}

std::vector<SharedRing::Started> SharedRing::TakeStartable() {
  std::vector<Started> started;
  while (!queued_.empty() && !free_tags_.empty()) {
    const RingJob& j = queued_.front();
    const bool staged = j.own.empty();
    if (staged && free_staging_.empty()) break;  // first come, first started
    const uint32_t tag = free_tags_.back();
    free_tags_.pop_back();
    int staging = -1;
    if (staged) {
      staging = free_staging_.back();
      free_staging_.pop_back();
    }
    tags_[tag] = InFlight{j, staged ? buffers_[staging] : j.own, staging};
    tags_[tag].state = TagState::kStarting;
    started.push_back(Started{tag, staged && j.target.write});
    queued_.pop_front();
  }
  return started;
}

void SharedRing::Pump() {
  for (;;) {
    std::vector<Started> started;
    {
      std::lock_guard lock(mu_);
      if (!broken_.ok()) return;
      started = TakeStartable();
    }
    if (started.empty()) return;
    // Staged writes are encoded outside the lock: a kStarting tag is its
    // job's alone.
    for (const Started& s : started) {
      if (s.fill) tags_[s.tag].job.client->Fill(tags_[s.tag].job.job, tags_[s.tag].buf);
    }
    Status failed, broken;
    {
      std::lock_guard lock(mu_);
      broken = broken_;
      if (broken.ok()) {
        for (const Started& s : started) Issue(s.tag);
        failed = queue_->Submit();
      }
    }
    if (!broken.ok()) {
      // Broken while these were filled: never issued, still ours to finish.
      for (const Started& s : started) Finish(s.tag, broken);
      return;
    }
    if (!failed.ok()) {
      Break(failed);  // fails the ones just issued with the rest
      return;
    }
  }
}

void SharedRing::Issue(uint32_t tag) {
  InFlight& f = tags_[tag];
  f.state = TagState::kIssued;
  const bool registered = fixed_ && f.staging >= 0;
  queue_->Prepare(IoOp{f.job.target.write, f.job.target.fd, f.job.target.offset + f.done,
                       f.buf.data() + f.done, f.job.target.len - f.done,
                       registered ? f.staging : -1, tag});
}

void SharedRing::ReaperLoop() {
  for (;;) {
    Result<IoCompletion> c = queue_->WaitOne();
    if (!c.ok()) {
      {
        std::lock_guard lock(mu_);
        reaper_gone_ = true;
      }
      Break(c.status());
      return;
    }
    if (c->tag == kStopTag) return;
    OnCompletion(*c);
  }
}

void SharedRing::OnCompletion(const IoCompletion& c) {
  Status s, broke;
  {
    std::lock_guard lock(mu_);
    if (c.tag >= tags_.size() || tags_[c.tag].state != TagState::kIssued) {
      return;  // its job was failed by Break
    }
    InFlight& f = tags_[c.tag];
    bool again = false;
    if (c.result == -EAGAIN || c.result == -EINTR) {
      again = ++f.retries <= kMaxRetries;
      if (!again) s = FromErrno(f.job.target, -c.result);
    } else if (c.result < 0) {
      s = FromErrno(f.job.target, -c.result);
    } else if (c.result == 0) {
      // No progress: past the end of the file, or a device that gave up.
      s = IoError(std::string(f.job.target.write ? "write" : "read") + " at offset " +
                  std::to_string(f.job.target.offset + f.done) + " made no progress");
    } else {
      f.done += static_cast<uint32_t>(c.result);
      again = f.done < f.job.target.len;  // short: continue from there
    }
    if (again) {
      Issue(static_cast<uint32_t>(c.tag));
      broke = queue_->Submit();
      if (broke.ok()) return;
    } else {
      f.state = TagState::kFinishing;  // Break leaves it to us
    }
  }
  if (!broke.ok()) {
    Break(broke);
    return;
  }
  Finish(static_cast<uint32_t>(c.tag), s);
  Pump();
}

void SharedRing::Finish(uint32_t tag, const Status& s) {
  InFlight& f = tags_[tag];
  f.job.client->Done(f.job.job, f.buf.first(f.job.target.len), s);
  std::lock_guard lock(mu_);
  if (f.staging >= 0) free_staging_.push_back(f.staging);
  f = InFlight{};
  free_tags_.push_back(tag);
  if (--jobs_ == 0) idle_.notify_all();
}

void SharedRing::Break(const Status& s) {
  std::vector<RingJob> failed;
  {
    std::lock_guard lock(mu_);
    if (broken_.ok()) broken_ = s;
    for (InFlight& f : tags_) {
      if (f.state != TagState::kIssued) continue;
      // Its op may still complete on the device; the tag stays taken so
      // that the completion is ignored and the buffer never reused.
      f.state = TagState::kAbandoned;
      failed.push_back(f.job);
    }
    failed.insert(failed.end(), queued_.begin(), queued_.end());
    queued_.clear();
  }
  for (const RingJob& j : failed) j.client->Done(j.job, {}, s);
  std::lock_guard lock(mu_);
  jobs_ -= failed.size();
  if (jobs_ == 0) idle_.notify_all();
}

}  // namespace kvtier::internal
