// Moving blocks down from host to NVMe: write-through copy-downs (on the
// background writer, batched so a batch is one device submission) and
// write-back demotions (in the Save that evicts the block).
#include <vector>

#include "lib/store_impl.h"

namespace kvtier::internal {

void StoreImpl::CopyDown(std::span<const CopyDownJob> jobs) {
  std::vector<Demotion> moves;
  {
    MutexLock lock(&mu_);
    for (const CopyDownJob& job : jobs) {
      if (index_.IsPresent(job.hash, Tier::kNvme)) continue;  // already there
      // Gone from host (evicted before its turn) or NVMe refusing: dropped.
      if (!index_.IsReady(job.hash, Tier::kHost)) {
        copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const std::optional<uint32_t> slot = AdmitLocked(
          Tier::kNvme, job.hash, job.has_parent ? &job.parent : nullptr, nullptr);
      if (!slot) {
        copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
        ++tier_counters_[static_cast<int>(Tier::kNvme)].rejected;
        continue;
      }
      index_.Pin(job.hash, Tier::kHost);  // host keeps its slot while we read it
      moves.push_back(Demotion{job, index_.SlotOf(job.hash, Tier::kHost), *slot});
    }
  }
  if (!moves.empty()) WriteDown(moves, writer_buffer_, /*unpin_host=*/true);
}

void StoreImpl::Demote(std::vector<Demotion>& demotions) {
  std::vector<std::byte> buffer;
  WriteDown(demotions, buffer, /*unpin_host=*/false);
}

void StoreImpl::WriteDown(std::span<const Demotion> moves, std::vector<std::byte>& buffer,
                          bool unpin_host) {
  TierBackend* host = backend(Tier::kHost);
  TierBackend* nvme = backend(Tier::kNvme);
  std::vector<BlockIo> writes(moves.size());
  std::vector<Segment> segs;
  // Same codec: the host slot's stored block goes down verbatim (one copy,
  // no re-encoding); it is verified when NVMe reads it back. Otherwise it
  // is decoded from host (verified) and encoded for NVMe.
  const bool verbatim =
      host->codec() == nvme->codec() &&
      !host->StoredBytes(moves.empty() ? 0 : moves[0].host_slot).empty();
  std::vector<BlockIo> reads;
  if (!verbatim) {
    buffer.resize(std::max(buffer.size(), moves.size() * block_bytes_));
    segs = StagingSegments(buffer.data(), moves.size());
  }
  for (size_t i = 0; i < moves.size(); ++i) {
    const CopyDownJob& b = moves[i].block;
    BlockIo& w = writes[i];
    w = BlockIo{moves[i].nvme_slot, b.hash, b.has_parent ? &b.parent : nullptr, {},
                Status::Ok(),       {}};
    if (verbatim) {
      w.stored = host->StoredBytes(moves[i].host_slot).first(stored_bytes_);
    } else {
      w.segments = std::span<const Segment>(segs).subspan(i * segments_per_block_,
                                                          segments_per_block_);
      reads.push_back(
          BlockIo{moves[i].host_slot, b.hash, nullptr, w.segments, Status::Ok(), {}});
    }
  }
  if (!verbatim) {
    host->ReadBatch(reads);  // a host slot that went bad is not copied down
    for (size_t i = 0; i < moves.size(); ++i) writes[i].status = reads[i].status;
  }
  nvme->WriteBatch(writes);

  MutexLock lock(&mu_);
  TierCounters& c = tier_counters_[static_cast<int>(Tier::kNvme)];
  for (size_t i = 0; i < moves.size(); ++i) {
    const BlockHash& h = moves[i].block.hash;
    if (unpin_host) index_.Unpin(h, Tier::kHost);
    if (writes[i].status.ok()) {
      index_.MarkReady(Tier::kNvme, h);
      ++c.inserts;
      copy_down_.fetch_add(1, std::memory_order_relaxed);
    } else {
      FreeSlotLocked(Tier::kNvme, index_.Remove(Tier::kNvme, h));
      copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace kvtier::internal
