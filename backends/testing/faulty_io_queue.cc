// FaultyIoQueue: fault decisions are made as ops are prepared; failed ops
// never reach the device (a nop goes in their place) and complete with the
// injected error.
#include "backends/testing/faulty_io_queue.h"

#include <cerrno>
#include <thread>
#include <utility>

namespace kvtier::testing {

FaultyIoQueue::FaultyIoQueue(std::unique_ptr<internal::IoQueue> inner,
                             std::shared_ptr<IoFaults> faults)
    : inner_(std::move(inner)), faults_(std::move(faults)) {}

std::function<std::unique_ptr<internal::IoQueue>(std::unique_ptr<internal::IoQueue>)>
FaultyIoQueue::Wrapper(std::shared_ptr<IoFaults> faults) {
  return [faults](std::unique_ptr<internal::IoQueue> inner) {
    return std::unique_ptr<internal::IoQueue>(
        new FaultyIoQueue(std::move(inner), faults));
  };
}

bool FaultyIoQueue::Take(std::atomic<uint32_t>& n) {
  uint32_t v = n.load();
  while (v > 0 && !n.compare_exchange_weak(v, v - 1)) {
  }
  return v > 0;
}

void FaultyIoQueue::Prepare(const internal::IoOp& op) {
  faults_->ops.fetch_add(1);
  faults_->last_buf.store(reinterpret_cast<uintptr_t>(op.buf));
  int err = 0;
  if (op.write && Take(faults_->fail_writes)) {
    err = faults_->write_errno.load();
  } else if (!op.write && Take(faults_->fail_reads)) {
    err = EIO;
  } else if (Take(faults_->eagain_ops)) {
    err = EAGAIN;
  }
  if (err != 0) {
    faults_->injected.fetch_add(1);
    {
      std::lock_guard lock(mu_);
      injected_[op.tag] = -err;
    }
    inner_->PrepareNop(op.tag);
    return;
  }
  internal::IoOp real = op;
  if (op.len > 4096 && Take(faults_->short_ops)) {
    // The device moves only the first part (kept 4 KiB aligned for O_DIRECT);
    // the caller must continue from there.
    faults_->injected.fetch_add(1);
    real.len = (op.len / 2 + 4095) / 4096 * 4096;
    if (real.len >= op.len) real.len = 4096;
  }
  inner_->Prepare(real);
}

Result<internal::IoCompletion> FaultyIoQueue::WaitOne() {
  if (const int64_t us = faults_->delay_us.load(); us > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
  Result<internal::IoCompletion> c = inner_->WaitOne();
  if (!c.ok()) return c;
  std::lock_guard lock(mu_);
  if (auto it = injected_.find(c->tag); it != injected_.end()) {
    c->result = it->second;
    injected_.erase(it);
  }
  return c;
}

}  // namespace kvtier::testing
