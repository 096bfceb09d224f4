// IoQueue: the injected device seam (CacheLib Navy's Device, LevelDB's Env).
// The NVMe tier reaches the disk only through it, so tests swap in queues that
// fail (ENOSPC, EIO), shorten or slow transfers, without #ifdefs.
//
// Model: liburing's. Prepare up to depth() ops, Submit() them at once, then
// WaitOne() for each completion. A completion carries the op's tag and the
// kernel's result: bytes transferred (possibly short) or -errno. The caller
// continues short transfers and retries -EAGAIN/-EINTR (IoRunner does).
//
// Thread safety: two sides that may run at once. Prepare, PrepareNop,
// RegisterBuffers and Submit are the submission side: one thread at a time
// (SharedRing holds its lock). WaitOne is the completion side: one thread at
// a time (SharedRing's reaper), concurrently with the submission side, as
// io_uring's submission and completion queues allow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "kvtier/status.h"

namespace kvtier::internal {

struct IoOp {
  bool write = false;
  int fd = -1;
  uint64_t offset = 0;
  std::byte* buf = nullptr;  // O_DIRECT: 4 KiB aligned, as offset and len
  uint32_t len = 0;
  int buf_index = -1;  // registered buffer holding buf, or -1
  uint64_t tag = 0;    // returned in the completion
};

struct IoCompletion {
  uint64_t tag = 0;
  int32_t result = 0;  // bytes transferred, or -errno
};

class IoQueue {
 public:
  virtual ~IoQueue() = default;

  // "io_uring" or "pread/pwrite": what Stats reports.
  virtual const char* engine() const = 0;
  virtual uint32_t depth() const = 0;
  // Registers `buffers` (index i = buffers[i]) for read_fixed/write_fixed.
  // False when refused (RLIMIT_MEMLOCK, no io_uring): ops then use plain
  // reads and writes of the same memory. The memory must outlive the queue.
  virtual bool RegisterBuffers(std::span<const std::span<std::byte>> buffers) = 0;
  // Queues one op. REQUIRES: fewer than depth() ops prepared or in flight.
  virtual void Prepare(const IoOp& op) = 0;
  // Queues an op that moves nothing and completes with result 0 (a wake-up
  // for the completion side). REQUIRES: as Prepare.
  virtual void PrepareNop(uint64_t tag) = 0;
  // Hands every prepared op to the device. IoError when the queue itself
  // failed: the queue is then broken and must be destroyed (destroying it
  // waits for whatever was in flight).
  virtual Status Submit() = 0;
  // Waits for one completion of a submitted op. IoError as Submit.
  virtual Result<IoCompletion> WaitOne() = 0;
};

// Creates a queue of `depth`. The default sets up io_uring; tests inject one
// that fails (forcing the pread/pwrite fallback) or wraps the real one.
using IoQueueFactory = std::function<Result<std::unique_ptr<IoQueue>>(uint32_t depth)>;

// Opens a cache file: open(2) by default (mode 0600); tests inject a
// filesystem that refuses O_DIRECT. Returns the fd, or -1 with errno set.
using FileOpener = std::function<int(const std::string& path, int flags)>;
int OpenFile(const std::string& path, int flags);

// An io_uring queue. NotSupported when this build has no liburing;
// Unavailable naming the errno when the kernel refuses the ring
// (io_uring_disabled sysctl, seccomp, an old kernel).
Result<std::unique_ptr<IoQueue>> MakeUringQueue(uint32_t depth);

// pread/pwrite run synchronously at Submit; completions are then queued.
std::unique_ptr<IoQueue> MakePosixQueue(uint32_t depth);

}  // namespace kvtier::internal
