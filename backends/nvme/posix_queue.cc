// The pread/pwrite fallback IoQueue, for kernels where io_uring cannot be
// set up. Ops run one after another at Submit, on the submitting thread; no
// parallelism, but correct. Completions wait in a queue for WaitOne.
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "backends/nvme/io_queue.h"

namespace kvtier::internal {
namespace {

class PosixQueue final : public IoQueue {
 public:
  explicit PosixQueue(uint32_t depth) : depth_(depth) {}

  const char* engine() const override { return "pread/pwrite"; }
  uint32_t depth() const override { return depth_; }
  bool RegisterBuffers(std::span<const std::span<std::byte>>) override { return false; }
  void Prepare(const IoOp& op) override { prepared_.push_back(op); }
  void PrepareNop(uint64_t tag) override { prepared_.push_back(IoOp{.tag = tag}); }

  Status Submit() override {
    std::vector<IoCompletion> done;
    for (const IoOp& op : prepared_) done.push_back(IoCompletion{op.tag, Run(op)});
    prepared_.clear();
    {
      std::lock_guard lock(mu_);
      done_.insert(done_.end(), done.begin(), done.end());
    }
    ready_.notify_one();
    return Status::Ok();
  }

  Result<IoCompletion> WaitOne() override {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [this] { return !done_.empty(); });
    IoCompletion c = done_.front();
    done_.pop_front();
    return c;
  }

 private:
  static int32_t Run(const IoOp& op) {
    if (op.fd < 0) return 0;  // a nop
    const ssize_t n = op.write
                          ? pwrite(op.fd, op.buf, op.len, static_cast<off_t>(op.offset))
                          : pread(op.fd, op.buf, op.len, static_cast<off_t>(op.offset));
    return n < 0 ? -errno : static_cast<int32_t>(n);
  }

  const uint32_t depth_;
  std::vector<IoOp> prepared_;  // submission side only
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<IoCompletion> done_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<IoQueue> MakePosixQueue(uint32_t depth) {
  return std::make_unique<PosixQueue>(depth);
}

}  // namespace kvtier::internal
