// StoreImpl::Save: admit new blocks to host (evicting in policy order, never
// past capacity), write them outside the lock, then publish them; with
// write-through, queue their copies down to NVMe.
#include <numeric>
#include <string>
#include <vector>

#include "lib/store_impl.h"

namespace kvtier::internal {

Result<SaveResult> StoreImpl::Save(std::span<const BlockHash> chain,
                                   std::span<const Segment> src, size_t first_block) {
  if (first_block > chain.size()) {
    return Reject(InvalidArgument("save.first_block: " + std::to_string(first_block) +
                                  " is past the chain's " + std::to_string(chain.size()) +
                                  " blocks"));
  }
  if (Status s = CheckSegments(src, chain.size() - first_block, "save.src"); !s.ok()) {
    return Reject(std::move(s));
  }
  saves_.fetch_add(1, std::memory_order_relaxed);
  save_blocks_.fetch_add(chain.size() - first_block, std::memory_order_relaxed);

  std::vector<size_t> blocks(chain.size() - first_block);
  std::iota(blocks.begin(), blocks.end(), first_block);
  const SaveResult result = StoreInHost(
      chain, blocks,
      [&](size_t b) {
        return src.subspan((b - first_block) * segments_per_block_, segments_per_block_);
      },
      /*copy_down=*/true);

  save_new_.fetch_add(result.stored, std::memory_order_relaxed);
  save_refreshed_.fetch_add(result.refreshed, std::memory_order_relaxed);
  return result;
}

SaveResult StoreImpl::StoreInHost(std::span<const BlockHash> chain,
                                  std::span<const size_t> blocks, const SourceOf& source,
                                  bool copy_down) {
  SaveResult result;
  std::vector<Demotion> demotions;
  const std::vector<SlotWork> work =
      ReserveSlots(chain, blocks, /*refresh_anywhere=*/copy_down, &result, &demotions);
  // Host victims NVMe lacks (write-back, or write-through copies not yet
  // run) still have their bytes in the slots the new blocks were given:
  // move them down before overwriting, so eviction never loses a block the
  // disk could hold.
  if (!demotions.empty()) Demote(demotions);
  std::vector<BlockIo> io;
  io.reserve(work.size());
  for (const SlotWork& w : work) {
    io.push_back(BlockIo{w.slot,
                         chain[w.block],
                         w.block > 0 ? &chain[w.block - 1] : nullptr,
                         source(w.block),
                         Status::Ok(),
                         {}});
  }
  if (!io.empty()) backend(Tier::kHost)->WriteBatch(io);
  FinishSave(chain, work, io, &result);
  if (copy_down && writer_ && !write_back()) QueueCopyDowns(chain, work, io);
  return result;
}

std::vector<StoreImpl::SlotWork> StoreImpl::ReserveSlots(
    std::span<const BlockHash> chain, std::span<const size_t> blocks,
    bool refresh_anywhere, SaveResult* result, std::vector<Demotion>* demotions) {
  const Tier tier = Tier::kHost;
  std::vector<SlotWork> work;
  MutexLock lock(&mu_);
  for (size_t k = 0; k < blocks.size(); ++k) {
    const size_t i = blocks[k];
    // A block NVMe already holds is not written again by Save: it is only
    // made recent (and a Load will promote it).
    if (index_.IsPresent(chain[i], tier) ||
        (refresh_anywhere && index_.IsPresent(chain[i], Tier::kNvme))) {
      ++result->refreshed;
      continue;
    }
    const std::optional<uint32_t> slot =
        AdmitLocked(tier, chain[i], i > 0 ? &chain[i - 1] : nullptr, demotions);
    if (!slot) {
      // Later blocks would have no parent in the store: dead weight.
      result->skipped += blocks.size() - k;
      tier_counters_[static_cast<int>(tier)].rejected += blocks.size() - k;
      break;
    }
    work.push_back(SlotWork{i, tier, *slot});
  }
  return work;
}

// Admits `hash` to `tier`, evicting as the policy says. With `demotions`
// (host), each host victim NVMe lacks is admitted to NVMe and
// listed for Demote instead of being lost.
std::optional<uint32_t> StoreImpl::AdmitLocked(Tier tier, const BlockHash& hash,
                                               const BlockHash* parent,
                                               std::vector<Demotion>* demotions) {
  if (tier == Tier::kNvme && !backend(Tier::kNvme)->Accepting()) return std::nullopt;
  std::optional<std::vector<Eviction>> evicted = index_.MakeRoom(tier, 1, parent);
  if (!evicted) return std::nullopt;
  TierCounters& c = tier_counters_[static_cast<int>(tier)];
  std::vector<Demotion> moving;
  for (const Eviction& e : *evicted) {
    FreeSlotLocked(tier, e.slot);
    ++c.evictions;
    if (e.orphan) ++c.orphans;
    if (demotions == nullptr || backend(Tier::kNvme) == nullptr || e.orphan ||
        index_.IsPresent(e.hash, Tier::kNvme)) {
      continue;
    }
    const std::optional<uint32_t> nvme_slot =
        AdmitLocked(Tier::kNvme, e.hash, e.has_parent ? &e.parent : nullptr, nullptr);
    if (nvme_slot) {
      moving.push_back(Demotion{{e.hash, e.parent, e.has_parent}, e.slot, *nvme_slot});
    } else {
      copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const std::optional<uint32_t> slot = slots_[static_cast<int>(tier)]->Allocate();
  assert(slot && "index capacity and slot count disagree");
  for (const Demotion& d : moving) {
    // Only the victim whose slot this block now owns is safe to read later:
    // another freed slot may go to a concurrent Save. (MakeRoom(1) evicts one
    // block, so this is the normal case.)
    if (d.host_slot == *slot) {
      demotions->push_back(d);
    } else {
      FreeSlotLocked(Tier::kNvme, index_.Remove(Tier::kNvme, d.block.hash));
      copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  index_.AddPending(tier, hash, parent, *slot);
  return slot;
}

void StoreImpl::FreeSlotLocked(Tier tier, uint32_t slot) {
  backend(tier)->Forget(slot);
  slots_[static_cast<int>(tier)]->Free(slot);
}

void StoreImpl::FinishSave(std::span<const BlockHash> chain,
                           const std::vector<SlotWork>& work,
                           const std::vector<BlockIo>& written, SaveResult* result) {
  MutexLock lock(&mu_);
  for (size_t k = 0; k < work.size(); ++k) {
    const SlotWork& w = work[k];
    if (written[k].status.ok()) {
      index_.MarkReady(w.tier, chain[w.block]);
      ++tier_counters_[static_cast<int>(w.tier)].inserts;
      ++result->stored;
    } else {
      // Best effort: a failed write is a block we do not have (invariant 3).
      FreeSlotLocked(w.tier, index_.Remove(w.tier, chain[w.block]));
      ++result->skipped;
    }
  }
  index_.TouchChain(chain);
}

void StoreImpl::QueueCopyDowns(std::span<const BlockHash> chain,
                               const std::vector<SlotWork>& work,
                               const std::vector<BlockIo>& written) {
  for (size_t k = 0; k < work.size(); ++k) {
    if (!written[k].status.ok()) continue;
    const size_t b = work[k].block;
    CopyDownJob job{chain[b], b > 0 ? chain[b - 1] : BlockHash{}, b > 0};
    // A full queue means the disk is behind: drop the copy, never block Save.
    if (!writer_->Push(job)) copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace kvtier::internal
