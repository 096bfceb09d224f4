// Checks on the paths the NVMe tier opens. A directory another user owns or
// may write, or a file another user placed there, is refused: whoever can
// write the directory could swap the cache file for a link to another file
// (which a privileged store would then overwrite) or read the KV it holds.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "kvtier/status.h"

namespace kvtier::internal {

// "ENOSPC: No space left on device".
std::string ErrnoText(int err);

// "a FIFO", "a directory", ... for the type bits of `mode`.
std::string FileTypeName(mode_t mode);

// OK when `st` (of `path`, a "directory" or "cache file" as `what` says) is
// owned by this process's effective user. Else InvalidArgument naming
// `field`, the path and what to fix.
Status CheckOwner(const struct stat& st, const std::string& path, const std::string& what,
                  const std::string& field);

// CheckOwner, and not writable by group or others.
Status CheckPrivate(const struct stat& st, const std::string& path,
                    const std::string& what, const std::string& field);

// InvalidArgument naming both entries when two of `dirs` (the values of
// options.nvme.directories) are the same directory ("D" and "D/.", a bind
// mount, a symlink): compared by device and inode. Directories that cannot
// be reached are left to the checks that open them.
Status CheckDistinctDirectories(const std::vector<std::string>& dirs);

}  // namespace kvtier::internal
