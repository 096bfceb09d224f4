// CacheFile: one preallocated file of fixed-size slots in one directory,
// opened with O_DIRECT (the page cache would double the copies and the
// memory), created mode 0600. Move-only owner of the fd.
//
// Thread safety: immutable after Open; the fd is used by many queues.
#pragma once

#include <cstdint>
#include <string>

#include "backends/nvme/io_queue.h"
#include "kvtier/status.h"

namespace kvtier::internal {

inline constexpr const char* kCacheFileName = "kvtier-nvme.cache";
inline constexpr size_t kSlotAlign = 4096;  // O_DIRECT needs 512; 4 KiB pages anyway

class CacheFile {
 public:
  // Opens or creates `dir`/kvtier-nvme.cache of `bytes` (preallocated with
  // fallocate, so overwrites do not allocate). `field` names the option in
  // errors, e.g. "options.nvme.directories[0]". Errors (InvalidArgument,
  // naming the field and the problem): the directory does not exist, is a
  // file, is not writable; the filesystem refuses O_DIRECT and
  // !allow_buffered; ResourceExhausted when the disk lacks the space.
  static Result<CacheFile> Open(const std::string& dir, const std::string& field,
                                uint64_t bytes, bool allow_buffered,
                                const FileOpener& open_file = OpenFile);

  CacheFile() = default;
  ~CacheFile();
  CacheFile(CacheFile&& other) noexcept;
  CacheFile& operator=(CacheFile&& other) noexcept;

  int fd() const { return fd_; }
  bool direct() const { return direct_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  bool direct_ = false;
  std::string path_;
};

}  // namespace kvtier::internal
