// The NVMe tier's secret: inline, or a private file read (and made) without
// following links.
#include "backends/nvme/checksum_secret.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "backends/nvme/trusted_path.h"

namespace kvtier::internal {
namespace {

constexpr char kKeyField[] = "options.nvme.checksum_key";
constexpr char kFileField[] = "options.nvme.checksum_key_file";

// Closes the fd it holds.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Writes kCreatedSecretBytes random bytes to a new `path` (0600, O_EXCL, so
// nothing that appeared meanwhile, a link included, is written through).
Status CreateSecretFile(const std::string& path, const std::string& field) {
  std::string secret(kCreatedSecretBytes, '\0');
  if (getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
    return IoError(field + ": getrandom: " + ErrnoText(errno));
  }
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return IoError(field + ": creating '" + path + "': " + ErrnoText(errno));
  }
  if (write(fd.get(), secret.data(), secret.size()) !=
          static_cast<ssize_t>(secret.size()) ||
      fsync(fd.get()) != 0) {
    const Status s = IoError(field + ": writing '" + path + "': " + ErrnoText(errno));
    unlink(path.c_str());
    return s;
  }
  return Status::Ok();
}

// The checks on the opened file: a regular file of ours nobody else may
// read or write, of a secret's size.
Status CheckSecretFile(const struct stat& st, const std::string& path,
                       const std::string& field) {
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(field + ": '" + path + "' is " + FileTypeName(st.st_mode) +
                           ", not a regular file");
  }
  if (Status s = CheckOwner(st, path, "checksum key file", field); !s.ok()) return s;
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return InvalidArgument(field + ": checksum key file '" + path + "' has mode " +
                           Octal(st.st_mode) +
                           " (group or others may read or replace the secret): "
                           "chmod 600 it");
  }
  if (st.st_size < static_cast<off_t>(KeyedChecksum::kMinSecretBytes) ||
      st.st_size > static_cast<off_t>(kMaxSecretFileBytes)) {
    return InvalidArgument(field + ": checksum key file '" + path + "' holds " +
                           std::to_string(st.st_size) + " bytes; a secret is " +
                           std::to_string(KeyedChecksum::kMinSecretBytes) + " to " +
                           std::to_string(kMaxSecretFileBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadSecretFile(const std::string& path, bool create,
                                   const std::string& field) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return IoError(field + ": '" + path + "': " + ErrnoText(errno));
    }
    if (!create) {
      return InvalidArgument(field + ": '" + path +
                             "' does not exist; create it (16 to 4096 secret bytes, "
                             "mode 0600) or set create_checksum_key_file");
    }
    if (Status s = CreateSecretFile(path, field); !s.ok()) return s;
  }
  // O_NOFOLLOW: a link (there before, or swapped in since the lstat) fails.
  Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ELOOP) {
      return InvalidArgument(field + ": '" + path +
                             "' is a symbolic link; name the secret file itself");
    }
    return IoError(field + ": opening '" + path + "': " + ErrnoText(errno));
  }
  if (fstat(fd.get(), &st) != 0) {
    return IoError(field + ": stat '" + path + "': " + ErrnoText(errno));
  }
  if (Status s = CheckSecretFile(st, path, field); !s.ok()) return s;
  std::string secret(static_cast<size_t>(st.st_size), '\0');
  if (pread(fd.get(), secret.data(), secret.size(), 0) !=
      static_cast<ssize_t>(secret.size())) {
    return IoError(field + ": reading '" + path + "': " + ErrnoText(errno));
  }
  return secret;
}

Result<std::optional<KeyedChecksum>> NvmeChecksumFromOptions(
    const NvmeTierOptions& nvme) {
  if (!nvme.checksum_key.empty() && !nvme.checksum_key_file.empty()) {
    return InvalidArgument(std::string(kFileField) + ": set together with " + kKeyField +
                           "; give the secret one way");
  }
  if (nvme.create_checksum_key_file && nvme.checksum_key_file.empty()) {
    return InvalidArgument(
        "options.nvme.create_checksum_key_file: set without checksum_key_file");
  }
  if (!nvme.checksum_key.empty()) {
    Result<KeyedChecksum> k = KeyedChecksum::Create(nvme.checksum_key, kKeyField);
    if (!k.ok()) return k.status();
    return std::optional<KeyedChecksum>(std::move(k).value());
  }
  if (nvme.checksum_key_file.empty()) return std::optional<KeyedChecksum>();
  Result<std::string> secret =
      ReadSecretFile(nvme.checksum_key_file, nvme.create_checksum_key_file, kFileField);
  if (!secret.ok()) return secret.status();
  Result<KeyedChecksum> k = KeyedChecksum::Create(*secret, kFileField);
  if (!k.ok()) return k.status();
  return std::optional<KeyedChecksum>(std::move(k).value());
}

}  // namespace kvtier::internal
