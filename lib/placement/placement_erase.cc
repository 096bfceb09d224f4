// Placement: Erase and EraseAll. Blocks leave every tier children first;
// their slots go back to the caller as releases, so a persistent tier
// forgets them after the lock (a restart does not bring them back).
#include "lib/placement/placement.h"

namespace kvtier::internal {

EraseCount Placement::Erase(std::span<const BlockHash> roots,
                            std::vector<SlotRelease>* releases) {
  MutexLock lock(&mu_);
  return EraseLocked(index_.Subtrees(roots), *releases);
}

EraseCount Placement::EraseAll(std::vector<SlotRelease>* releases) {
  MutexLock lock(&mu_);
  return EraseLocked(index_.AllBlocks(), *releases);
}

EraseCount Placement::DropCopies(
    size_t tier, const std::function<bool(const BlockHash&, uint32_t)>& keep,
    std::vector<SlotRelease>* releases, std::vector<BlockHash>* busy) {
  MutexLock lock(&mu_);
  const Tier id = IdAt(tier);
  EraseCount count;
  for (const BlockHash& hash : index_.AllBlocks()) {
    if (!index_.IsPresent(hash, id) || keep(hash, index_.SlotOf(hash, id))) continue;
    if (!index_.IsReady(hash, id) || index_.IsPinned(hash, id)) {
      ++count.busy;
      busy->push_back(hash);
      continue;
    }
    DropLocked(tier, hash, *releases);
    ++count.erased;
  }
  return count;
}

// `blocks` children first (BlockIndex::Subtrees).
EraseCount Placement::EraseLocked(std::span<const BlockHash> blocks,
                                  std::vector<SlotRelease>& releases) {
  // A lease promises the prefix it pinned; erasing the prefix ends it.
  const BlockSet doomed(blocks.begin(), blocks.end());
  const std::vector<Lease> ended = leases_.TakePinning(doomed);
  for (const Lease& l : ended) ReleaseLeasePins(l);
  leases_released_.fetch_add(ended.size(), std::memory_order_relaxed);

  EraseCount count;
  for (const BlockHash& hash : blocks) {
    bool in_use = false;
    for (size_t tier = 0; tier < tiers_.size(); ++tier) {
      if (Shared(tier)) continue;  // not indexed: the deployment's, not ours
      const Tier id = IdAt(tier);
      if (!index_.IsPresent(hash, id)) continue;
      if (!index_.IsReady(hash, id) || index_.IsPinned(hash, id)) {
        in_use = true;
        continue;
      }
      DropLocked(tier, hash, releases);
    }
    ++(in_use ? count.busy : count.erased);
  }
  erased_.fetch_add(count.erased, std::memory_order_relaxed);
  return count;
}

}  // namespace kvtier::internal
