// Ownership and mode checks of the NVMe tier's directories and files.
#include "backends/nvme/trusted_path.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kvtier::internal {
namespace {

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string Field(const std::string& field) { return "options.nvme." + field; }

}  // namespace

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "errno " + std::to_string(err)) + ": " +
         std::strerror(err);
}

std::string FileTypeName(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

Status CheckOwner(const struct stat& st, const std::string& path, const std::string& what,
                  const std::string& field) {
  const uid_t me = geteuid();
  if (st.st_uid != me) {
    return InvalidArgument(field + ": " + what + " '" + path + "' is owned by uid " +
                           std::to_string(st.st_uid) + ", not by this process's uid " +
                           std::to_string(me) +
                           "; another user could read or replace the cache: chown it "
                           "or use a " +
                           what + " of your own");
  }
  return Status::Ok();
}

Status CheckPrivate(const struct stat& st, const std::string& path,
                    const std::string& what, const std::string& field) {
  if (Status s = CheckOwner(st, path, what, field); !s.ok()) return s;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return InvalidArgument(field + ": " + what + " '" + path + "' has mode " +
                           Octal(st.st_mode) +
                           " (writable by group or others, who could replace the "
                           "cache): chmod go-w it or use a private " +
                           what);
  }
  return Status::Ok();
}

Status CheckDistinctDirectories(const std::vector<std::string>& dirs) {
  std::vector<struct stat> seen(dirs.size());
  std::vector<bool> reached(dirs.size(), false);
  for (size_t i = 0; i < dirs.size(); ++i) {
    reached[i] = stat(dirs[i].c_str(), &seen[i]) == 0;
    if (!reached[i]) continue;
    for (size_t j = 0; j < i; ++j) {
      if (reached[j] && seen[j].st_dev == seen[i].st_dev &&
          seen[j].st_ino == seen[i].st_ino) {
        return InvalidArgument(Field("directories[" + std::to_string(i) + "]") + ": '" +
                               dirs[i] + "' is the same directory as directories[" +
                               std::to_string(j) + "] '" + dirs[j] +
                               "'; each directory holds one cache file, list it once");
      }
    }
  }
  return Status::Ok();
}

}  // namespace kvtier::internal
