// RunIo: drives a batch of slot transfers through one IoQueue, liburing-style:
// keep up to depth() ops in flight, submit once per refill, reap every
// completion on every path, continue short transfers, retry -EAGAIN/-EINTR.
//
// Each job borrows one of the queue's staging buffers from start to finish:
// `start` fills it (writes) or names where to read, `finish` consumes it
// while later jobs are still on the device, so CPU work (checksums, copies)
// overlaps the I/O.
//
// Thread safety: single owner of the queue and buffers for the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "backends/nvme/io_queue.h"

namespace kvtier::internal {

// Where one job's bytes go on disk.
struct IoTarget {
  bool write = false;
  int fd = -1;
  uint64_t offset = 0;
  uint32_t len = 0;  // 4 KiB multiple; <= the staging buffer
};

struct StagingBuffers {
  std::span<const std::span<std::byte>> buffers;  // one per in-flight op
  bool registered = false;                        // buffer i is fixed buffer i
};

// Prepares job i in `buf`: returns its target, or a non-OK Status to skip
// the job (finish is still called with that status).
using IoStart = std::function<Result<IoTarget>(size_t job, std::span<std::byte> buf)>;
// Job i is done: `io` is OK when every byte moved; `buf` is its staging buffer.
using IoFinish =
    std::function<void(size_t job, std::span<std::byte> buf, const Status& io)>;

// Runs jobs 0..n-1. Returns IoError only when the queue itself broke (it must
// then be destroyed); every job's finish has been called either way.
Status RunIo(IoQueue& queue, const StagingBuffers& staging, size_t n,
             const IoStart& start, const IoFinish& finish);

}  // namespace kvtier::internal
