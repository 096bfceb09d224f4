// StoreImpl::Load and Prefetch: plan and pin the servable prefix, read host
// blocks and, in one batched submission, the NVMe-only ones; then promote
// NVMe hits to host.
#include <cassert>
#include <memory>
#include <string>
#include <vector>

#include "lib/store_impl.h"

namespace kvtier::internal {

Result<LoadResult> StoreImpl::Load(std::span<const BlockHash> chain,
                                   std::span<const Segment> dst) {
  if (Status s = CheckSegments(dst, chain.size(), "load.dst"); !s.ok()) {
    return Reject(std::move(s));
  }
  loads_.fetch_add(1, std::memory_order_relaxed);
  load_blocks_.fetch_add(chain.size(), std::memory_order_relaxed);

  // A block that fails verification ends the prefix there. Without sliding
  // layers the blocks before it are served as read; with them the shorter
  // prefix needs other segments (its own window), so it is planned and read
  // again, a few times at most (each failure drops a block).
  constexpr int kMaxAttempts = 3;
  size_t limit = chain.size(), loaded = 0;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    bool partial = false;
    loaded = LoadOnce(chain.first(limit), dst, &partial);
    if (!partial || !window_.trims()) break;
    limit = loaded;
    loaded = 0;
  }
  load_hit_blocks_.fetch_add(loaded, std::memory_order_relaxed);
  return LoadResult{loaded};
}

size_t StoreImpl::LoadOnce(std::span<const BlockHash> chain, std::span<const Segment> dst,
                           bool* partial) {
  const std::vector<SlotWork> pinned = PinPrefix(chain);
  Promotion promo = ReservePromotions(chain, pinned);
  Status failure;
  const size_t loaded = ReadPinned(chain, dst, pinned, promo, &failure);
  *partial = loaded < pinned.size();
  FinishLoad(chain, pinned, loaded, !*partial || !window_.trims());
  FinishPromotions(chain, promo);
  return loaded;
}

// The longest servable prefix P (the same answer as Lookup), each block
// pinned at the fastest tier holding it in the form P needs: whole in P's
// window, any form before it.
std::vector<StoreImpl::SlotWork> StoreImpl::PinPrefix(std::span<const BlockHash> chain) {
  std::vector<SlotWork> pinned;
  MutexLock lock(&mu_);
  if (!window_.trims()) {  // every block whole: one probe per block
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::optional<Tier> tier = index_.FastestReadyTier(chain[i]);
      if (!tier) break;
      index_.Pin(chain[i], *tier);
      pinned.push_back(SlotWork{i, *tier, index_.SlotOf(chain[i], *tier)});
    }
    return pinned;
  }
  const size_t prefix = index_.LongestPrefix(chain).blocks;
  pinned.reserve(prefix);
  for (size_t i = 0; i < prefix; ++i) {
    const BlockForm need = window_.NeedForm(i, prefix);
    const std::optional<Tier> tier = index_.FastestReadyTier(chain[i], need);
    assert(tier && "LongestPrefix counted a block no tier serves");
    index_.Pin(chain[i], *tier);
    pinned.push_back(SlotWork{i, *tier, index_.SlotOf(chain[i], *tier),
                              index_.FormIn(chain[i], *tier), need});
  }
  return pinned;
}

// A hit on NVMe is promoted to host (the NVMe copy stays). The host slots
// are reserved before the read, so each block is written to host as soon as
// its read completes, while the rest of the batch is still on the device.
StoreImpl::Promotion StoreImpl::ReservePromotions(std::span<const BlockHash> chain,
                                                  const std::vector<SlotWork>& pinned) {
  Promotion p;
  if (backend(Tier::kHost) == nullptr) return p;
  std::vector<size_t> blocks;
  std::vector<BlockForm> forms;
  for (const SlotWork& w : pinned) {
    if (w.tier != Tier::kNvme) continue;
    blocks.push_back(w.block);
    forms.push_back(PromotedForm(w.form, w.need));
  }
  if (blocks.empty()) return p;
  std::vector<Demotion> demotions;
  p.work = ReserveSlots(chain, blocks, forms, /*refresh_anywhere=*/false, &p.result,
                        &demotions);
  if (!demotions.empty()) Demote(demotions);
  p.of_block.assign(chain.size(), -1);
  for (size_t k = 0; k < p.work.size(); ++k) {
    p.of_block[p.work[k].block] = static_cast<int>(k);
    // Until its read completes and the copy succeeds, a promotion has failed.
    p.io.push_back(BlockIo{p.work[k].slot,
                           chain[p.work[k].block],
                           nullptr,
                           {},
                           Unavailable("promotion: block not read"),
                           {}});
  }
  return p;
}

// Returns how many leading blocks arrived intact; *failure says why the next
// did not. NVMe blocks go down as one batch, not one read per block.
size_t StoreImpl::ReadPinned(std::span<const BlockHash> chain,
                             std::span<const Segment> dst,
                             const std::vector<SlotWork>& pinned, Promotion& promo,
                             Status* failure) {
  std::vector<BlockIo> nvme_io;
  std::vector<size_t> nvme_at;  // index in `pinned`
  std::vector<Status> status(pinned.size());
  std::vector<std::vector<Segment>> scratch(pinned.size());
  const auto block_dst = [&](size_t block) {
    return dst.subspan(block * segments_per_block_, segments_per_block_);
  };
  for (size_t k = 0; k < pinned.size(); ++k) {
    const SlotWork& w = pinned[k];
    const std::span<const Segment> targets =
        window_.ReadTargets(block_dst(w.block), w.form, w.need, scratch[k]);
    if (w.tier == Tier::kNvme) {
      nvme_io.push_back(
          BlockIo{w.slot, chain[w.block], nullptr, targets, Status::Ok(), {}});
      nvme_at.push_back(k);
    } else {
      status[k] = backend(w.tier)->Read(w.slot, chain[w.block], targets);
    }
  }
  const auto promote = [&](size_t j) {
    const BlockIo& r = nvme_io[j];
    const SlotWork& w = pinned[nvme_at[j]];
    const int k = promo.of_block.empty() ? -1 : promo.of_block[w.block];
    if (k < 0 || !r.status.ok()) return;
    std::vector<Segment> kept;
    const std::span<const Segment> src =
        window_.Kept(block_dst(w.block), promo.work[k].form, kept);
    promo.io[k].status = backend(Tier::kHost)->Write(promo.io[k].slot, r.hash, src);
  };
  if (!nvme_io.empty()) backend(Tier::kNvme)->ReadBatch(nvme_io, promote);
  for (size_t j = 0; j < nvme_io.size(); ++j) status[nvme_at[j]] = nvme_io[j].status;
  for (size_t k = 0; k < pinned.size(); ++k) {
    if (!status[k].ok()) {
      *failure = std::move(status[k]);
      return k;
    }
  }
  return pinned.size();
}

void StoreImpl::FinishLoad(std::span<const BlockHash> chain,
                           const std::vector<SlotWork>& pinned, size_t loaded,
                           bool count_hits) {
  MutexLock lock(&mu_);
  for (const SlotWork& w : pinned) index_.Unpin(chain[w.block], w.tier);
  for (size_t i = 0; count_hits && i < loaded; ++i) {
    ++tier_counters_[static_cast<int>(pinned[i].tier)].hits;
  }
  if (loaded < pinned.size()) {
    // The slot failed verification or I/O: it can never serve this block,
    // so drop it (unless another reader still holds it; the last one drops).
    const SlotWork& bad = pinned[loaded];
    const BlockHash& h = chain[bad.block];
    if (!index_.IsPinned(h, bad.tier)) DropLocked(bad.tier, h);
  }
  index_.TouchChain(chain.first(loaded), /*hit=*/true);
}

// Publishes the promoted blocks in host; a failed copy gives its slot back.
void StoreImpl::FinishPromotions(std::span<const BlockHash> chain, Promotion& promo) {
  if (promo.work.empty()) return;
  FinishSave(chain, promo.work, promo.io, &promo.result);
  promotions_.fetch_add(promo.result.stored, std::memory_order_relaxed);
}

PrefetchHandle StoreImpl::Prefetch(std::span<const BlockHash> chain) {
  if (!writer_ || chain.empty()) return PrefetchHandle();
  auto state = std::make_shared<PrefetchHandle::State>();
  std::vector<BlockHash> copy(chain.begin(), chain.end());
  const bool queued = writer_->PushTask([this, state, c = std::move(copy)]() mutable {
    state->Finish(PrefetchNow(std::move(c)));
  });
  if (!queued) return PrefetchHandle();
  return PrefetchHandle(std::move(state));
}

// On the worker: reads the NVMe-only blocks of the loadable prefix into a
// staging buffer in one batch and stores them in host. Returns blocks moved.
size_t StoreImpl::PrefetchNow(std::vector<BlockHash> chain) {
  const std::vector<SlotWork> pinned = PinPrefix(chain);
  std::vector<SlotWork> nvme;
  for (const SlotWork& w : pinned) {
    if (w.tier == Tier::kNvme) nvme.push_back(w);
  }
  std::unique_ptr<std::byte[]> buffer(new std::byte[nvme.size() * block_bytes_]);
  const std::vector<Segment> segs = StagingSegments(buffer.get(), nvme.size());
  const auto staged = [&](size_t j) {
    return std::span<const Segment>(segs).subspan(j * segments_per_block_,
                                                  segments_per_block_);
  };
  std::vector<std::vector<Segment>> scratch(nvme.size());
  std::vector<BlockIo> io;
  for (size_t j = 0; j < nvme.size(); ++j) {
    const std::span<const Segment> targets =
        window_.ReadTargets(staged(j), nvme[j].form, nvme[j].need, scratch[j]);
    io.push_back(
        BlockIo{nvme[j].slot, chain[nvme[j].block], nullptr, targets, Status::Ok(), {}});
  }
  if (!io.empty()) backend(Tier::kNvme)->ReadBatch(io);
  std::vector<size_t> good;
  std::vector<BlockForm> forms;
  std::vector<size_t> where(chain.size(), 0);
  {
    MutexLock lock(&mu_);
    for (const SlotWork& w : pinned) index_.Unpin(chain[w.block], w.tier);
    for (size_t j = 0; j < nvme.size(); ++j) {
      const BlockHash& h = chain[nvme[j].block];
      if (io[j].status.ok()) {
        good.push_back(nvme[j].block);
        forms.push_back(PromotedForm(nvme[j].form, nvme[j].need));
        where[nvme[j].block] = j;
      } else if (!index_.IsPinned(h, Tier::kNvme)) {
        DropLocked(Tier::kNvme, h);
      }
    }
  }
  if (good.empty()) return 0;
  const SaveResult r = StoreInHost(
      chain, good, forms, [&](size_t b) { return staged(where[b]); },
      /*copy_down=*/false);
  promotions_.fetch_add(r.stored, std::memory_order_relaxed);
  return r.stored;
}

}  // namespace kvtier::internal
