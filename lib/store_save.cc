// StoreImpl::Save: decide the form each block keeps (sliding-window
// trimming), admit new blocks to host (evicting in policy order until their
// size class fits, never past capacity), write them outside the lock, then
// publish them; with write-through, queue their copies down to NVMe.
#include <algorithm>
#include <cassert>
#include <numeric>
#include <string>
#include <vector>

#include "lib/index/admission.h"
#include "lib/store_impl.h"

namespace kvtier::internal {

Result<SaveResult> StoreImpl::Save(std::span<const BlockHash> chain,
                                   std::span<const Segment> src, size_t first_block) {
  if (first_block > chain.size()) {
    return Reject(InvalidArgument("save.first_block: " + std::to_string(first_block) +
                                  " is past the chain's " + std::to_string(chain.size()) +
                                  " blocks"));
  }
  if (Status s = CheckSegments(src, chain.size() - first_block, "save.src",
                               /*sliding_may_be_null=*/true);
      !s.ok()) {
    return Reject(std::move(s));
  }
  saves_.fetch_add(1, std::memory_order_relaxed);
  save_blocks_.fetch_add(chain.size() - first_block, std::memory_order_relaxed);

  const auto source = [&](size_t b) {
    return src.subspan((b - first_block) * segments_per_block_, segments_per_block_);
  };
  std::vector<size_t> blocks(chain.size() - first_block);
  std::iota(blocks.begin(), blocks.end(), first_block);
  // Whole where a servable prefix needs the sliding layers and the engine
  // still holds them; trimmed otherwise.
  std::vector<BlockForm> forms(blocks.size());
  for (size_t k = 0; k < blocks.size(); ++k) {
    const BlockForm wanted = window_.SaveForm(blocks[k], chain.size());
    forms[k] = wanted == BlockForm::kWhole ? window_.ProvidedForm(source(blocks[k]))
                                           : BlockForm::kTrimmed;
  }
  const SaveResult result = StoreInHost(chain, blocks, forms, source, /*copy_down=*/true);

  save_new_.fetch_add(result.stored, std::memory_order_relaxed);
  save_refreshed_.fetch_add(result.refreshed, std::memory_order_relaxed);
  return result;
}

SaveResult StoreImpl::StoreInHost(std::span<const BlockHash> chain,
                                  std::span<const size_t> blocks,
                                  std::span<const BlockForm> forms,
                                  const SourceOf& source, bool copy_down) {
  SaveResult result;
  std::vector<Demotion> demotions;
  const std::vector<SlotWork> work = ReserveSlots(
      chain, blocks, forms, /*refresh_anywhere=*/copy_down, &result, &demotions);
  // Host victims NVMe lacks (write-back, or write-through copies not yet
  // run) still have their bytes in the slots the new blocks were given:
  // move them down before overwriting, so eviction never loses a block the
  // disk could hold.
  if (!demotions.empty()) Demote(demotions);
  std::vector<std::vector<Segment>> kept(work.size());
  std::vector<BlockIo> io;
  io.reserve(work.size());
  for (size_t k = 0; k < work.size(); ++k) {
    const SlotWork& w = work[k];
    io.push_back(BlockIo{w.slot,
                         chain[w.block],
                         w.block > 0 ? &chain[w.block - 1] : nullptr,
                         window_.Kept(source(w.block), w.form, kept[k]),
                         Status::Ok(),
                         {}});
  }
  if (!io.empty()) backend(Tier::kHost)->WriteBatch(io);
  FinishSave(chain, work, io, &result);
  if (copy_down) CountTrimming(work, io);
  if (copy_down && writer_ && !write_back()) QueueCopyDowns(chain, work, io);
  return result;
}

void StoreImpl::CountTrimming(const std::vector<SlotWork>& work,
                              const std::vector<BlockIo>& written) {
  if (!window_.trims()) return;
  uint64_t trimmed = 0;
  for (size_t k = 0; k < work.size(); ++k) {
    if (written[k].status.ok() && work[k].form == BlockForm::kTrimmed) ++trimmed;
  }
  save_trimmed_.fetch_add(trimmed, std::memory_order_relaxed);
  trim_bytes_saved_.fetch_add(trimmed * window_.sliding_segments() * segment_bytes_,
                              std::memory_order_relaxed);
}

std::vector<StoreImpl::SlotWork> StoreImpl::ReserveSlots(
    std::span<const BlockHash> chain, std::span<const size_t> blocks,
    std::span<const BlockForm> forms, bool refresh_anywhere, SaveResult* result,
    std::vector<Demotion>* demotions) {
  const Tier tier = Tier::kHost;
  std::vector<SlotWork> work;
  MutexLock lock(&mu_);
  for (size_t k = 0; k < blocks.size(); ++k) {
    const size_t i = blocks[k];
    const BlockHash* parent = i > 0 ? &chain[i - 1] : nullptr;
    std::optional<uint32_t> slot;
    switch (HostCopyNeeded(chain[i], forms[k], refresh_anywhere)) {
      case CopyNeed::kHave:
        ++result->refreshed;
        continue;
      case CopyNeed::kNew:
        slot = AdmitLocked(tier, chain[i], parent, forms[k], demotions);
        break;
      case CopyNeed::kUpgrade:
        slot = UpgradeLocked(tier, chain[i], parent, demotions);
        break;
    }
    if (!slot) {
      // Later blocks would have no parent in the store: dead weight.
      result->skipped += blocks.size() - k;
      tier_counters_[static_cast<int>(tier)].rejected += blocks.size() - k;
      break;
    }
    work.push_back(SlotWork{i, tier, *slot, forms[k], forms[k]});
  }
  return work;
}

CopyNeed StoreImpl::HostCopyNeeded(const BlockHash& hash, BlockForm form,
                                   bool refresh_anywhere) const {
  // A block NVMe already holds is not written again by Save: it is only
  // made recent (and a Load will promote it).
  if (refresh_anywhere && index_.IsPresent(hash, Tier::kNvme) &&
      Covers(index_.FormIn(hash, Tier::kNvme), form)) {
    return CopyNeed::kHave;
  }
  return CopyNeeded(index_, Tier::kHost, hash, form);
}

// Admits `hash` to `tier` in `form`, evicting as the policy says.
std::optional<uint32_t> StoreImpl::AdmitLocked(Tier tier, const BlockHash& hash,
                                               const BlockHash* parent, BlockForm form,
                                               std::vector<Demotion>* demotions) {
  if (tier == Tier::kNvme && !backend(Tier::kNvme)->Accepting()) return std::nullopt;
  const Admission a =
      Admit(index_, *space_[static_cast<int>(tier)], tier, hash, parent, form);
  AfterEvictions(tier, a, form, demotions);
  return a.slot;
}

std::optional<uint32_t> StoreImpl::UpgradeLocked(Tier tier, const BlockHash& hash,
                                                 const BlockHash* parent,
                                                 std::vector<Demotion>* demotions) {
  if (tier == Tier::kNvme && !backend(Tier::kNvme)->Accepting()) return std::nullopt;
  const Admission a =
      Upgrade(index_, *space_[static_cast<int>(tier)], tier, hash, parent);
  // Before the new copy's write: a persistent tier forgets the old one now,
  // not after the new entry exists.
  if (a.replaced) backend(tier)->Forget(*a.replaced);
  AfterEvictions(tier, a, BlockForm::kWhole, demotions);
  if (a.slot && tier == Tier::kHost)
    save_upgraded_.fetch_add(1, std::memory_order_relaxed);
  return a.slot;
}

// Counts and forgets what an admission evicted. With `demotions` (host),
// each host victim NVMe lacks is admitted to NVMe and listed for Demote
// instead of being lost.
void StoreImpl::AfterEvictions(Tier tier, const Admission& a, BlockForm form,
                               std::vector<Demotion>* demotions) {
  TierCounters& c = tier_counters_[static_cast<int>(tier)];
  c.placement_evictions += a.placement_evictions;
  std::vector<Demotion> moving;
  for (const Eviction& e : a.evicted) {
    backend(tier)->Forget(e.slot);
    ++c.evictions;
    if (e.orphan) ++c.orphans;
    if (demotions == nullptr || backend(Tier::kNvme) == nullptr || e.orphan ||
        index_.IsPresent(e.hash, Tier::kNvme)) {
      continue;
    }
    const std::optional<uint32_t> nvme_slot = AdmitLocked(
        Tier::kNvme, e.hash, e.has_parent ? &e.parent : nullptr, e.form, nullptr);
    if (nvme_slot) {
      moving.push_back(
          Demotion{{e.hash, e.parent, e.has_parent, e.form}, e.slot, *nvme_slot});
    } else {
      copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const TierGeometry& g = space_[static_cast<int>(tier)]->geometry();
  for (const Demotion& d : moving) {
    // Only a victim inside the slot this block now owns is safe to read
    // later: other freed pages may go to a concurrent Save. A slotless
    // victim has no bytes to lose.
    const bool inside =
        a.slot && d.host_slot >= *a.slot &&
        d.host_slot + g.UnitsOf(d.block.form) <= *a.slot + g.UnitsOf(form);
    if (g.IsSlotless(d.host_slot) || inside) {
      demotions->push_back(d);
    } else {
      DropLocked(Tier::kNvme, d.block.hash);
      copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void StoreImpl::FreeSlotLocked(Tier tier, uint32_t slot, BlockForm form) {
  backend(tier)->Forget(slot);
  space_[static_cast<int>(tier)]->Free(slot, form);
}

void StoreImpl::DropLocked(Tier tier, const BlockHash& hash) {
  const BlockForm form = index_.FormIn(hash, tier);
  FreeSlotLocked(tier, index_.Remove(tier, hash), form);
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
      DropLocked(w.tier, chain[w.block]);
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
    CopyDownJob job{chain[b], b > 0 ? chain[b - 1] : BlockHash{}, b > 0, work[k].form};
    // A full queue means the disk is behind: drop the copy, never block Save.
    if (!writer_->Push(job)) copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace kvtier::internal
