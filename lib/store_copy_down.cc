// Moving blocks down from host to NVMe: write-through copy-downs (on the
// background writer, batched so a batch is one device submission) and
// write-back demotions (in the Save that evicts the block).
#include <algorithm>
#include <vector>

#include "lib/store_impl.h"

namespace kvtier::internal {

void StoreImpl::CopyDown(std::span<const CopyDownJob> jobs) {
  std::vector<Demotion> moves;
  {
    MutexLock lock(&mu_);
    for (const CopyDownJob& job : jobs) {
      // Gone from host (evicted before its turn) or NVMe refusing: dropped.
      if (!index_.IsReady(job.hash, Tier::kHost)) {
        if (!index_.IsPresent(job.hash, Tier::kNvme)) {
          copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
        }
        continue;
      }
      CopyDownJob down = job;
      down.form = index_.FormIn(job.hash, Tier::kHost);  // what host holds now
      const std::optional<uint32_t> slot = AdmitToNvmeLocked(down);
      if (!slot) continue;
      index_.Pin(job.hash, Tier::kHost);  // host keeps its slot while we read it
      moves.push_back(Demotion{down, index_.SlotOf(job.hash, Tier::kHost), *slot});
    }
  }
  if (!moves.empty()) WriteDown(moves, writer_buffer_, /*unpin_host=*/true);
}

// A slot on NVMe for the host copy `job`: a new one, or the NVMe copy
// upgraded when it is trimmed and host's is whole (growth). nullopt when
// NVMe already covers it or cannot take it (counted).
std::optional<uint32_t> StoreImpl::AdmitToNvmeLocked(const CopyDownJob& job) {
  const Tier nvme = Tier::kNvme;
  const BlockHash* parent = job.has_parent ? &job.parent : nullptr;
  std::optional<uint32_t> slot;
  switch (CopyNeeded(index_, nvme, job.hash, job.form)) {
    case CopyNeed::kHave:
      return std::nullopt;  // already there (or being written or read: left)
    case CopyNeed::kNew:
      slot = AdmitLocked(nvme, job.hash, parent, job.form, nullptr);
      break;
    case CopyNeed::kUpgrade:
      slot = UpgradeLocked(nvme, job.hash, parent, nullptr);
      break;
  }
  if (!slot) {
    copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    ++tier_counters_[static_cast<int>(nvme)].rejected;
  }
  return slot;
}

void StoreImpl::Demote(std::vector<Demotion>& demotions) {
  std::vector<std::byte> buffer;
  WriteDown(demotions, buffer, /*unpin_host=*/false);
}

void StoreImpl::WriteDown(std::span<const Demotion> moves, std::vector<std::byte>& buffer,
                          bool unpin_host) {
  TierBackend* host = backend(Tier::kHost);
  TierBackend* nvme = backend(Tier::kNvme);
  const TierGeometry& host_geometry = host->geometry();
  std::vector<BlockIo> writes(moves.size());
  // Same codec: the host slot's stored block goes down verbatim (one copy,
  // no re-encoding); it is verified when NVMe reads it back. Otherwise it
  // is decoded from host (verified) into a staging buffer and encoded for
  // NVMe. A slotless block has nothing to copy: NVMe records it only.
  const bool same_codec = host->codec() == nvme->codec();
  buffer.resize(std::max(buffer.size(), same_codec ? 0 : moves.size() * block_bytes_));
  const std::vector<Segment> staging =
      same_codec ? std::vector<Segment>{} : StagingSegments(buffer.data(), moves.size());
  std::vector<std::vector<Segment>> kept(moves.size());
  std::vector<BlockIo> reads;
  std::vector<size_t> read_of;  // index in `moves`
  for (size_t i = 0; i < moves.size(); ++i) {
    const CopyDownJob& b = moves[i].block;
    BlockIo& w = writes[i];
    w = BlockIo{moves[i].nvme_slot, b.hash, b.has_parent ? &b.parent : nullptr, {},
                Status::Ok(),       {}};
    if (host_geometry.IsSlotless(moves[i].host_slot)) continue;  // no segments
    if (same_codec) {
      w.stored = host->StoredBytes(moves[i].host_slot)
                     .first(host_geometry.StoredBytesOf(b.form));
      continue;
    }
    w.segments = window_.Kept(std::span<const Segment>(staging).subspan(
                                  i * segments_per_block_, segments_per_block_),
                              b.form, kept[i]);
    reads.push_back(
        BlockIo{moves[i].host_slot, b.hash, nullptr, w.segments, Status::Ok(), {}});
    read_of.push_back(i);
  }
  if (!reads.empty()) {
    host->ReadBatch(reads);  // a host slot that went bad is not copied down
    for (size_t j = 0; j < reads.size(); ++j) writes[read_of[j]].status = reads[j].status;
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
      DropLocked(Tier::kNvme, h);
      copy_down_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace kvtier::internal
