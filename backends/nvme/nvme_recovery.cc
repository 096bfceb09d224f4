// NvmeTier recovery: which manifest entries a reopened tier keeps, in which
// form, and the slot records rebuilt from them.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "backends/nvme/nvme_tier.h"
#include "lib/index/page_space.h"

namespace kvtier::internal {
namespace {

// Block hashes are uniformly random already.
struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const { return static_cast<size_t>(h.lo); }
};
// Says which cache files Open found at another size than the tier's: their
// entries beyond the size found were dropped (a file found larger, from a
// larger capacity, was cut down; its entries within the new size are kept).
void LogResizedFiles(std::span<const CacheFile> files, const Logger& log,
                     uint64_t dropped) {
  for (const CacheFile& f : files) {
    if (f.found_bytes() == f.bytes() || (f.found_bytes() == 0 && dropped == 0)) continue;
    const std::string msg =
        "nvme tier: cache file '" + f.path() + "' was " +
        std::to_string(f.found_bytes()) + " bytes at Open, not " +
        std::to_string(f.bytes()) +
        " (truncated, deleted, or written with another capacity); manifest entries of "
        "blocks it no longer holds were dropped (" +
        std::to_string(dropped) + " entries dropped in all)";
    log.Warning(msg);
  }
}

}  // namespace

std::optional<BlockForm> NvmeTier::RecoveredForm(const ManifestEntry& e) const {
  const TierGeometry& g = geometry();
  if (e.slot >= g.id_count()) return std::nullopt;
  if (g.IsSlotless(e.slot)) {
    if (g.trimmed_bytes == 0 && e.stored_bytes == 0) return BlockForm::kTrimmed;
    return std::nullopt;
  }
  // The slot's bytes must lie within its cache file as Open found it: a
  // file truncated, or deleted and recreated, no longer holds them.
  const CacheFile& file = files_[e.slot / g.pages_per_frame % files_.size()];
  const uint64_t slot_bytes = e.stored_bytes + TagBytes(config_);
  const uint64_t end =
      OffsetOf(e.slot) + (slot_bytes + kSlotAlign - 1) / kSlotAlign * kSlotAlign;
  if (end > file.found_bytes()) return std::nullopt;
  if (e.stored_bytes == g.whole_bytes) {
    if (e.slot % g.pages_per_frame != 0) return std::nullopt;
    return BlockForm::kWhole;
  }
  if (g.trimmed_bytes != 0 && e.stored_bytes == g.trimmed_bytes) {
    return BlockForm::kTrimmed;
  }
  return std::nullopt;
}

// The form each entry is kept in, nullopt for those that cannot be right
// (other namespace or codec, a size wrong for the slot, a slot a newer
// entry overlaps) or are stale (a newer entry names the same block: the
// older one's delete was still pending, NvmeTier::Forget).
std::vector<std::optional<BlockForm>> NvmeTier::KeptForms(
    std::span<const ManifestEntry> entries) const {
  // Newest first: the newer of two overlapping entries claims the space.
  PageSpace space(geometry());
  std::unordered_set<BlockHash, BlockHashHasher> kept_hashes;
  std::vector<std::optional<BlockForm>> keep(entries.size());
  for (size_t i = entries.size(); i-- > 0;) {
    const ManifestEntry& e = entries[i];
    if (e.namespace_id != config_.namespace_id ||
        e.codec != static_cast<uint8_t>(codec()) || kept_hashes.contains(e.hash)) {
      continue;
    }
    const std::optional<BlockForm> form = RecoveredForm(e);
    if (form && space.Claim(e.slot, *form)) {
      keep[i] = form;
      kept_hashes.insert(e.hash);
    }
  }
  return keep;
}

// Rebuilds records_ from the manifest. An entry that cannot be right (slot
// out of range or wrong for its size, bytes beyond its cache file's size as
// Open found it, other namespace or codec, a slot a newer entry overlaps)
// is dropped from the manifest and counted.
Status NvmeTier::Recover() {
  const auto start = std::chrono::steady_clock::now();
  uint64_t malformed = 0;
  Result<std::vector<ManifestEntry>> entries = manifest_->LoadAll(&malformed);
  if (!entries.ok()) return entries.status();
  const std::vector<std::optional<BlockForm>> keep = KeptForms(*entries);
  std::vector<ManifestKey> dropped;
  for (size_t i = 0; i < entries->size(); ++i) {  // recovered_ oldest first
    const ManifestEntry& e = (*entries)[i];
    if (!keep[i]) {
      dropped.push_back(e.key());
      continue;
    }
    SlotRecord& rec = records_[e.slot];
    rec.hash = e.hash;
    rec.digest = e.header_digest;
    rec.seq.store(e.seq, std::memory_order_relaxed);
    recovered_.push_back(
        RecoveredBlock{e.hash, e.parent, e.has_parent, e.slot, *keep[i]});
    seq_.store(std::max(seq_.load(), e.seq + 1));
  }
  if (Status s = manifest_->Delete(dropped); !s.ok()) return s;
  // Reopened with a smaller capacity: the entries that fit were kept above;
  // the bytes past the new size go back to the filesystem.
  for (const CacheFile& f : files_) {
    if (Status s = f.CutToSize(); !s.ok()) return s;
  }
  recovered_count_ = recovered_.size();
  recovery_dropped_ = dropped.size() + malformed;
  LogResizedFiles(files_, config_.log, recovery_dropped_);
  recovery_micros_ =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  return Status::Ok();
}

}  // namespace kvtier::internal
