// CacheFile: checks the directory and what sits at the cache path, opens
// the slot file with O_DIRECT (or buffered when allowed), locks it, checks
// the free space and preallocates it.
#include "backends/nvme/cache_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "backends/nvme/trusted_path.h"

namespace kvtier::internal {
namespace {

constexpr int kOpenFlags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;

Status CheckDirectory(const std::string& dir, const std::string& field) {
  struct stat st {};
  if (dir.empty()) return InvalidArgument(field + ": empty path");
  if (stat(dir.c_str(), &st) != 0) {
    return InvalidArgument(field + ": directory '" + dir +
                           "' does not exist or cannot be reached (" + ErrnoText(errno) +
                           ")");
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(field + ": '" + dir + "' is a file, not a directory");
  }
  return CheckPrivate(st, dir, "directory", field);
}

Status NotRegular(const std::string& path, mode_t mode, const std::string& field) {
  if (S_ISLNK(mode)) {
    return InvalidArgument(field + ": cache file '" + path +
                           "' is a symbolic link; kvtier does not follow links "
                           "there: remove it");
  }
  return InvalidArgument(field + ": cache file '" + path + "' is " + FileTypeName(mode) +
                         ", not a regular file: remove it");
}

// True when a cache file is already there; an error when what is there is
// not a regular file.
Result<bool> CheckExisting(const std::string& path, const std::string& field) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return IoError(field + ": examining '" + path + "': " + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode, field);
  return true;
}

Status OpenError(int err, const std::string& dir, const std::string& path, bool existed,
                 const std::string& field) {
  if (err == ELOOP) return NotRegular(path, S_IFLNK, field);
  if (err == EROFS) {
    return InvalidArgument(field + ": the filesystem of '" + dir + "' is read-only (" +
                           ErrnoText(err) + ")");
  }
  if (err == EACCES || err == EPERM) {
    if (existed) {
      return InvalidArgument(field + ": cache file '" + path +
                             "' is not writable by this process (" + ErrnoText(err) +
                             "): chmod u+w it or remove it");
    }
    return InvalidArgument(field + ": directory '" + dir + "' is not writable (" +
                           ErrnoText(err) + ")");
  }
  return IoError(field + ": opening '" + path + "': " + ErrnoText(err));
}

// The file Open is working on; on failure it removes the file if Open
// created it, or gives it back its size. Holds the lock meanwhile, so no
// other store sees the removal half done.
struct Attempt {
  Attempt(std::string p, bool e) : path(std::move(p)), existed(e) {}
  ~Attempt() {
    if (fd < 0) return;
    if (!existed) {
      unlink(path.c_str());
    } else if (grown) {
      (void)ftruncate(fd, static_cast<off_t>(found_bytes));
    }
    close(fd);
    if (lock_fd >= 0) close(lock_fd);
  }
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;
  // Keeps the file as it is now: the caller owns the fd.
  int Release() { return std::exchange(fd, -1); }

  int fd = -1;
  int lock_fd = -1;
  const std::string path;
  const bool existed;
  uint64_t found_bytes = 0;
  bool grown = false;
};

// Creates the file (O_EXCL: Open knows the file is its own to remove).
Status Create(const std::string& dir, const std::string& path, const std::string& field,
              const FileOpener& open_file) {
  const int fd = open_file(path, kOpenFlags | O_CREAT | O_EXCL);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return Unavailable(field + ": cache file '" + path +
                         "' appeared while this store was creating it: another "
                         "store is opening the same directory");
    }
    return OpenError(err, dir, path, false, field);
  }
  close(fd);
  return Status::Ok();
}

// Opens with O_DIRECT, or buffered when the filesystem refuses it and that
// is allowed. Returns the fd; *direct says which.
Result<int> OpenForIo(const std::string& dir, const std::string& path,
                      const std::string& field, bool existed, bool allow_buffered,
                      const FileOpener& open_file, bool* direct) {
  int fd = open_file(path, kOpenFlags | O_DIRECT);
  *direct = fd >= 0;
  if (fd < 0 && errno == EINVAL) {
    if (!allow_buffered) {
      return InvalidArgument(field + ": the filesystem of '" + dir +
                             "' refuses O_DIRECT (tmpfs?); put the cache on a disk "
                             "filesystem or set options.nvme.allow_buffered_io");
    }
    fd = open_file(path, kOpenFlags);
  }
  if (fd < 0) return OpenError(errno, dir, path, existed, field);
  return fd;
}

// What is open is a regular file of ours, mode 0600.
Status CheckOpened(int fd, const std::string& path, const std::string& field,
                   struct stat* st) {
  if (fstat(fd, st) != 0) {
    return IoError(field + ": fstat '" + path + "': " + ErrnoText(errno));
  }
  if (!S_ISREG(st->st_mode)) return NotRegular(path, st->st_mode, field);
  if (Status s = CheckOwner(*st, path, "cache file", field); !s.ok()) return s;
  if ((st->st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
    return IoError(field + ": chmod 0600 '" + path + "': " + ErrnoText(errno));
  }
  return Status::Ok();
}

// Locks the file through an fd of its own, which io_uring never sees: a
// killed process's ring releases the files it used asynchronously, after
// the process is gone, so a lock held through the I/O fd would outlive it
// and refuse the restarted store.
Result<int> Lock(const std::string& path, const std::string& field,
                 const struct stat& opened, const FileOpener& open_file) {
  const int fd = open_file(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    const Status s =
        IoError(field + ": opening '" + path + "' to lock it: " + ErrnoText(errno));
    if (fd >= 0) close(fd);
    return s;
  }
  if (st.st_dev != opened.st_dev || st.st_ino != opened.st_ino) {
    close(fd);
    return Unavailable(field + ": cache file '" + path +
                       "' was replaced while this store was opening it");
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return Unavailable(field + ": cache file '" + path +
                         "' is in use by another store (in this or another "
                         "process); close it or give this store another directory");
    }
    return IoError(field + ": locking '" + path + "': " + ErrnoText(err));
  }
  return fd;
}

// The file grows to `bytes`: the filesystem must have the rest of it and
// `keep_free` (the manifest's reserve) free.
Status CheckFreeSpace(int fd, const struct stat& st, uint64_t bytes, uint64_t keep_free,
                      const std::string& dir) {
  struct statvfs vfs {};
  if (fstatvfs(fd, &vfs) != 0) return Status::Ok();  // fallocate will tell
  const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  const uint64_t more = bytes > allocated ? bytes - allocated : 0;
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes >= keep_free && more <= free_bytes - keep_free) {
    return Status::Ok();
  }
  return InvalidArgument(
      "options.nvme.capacity_bytes: the cache file in '" + dir + "' needs " +
      std::to_string(more) + " more bytes and the manifest keeps " +
      std::to_string(keep_free) + " bytes free, but its filesystem has " +
      std::to_string(free_bytes) + " bytes free; lower the capacity or free space");
}

Status Preallocate(int fd, uint64_t bytes, const std::string& path,
                   const std::string& field) {
  const int r = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (r == 0) return Status::Ok();
  if (r == ENOSPC || r == EFBIG) {
    return InvalidArgument("options.nvme.capacity_bytes: preallocating " +
                           std::to_string(bytes) + " bytes for '" + path +
                           "' ran out of space (" + ErrnoText(r) +
                           "); lower the capacity or free space");
  }
  return IoError(field + ": preallocating '" + path + "': " + ErrnoText(r));
}

// Brings the opened file to at least `bytes`, checked against the free
// space and preallocated. A larger file keeps its size until CutToSize.
Status Grow(Attempt& a, const struct stat& st, uint64_t bytes, uint64_t keep_free,
            const std::string& dir, const std::string& field) {
  // Reopened as it was: nothing to allocate, and the file is left untouched.
  const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  if (a.found_bytes >= bytes && allocated >= bytes) return Status::Ok();
  if (Status s = CheckFreeSpace(a.fd, st, bytes, keep_free, dir); !s.ok()) return s;
  a.grown = bytes > a.found_bytes;
  return Preallocate(a.fd, std::max(bytes, a.found_bytes), a.path, field);
}

}  // namespace

int OpenFile(const std::string& path, int flags) {
  return open(path.c_str(), flags, 0600);
}

Result<CacheFile> CacheFile::Open(const std::string& dir, const std::string& field,
                                  uint64_t bytes, uint64_t keep_free, bool allow_buffered,
                                  const FileOpener& open_file) {
  if (Status s = CheckDirectory(dir, field); !s.ok()) return s;
  const std::string path = dir + "/" + kCacheFileName;
  Result<bool> existed = CheckExisting(path, field);
  if (!existed.ok()) return existed.status();
  if (!*existed) {
    if (Status s = Create(dir, path, field, open_file); !s.ok()) return s;
  }
  Attempt attempt(path, *existed);
  bool direct = false;
  Result<int> fd =
      OpenForIo(dir, path, field, *existed, allow_buffered, open_file, &direct);
  if (!fd.ok()) {
    if (!*existed) unlink(path.c_str());  // no lock was taken: nobody uses it
    return fd.status();
  }
  attempt.fd = *fd;
  struct stat st {};
  if (Status s = CheckOpened(attempt.fd, path, field, &st); !s.ok()) {
    close(attempt.Release());  // not ours to remove or resize
    return s;
  }
  Result<int> lock = Lock(path, field, st, open_file);
  if (!lock.ok()) {
    close(attempt.Release());  // another store holds it
    return lock.status();
  }
  attempt.lock_fd = *lock;
  attempt.found_bytes = static_cast<uint64_t>(st.st_size);
  if (Status s = Grow(attempt, st, bytes, keep_free, dir, field); !s.ok()) return s;
  CacheFile f;
  f.direct_ = direct;
  f.found_bytes_ = attempt.found_bytes;
  f.bytes_ = bytes;
  f.path_ = path;
  f.fd_ = attempt.Release();
  f.lock_fd_ = std::exchange(attempt.lock_fd, -1);
  return f;
}

Status CacheFile::CutToSize() const {
  struct stat st {};
  if (fstat(fd_, &st) != 0) return IoError("fstat '" + path_ + "': " + ErrnoText(errno));
  if (static_cast<uint64_t>(st.st_size) <= bytes_) return Status::Ok();
  if (ftruncate(fd_, static_cast<off_t>(bytes_)) == 0) return Status::Ok();
  return IoError("cutting '" + path_ + "' to " + std::to_string(bytes_) +
                 " bytes: " + ErrnoText(errno));
}

CacheFile::~CacheFile() {
  if (fd_ >= 0) close(fd_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

CacheFile::CacheFile(CacheFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      direct_(other.direct_),
      found_bytes_(other.found_bytes_),
      bytes_(other.bytes_),
      path_(std::move(other.path_)) {}

CacheFile& CacheFile::operator=(CacheFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    if (lock_fd_ >= 0) close(lock_fd_);
    fd_ = std::exchange(other.fd_, -1);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    direct_ = other.direct_;
    found_bytes_ = other.found_bytes_;
    bytes_ = other.bytes_;
    path_ = std::move(other.path_);
  }
  return *this;
}

}  // namespace kvtier::internal
