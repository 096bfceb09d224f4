// RunIo: the completion loop of the NVMe tier. See io_runner.h.
#include "backends/nvme/io_runner.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace kvtier::internal {
namespace {

// -EAGAIN can repeat while the device is saturated; beyond this many
// retries of one op the job fails rather than spinning forever.
constexpr int kMaxRetries = 64;

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

struct InFlight {
  size_t job = 0;
  IoTarget target;
  uint32_t done = 0;  // bytes transferred so far
  int retries = 0;
  bool busy = false;
};

class Runner {
 public:
  Runner(IoQueue& q, const StagingBuffers& s, size_t n, const IoStart& start,
         const IoFinish& finish)
      : q_(q), s_(s), n_(n), start_(start), finish_(finish), slots_(s.buffers.size()) {}

  Status Run() {
    size_t outstanding = 0;
    while (next_ < n_ || outstanding > 0) {
      size_t prepared = 0;
      for (size_t b = 0; b < slots_.size() && next_ < n_; ++b) {
        if (!slots_[b].busy && StartJob(b)) ++prepared;
      }
      outstanding += prepared;
      if (prepared > 0) {
        if (Status s = q_.Submit(); !s.ok()) return Abort(s);
      }
      if (outstanding == 0) continue;
      Result<IoCompletion> c = q_.WaitOne();
      if (!c.ok()) return Abort(c.status());
      if (!OnCompletion(*c)) --outstanding;  // false: the job finished
    }
    return Status::Ok();
  }

 private:
  // Starts the next job in staging buffer b; false when it finished at once.
  bool StartJob(size_t b) {
    const size_t job = next_++;
    std::span<std::byte> buf = s_.buffers[b];
    Result<IoTarget> t = start_(job, buf);
    if (!t.ok()) {
      finish_(job, buf, t.status());
      return false;
    }
    slots_[b] = InFlight{job, *t, 0, 0, true};
    Issue(b);
    return true;
  }

  void Issue(size_t b) {
    const InFlight& f = slots_[b];
    q_.Prepare(IoOp{f.target.write, f.target.fd, f.target.offset + f.done,
                    s_.buffers[b].data() + f.done, f.target.len - f.done,
                    s_.registered ? static_cast<int>(b) : -1, b});
  }

  // Returns true when the op was issued again (short transfer or retry).
  bool OnCompletion(const IoCompletion& c) {
    const size_t b = c.tag;
    InFlight& f = slots_[b];
    Status s;
    if (c.result == -EAGAIN || c.result == -EINTR) {
      if (++f.retries <= kMaxRetries) return Reissue(b);
      s = FromErrno(f.target, -c.result);
    } else if (c.result < 0) {
      s = FromErrno(f.target, -c.result);
    } else if (c.result == 0) {
      // No progress: past the end of the file, or a device that gave up.
      s = IoError(std::string(f.target.write ? "write" : "read") + " at offset " +
                  std::to_string(f.target.offset + f.done) + " made no progress");
    } else {
      f.done += static_cast<uint32_t>(c.result);
      if (f.done < f.target.len) return Reissue(b);  // short: continue
    }
    f.busy = false;
    finish_(f.job, s_.buffers[b], s);
    return false;
  }

  bool Reissue(size_t b) {
    Issue(b);
    if (Status s = q_.Submit(); !s.ok()) {
      broken_ = s;
      slots_[b].busy = false;
      finish_(slots_[b].job, s_.buffers[b], s);
      return false;
    }
    return true;
  }

  // The queue failed: every job not finished fails with its status.
  Status Abort(const Status& s) {
    for (size_t b = 0; b < slots_.size(); ++b) {
      if (slots_[b].busy) {
        slots_[b].busy = false;
        finish_(slots_[b].job, s_.buffers[b], s);
      }
    }
    for (; next_ < n_; ++next_) finish_(next_, {}, s);
    return s;
  }

  IoQueue& q_;
  const StagingBuffers& s_;
  const size_t n_;
  const IoStart& start_;
  const IoFinish& finish_;
  std::vector<InFlight> slots_;
  size_t next_ = 0;
  Status broken_;

 public:
  const Status& broken() const { return broken_; }
};

}  // namespace

Status RunIo(IoQueue& queue, const StagingBuffers& staging, size_t n,
             const IoStart& start, const IoFinish& finish) {
  Runner r(queue, staging, n, start, finish);
  Status s = r.Run();
  if (s.ok() && !r.broken().ok()) return r.broken();
  return s;
}

}  // namespace kvtier::internal
