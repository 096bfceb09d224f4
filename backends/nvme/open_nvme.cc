// OpenNvmeTier with liburing and RocksDB: the identity a cache directory is
// stamped with, and the tier's config from Options.
#include "backends/nvme/open_nvme.h"

#include <string>

#include "backends/nvme/nvme_tier.h"
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
  c.namespace_id = XXH3_64bits(ns.data(), ns.size());
  // NvmeTier::Create adds the geometry (page and frame sizes, stored sizes).
  c.identity = "format=kvtier-nvme-1\n" + ns +
               "directories=" + std::to_string(c.directories.size()) + "\n";
  c.log = Logger::For(options);
  if (hooks.make_queue) c.make_queue = hooks.make_queue;
  c.wrap_queue = hooks.wrap_queue;
  if (hooks.open_file) c.open_file = hooks.open_file;
  c.manifest_hooks = hooks.manifest;
  Result<std::unique_ptr<NvmeTier>> tier = NvmeTier::Create(std::move(c));
  if (!tier.ok()) return tier.status();
  return std::unique_ptr<TierBackend>(std::move(tier).value());
}

}  // namespace kvtier::internal
