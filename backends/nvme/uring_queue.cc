// The io_uring IoQueue: one ring (liburing), optionally with registered
// buffers so O_DIRECT transfers use read_fixed/write_fixed.
#include <liburing.h>

#include <sys/uio.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "backends/nvme/io_queue.h"

namespace kvtier::internal {
namespace {

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "errno " + std::to_string(err)) + ": " +
         std::strerror(err);
}

// Move-only owner of one ring.
class UringQueue final : public IoQueue {
 public:
  UringQueue(const io_uring& ring, uint32_t depth) : ring_(ring), depth_(depth) {}
  ~UringQueue() override { io_uring_queue_exit(&ring_); }  // waits for in-flight ops
  UringQueue(const UringQueue&) = delete;
  UringQueue& operator=(const UringQueue&) = delete;

  const char* engine() const override { return "io_uring"; }
  uint32_t depth() const override { return depth_; }

  bool RegisterBuffers(std::span<const std::span<std::byte>> buffers) override {
    std::vector<iovec> iov;
    for (const auto& b : buffers) iov.push_back(iovec{b.data(), b.size()});
    return io_uring_register_buffers(&ring_, iov.data(),
                                     static_cast<unsigned>(iov.size())) == 0;
  }

  void Prepare(const IoOp& op) override {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    // The ring has depth_ entries and callers keep at most depth_ ops
    // outstanding, so a full submission queue is a bug.
    if (sqe == nullptr) __builtin_trap();
    if (op.buf_index >= 0) {
      if (op.write) {
        io_uring_prep_write_fixed(sqe, op.fd, op.buf, op.len, op.offset, op.buf_index);
      } else {
        io_uring_prep_read_fixed(sqe, op.fd, op.buf, op.len, op.offset, op.buf_index);
      }
    } else if (op.write) {
      io_uring_prep_write(sqe, op.fd, op.buf, op.len, op.offset);
    } else {
      io_uring_prep_read(sqe, op.fd, op.buf, op.len, op.offset);
    }
    io_uring_sqe_set_data64(sqe, op.tag);
  }

  void PrepareNop(uint64_t tag) override {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) __builtin_trap();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, tag);
  }

  Status Submit() override {
    for (;;) {
      const int r = io_uring_submit(&ring_);
      if (r >= 0) return Status::Ok();
      if (r == -EINTR || r == -EAGAIN || r == -EBUSY) continue;
      return IoError("io_uring_submit: " + ErrnoText(-r));
    }
  }

  Result<IoCompletion> WaitOne() override {
    io_uring_cqe* cqe = nullptr;
    for (;;) {
      const int r = io_uring_wait_cqe(&ring_, &cqe);
      if (r == 0) break;
      if (r == -EINTR || r == -EAGAIN) continue;
      return IoError("io_uring_wait_cqe: " + ErrnoText(-r));
    }
    IoCompletion c{io_uring_cqe_get_data64(cqe), cqe->res};
    io_uring_cqe_seen(&ring_, cqe);  // every completion is marked seen, error or not
    return c;
  }

 private:
  io_uring ring_;
  const uint32_t depth_;
};

}  // namespace

Result<std::unique_ptr<IoQueue>> MakeUringQueue(uint32_t depth) {
  io_uring ring;
  const int r = io_uring_queue_init(depth, &ring, 0);
  if (r < 0) {
    return Unavailable("io_uring_queue_init(" + std::to_string(depth) +
                       "): " + ErrnoText(-r));
  }
  return std::unique_ptr<IoQueue>(new UringQueue(ring, depth));
}

}  // namespace kvtier::internal
