// OpenNvmeTier with liburing and RocksDB: the identity a cache directory is
// stamped with, and the tier's config from Options.
#include "backends/nvme/open_nvme.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "backends/nvme/checksum_secret.h"
#include "backends/nvme/nvme_tier.h"
#include "backends/nvme/trusted_path.h"
#include "lib/sliding_window.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define XXH_INLINE_ALL
#include <xxhash.h>
#pragma GCC diagnostic pop

namespace kvtier::internal {
namespace {

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// What must match for the blocks in a directory to be servable here.
std::string NamespaceIdentity(const Options& o) {
  return "model_id=" + o.model_id + "\nlayout=" + Hex(o.layout.Fingerprint()) +
         "\ncodec_tag=" + std::to_string(o.CodecTag()) +
         "\nrank=" + std::to_string(o.rank) +
         "\ntenant_salt=" + Hex(XXH3_64bits(o.tenant_salt.data(), o.tenant_salt.size())) +
         "\n";
}

constexpr char kManifestDirName[] = "kvtier-manifest";

// A capacity beyond the most slots a tier can index is refused, not cut.
Status CheckCapacity(const NvmeTierConfig& c) {
  const TierGeometry g = NvmeGeometry(c);
  if (g.frame_bytes() == 0 || c.capacity_bytes / g.frame_bytes() <= g.frames) {
    return Status::Ok();
  }
  return InvalidArgument(
      "options.nvme.capacity_bytes: " + std::to_string(c.capacity_bytes) +
      " bytes exceed the " + std::to_string(g.capacity_bytes()) +
      " bytes an NVMe tier can index with this layout (" + std::to_string(g.frames) +
      " slots of " + std::to_string(g.frame_bytes()) + " bytes)");
}

// The tier moves a block as one I/O whose length is 32 bits.
Status CheckBlockSize(const NvmeTierConfig& c) {
  if (c.whole_bytes <= uint64_t{UINT32_MAX} - kSlotAlign) return Status::Ok();
  return InvalidArgument("layout: a stored block of " + std::to_string(c.whole_bytes) +
                         " bytes exceeds the NVMe tier's largest I/O (4 GiB); use "
                         "fewer block_tokens");
}

// The manifest's directory, if there, must be a private directory of ours
// (RocksDB follows links inside it; the directory's checks keep others out).
Status CheckManifestDir(const std::string& dir) {
  const std::string path = dir + "/" + kManifestDirName;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return Status::Ok();
  const std::string field = "options.nvme.directories[0]";
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(field + ": manifest '" + path + "' is " +
                           FileTypeName(st.st_mode) + ", not a directory: remove it");
  }
  return CheckPrivate(st, path, "manifest directory", field);
}

// The cache files an Open touches, so a failed Open undoes it: removes the
// files it created, gives those that were there back their size (each
// matched by device and inode first, so nothing another store made since is
// touched).
class TouchedFiles {
 public:
  FileOpener Recording(FileOpener inner) {
    return
        [files = files_, inner = std::move(inner)](const std::string& path, int flags) {
          const int fd = inner(path, flags);
          struct stat st {};
          if (fd >= 0 && fstat(fd, &st) == 0 && !Has(*files, path)) {
            files->push_back({path, st.st_dev, st.st_ino, (flags & O_EXCL) != 0,
                              static_cast<uint64_t>(st.st_size)});
          }
          return fd;
        };
  }
  bool Created(const std::string& path) const {
    for (const File& f : *files_)
      if (f.path == path) return f.created;
    return false;
  }
  void Undo() const {
    for (const File& f : *files_) {
      struct stat st {};
      if (lstat(f.path.c_str(), &st) != 0 || st.st_dev != f.dev || st.st_ino != f.ino) {
        continue;
      }
      if (f.created) {
        unlink(f.path.c_str());
      } else if (static_cast<uint64_t>(st.st_size) > f.size) {
        (void)truncate(f.path.c_str(), static_cast<off_t>(f.size));
      }
    }
  }

 private:
  struct File {
    std::string path;
    dev_t dev;
    ino_t ino;
    bool created;
    uint64_t size;  // when first opened
  };
  static bool Has(const std::vector<File>& files, const std::string& path) {
    for (const File& f : files)
      if (f.path == path) return true;
    return false;
  }
  // Shared with the opener, which the tier's config keeps (only its Create
  // calls it; Open is single-threaded).
  std::shared_ptr<std::vector<File>> files_ = std::make_shared<std::vector<File>>();
};

}  // namespace

Result<std::unique_ptr<TierBackend>> OpenNvmeTier(const Options& options,
                                                  const NvmeHooks& hooks) {
  const std::string ns = NamespaceIdentity(options);
  NvmeTierConfig c;
  c.directories = options.nvme.directories;
  c.capacity_bytes = options.nvme.capacity_bytes;
  const FormBytes form_bytes = StoredBytesByForm(options.layout, options.nvme.codec);
  c.whole_bytes = form_bytes.whole;
  c.trimmed_bytes = form_bytes.trimmed;
  c.queue_depth = options.nvme.queue_depth;
  c.allow_buffered_io = options.nvme.allow_buffered_io;
  c.wipe_on_mismatch = options.nvme.wipe_on_mismatch;
  c.codec = BlockCodec::For(options.nvme.codec, options.layout);
  Result<std::optional<KeyedChecksum>> checksum = NvmeChecksumFromOptions(options.nvme);
  if (!checksum.ok()) return checksum.status();
  c.checksum = std::move(checksum).value();
  c.namespace_id = XXH3_64bits(ns.data(), ns.size());
  // NvmeTier::Create adds the geometry (page and frame sizes, stored sizes).
  c.identity = "format=kvtier-nvme-1\n" + ns +
               "directories=" + std::to_string(c.directories.size()) + "\n";
  c.log = Logger::For(options);
  if (hooks.make_queue) c.make_queue = hooks.make_queue;
  c.wrap_queue = hooks.wrap_queue;
  if (Status s = CheckBlockSize(c); !s.ok()) return s;
  if (Status s = CheckCapacity(c); !s.ok()) return s;
  if (Status s = CheckDistinctDirectories(c.directories); !s.ok()) return s;
  if (!c.directories.empty()) {
    if (Status s = CheckManifestDir(c.directories[0]); !s.ok()) return s;
  }
  TouchedFiles touched;
  c.open_file = touched.Recording(hooks.open_file ? hooks.open_file : OpenFile);
  const std::string first = c.directories.empty() ? "" : c.directories[0];
  std::error_code no_throw;
  const bool had_manifest =
      std::filesystem::exists(first + "/" + kManifestDirName, no_throw);
  c.manifest_hooks = hooks.manifest;
  Result<std::unique_ptr<NvmeTier>> tier = NvmeTier::Create(std::move(c));
  if (!tier.ok()) {
    // Leave nothing behind: the cache files this Open created or grew and,
    // when it created the first one (so no other store held that
    // directory), the manifest it started there.
    if (!had_manifest && touched.Created(first + "/" + kCacheFileName)) {
      std::filesystem::remove_all(first + "/" + kManifestDirName, no_throw);
    }
    touched.Undo();
    return tier.status();
  }
  return std::unique_ptr<TierBackend>(std::move(tier).value());
}

}  // namespace kvtier::internal
