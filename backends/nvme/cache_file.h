// CacheFile: one preallocated file of fixed-size slots in one directory,
// opened with O_DIRECT (the page cache would double the copies and the
// memory), created mode 0600, never through a symbolic link, and locked
// (flock, exclusive, through a second fd io_uring never holds) for as long
// as it is open so no second store uses it.
// Move-only owner of the fd.
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
  // fallocate, so overwrites do not allocate; a larger file keeps its size
  // until CutToSize, so a later failure of the tier's Open leaves it whole). `field`
  // names the option in errors, e.g. "options.nvme.directories[0]". Errors, each naming
  // the path and what to fix: InvalidArgument when the directory does not exist, is a
  // file, is not writable, is owned by another user or writable by group/others; when the
  // cache file is a symbolic link, not a regular file, not writable or owned
  // by another user; when the filesystem refuses O_DIRECT and
  // !allow_buffered; when the filesystem lacks `bytes` + `keep_free` of
  // free space (the manifest's reserve; naming options.nvme.capacity_bytes).
  // Unavailable when another store (process or Store object) holds the file.
  // A failed Open removes the file if it created it, and gives a file that
  // was there back its size.
  static Result<CacheFile> Open(const std::string& dir, const std::string& field,
                                uint64_t bytes, uint64_t keep_free, bool allow_buffered,
                                const FileOpener& open_file = OpenFile);

  CacheFile() = default;
  ~CacheFile();
  CacheFile(CacheFile&& other) noexcept;
  CacheFile& operator=(CacheFile&& other) noexcept;

  int fd() const { return fd_; }
  bool direct() const { return direct_; }
  const std::string& path() const { return path_; }
  // The file's size as Open found it (0 when Open created it): recovery
  // drops manifest entries whose bytes lay beyond it (truncated, deleted
  // and recreated, or grown).
  uint64_t found_bytes() const { return found_bytes_; }
  // The size the tier uses: the `bytes` Open was given.
  uint64_t bytes() const { return bytes_; }
  // Cuts a file found larger (written with a larger capacity) to bytes().
  Status CutToSize() const;

 private:
  int fd_ = -1;
  int lock_fd_ = -1;  // holds the flock (see Lock in cache_file.cc)
  bool direct_ = false;
  uint64_t found_bytes_ = 0;
  uint64_t bytes_ = 0;
  std::string path_;
};

}  // namespace kvtier::internal
