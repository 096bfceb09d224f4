// CacheFile: checks the directory, opens the slot file with O_DIRECT (or
// buffered when allowed), and preallocates it.
#include "backends/nvme/cache_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace kvtier::internal {
namespace {

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "errno " + std::to_string(err)) + ": " +
         std::strerror(err);
}

Status CheckDirectory(const std::string& dir, const std::string& field) {
  struct stat st {};
  if (dir.empty()) return InvalidArgument(field + ": empty path");
  if (stat(dir.c_str(), &st) != 0) {
    return InvalidArgument(field + ": directory '" + dir +
                           "' does not exist or cannot be "
                           "reached (" +
                           ErrnoText(errno) + ")");
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(field + ": '" + dir + "' is a file, not a directory");
  }
  return Status::Ok();
}

Status Preallocate(int fd, uint64_t bytes, const std::string& path,
                   const std::string& field) {
  const int r = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (r == 0) return Status::Ok();
  if (r == ENOSPC) {
    return ResourceExhausted(field + ": not enough free space for the cache file '" +
                             path + "' of " + std::to_string(bytes) + " bytes");
  }
  return IoError(field + ": preallocating '" + path + "': " + ErrnoText(r));
}

}  // namespace

int OpenFile(const std::string& path, int flags) {
  return open(path.c_str(), flags, 0600);
}

Result<CacheFile> CacheFile::Open(const std::string& dir, const std::string& field,
                                  uint64_t bytes, bool allow_buffered,
                                  const FileOpener& open_file) {
  if (Status s = CheckDirectory(dir, field); !s.ok()) return s;
  CacheFile f;
  f.path_ = dir + "/" + kCacheFileName;
  const int flags = O_RDWR | O_CREAT | O_CLOEXEC;
  f.fd_ = open_file(f.path_, flags | O_DIRECT);
  f.direct_ = f.fd_ >= 0;
  if (f.fd_ < 0 && errno == EINVAL) {
    if (!allow_buffered) {
      return InvalidArgument(field + ": the filesystem of '" + dir +
                             "' refuses O_DIRECT (tmpfs?); put the cache on a disk "
                             "filesystem or set options.nvme.allow_buffered_io");
    }
    f.fd_ = open_file(f.path_, flags);
  }
  if (f.fd_ < 0) {
    const int err = errno;
    if (err == EACCES || err == EROFS || err == EPERM) {
      return InvalidArgument(field + ": directory '" + dir + "' is not writable (" +
                             ErrnoText(err) + ")");
    }
    return IoError(field + ": opening '" + f.path_ + "': " + ErrnoText(err));
  }
  fchmod(f.fd_, 0600);  // an existing file keeps no wider mode than ours
  if (Status s = Preallocate(f.fd_, bytes, f.path_, field); !s.ok()) return s;
  return f;
}

CacheFile::~CacheFile() {
  if (fd_ >= 0) close(fd_);
}

CacheFile::CacheFile(CacheFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      direct_(other.direct_),
      path_(std::move(other.path_)) {}

CacheFile& CacheFile::operator=(CacheFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    direct_ = other.direct_;
    path_ = std::move(other.path_);
  }
  return *this;
}

}  // namespace kvtier::internal
