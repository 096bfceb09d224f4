// The pread/pwrite fallback IoQueue, for kernels where io_uring cannot be
// set up. Ops run one after another at Submit; no parallelism, but correct.
#include <unistd.h>

#include <cerrno>
#include <deque>
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

  Status Submit() override {
    for (const IoOp& op : prepared_) done_.push_back(IoCompletion{op.tag, Run(op)});
    prepared_.clear();
    return Status::Ok();
  }

  Result<IoCompletion> WaitOne() override {
    if (done_.empty()) return Internal("posix queue: WaitOne with nothing submitted");
    IoCompletion c = done_.front();
    done_.pop_front();
    return c;
  }

 private:
  static int32_t Run(const IoOp& op) {
    const ssize_t n = op.write
                          ? pwrite(op.fd, op.buf, op.len, static_cast<off_t>(op.offset))
                          : pread(op.fd, op.buf, op.len, static_cast<off_t>(op.offset));
    return n < 0 ? -errno : static_cast<int32_t>(n);
  }

  const uint32_t depth_;
  std::vector<IoOp> prepared_;
  std::deque<IoCompletion> done_;
};

}  // namespace

std::unique_ptr<IoQueue> MakePosixQueue(uint32_t depth) {
  return std::make_unique<PosixQueue>(depth);
}

}  // namespace kvtier::internal
