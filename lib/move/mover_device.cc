// Mover: engine memory with device segments (EngineMemory::device). Raw
// host slots the engine can DMA are read and written in place; GPU-tier
// slots are read and written device to device; everything else goes through
// the transfer's pinned staging (lib/move/device_transfer.h).
#include <algorithm>

#include "lib/move/device_transfer.h"
#include "lib/move/load_run.h"
#include "lib/move/mover.h"
#include "lib/stored_block.h"

namespace kvtier::internal {

Result<std::span<const Segment>> Mover::HostBlock(EngineMemory engine,
                                                  size_t block) const {
  if (engine.device == nullptr) return EngineBlock(engine, block);
  return engine.device->HostBlock(block - engine.first_block);
}

// ---- loads --------------------------------------------------------------------------

bool Mover::DirectFromSlot(const LoadRun& run, size_t move) const {
  const Move& m = run.plan.moves[move];
  TierBackend* from = backend(m.from.tier);
  // A promotion writes what the read delivered: that needs a host copy.
  return run.promotion_of[m.block] < 0 && from->block_codec().raw() &&
         run.engine.device->Reachable(from->StoredBytes(m.from.slot));
}

// Verifies the block in its slot (host segments are written on the way,
// device ones only verified), then names the slot's payload as the source
// of each device segment: the slot stays pinned until Deliver is done.
Status Mover::ReadInSlot(LoadRun& run, size_t move) const {
  const Move& m = run.plan.moves[move];
  DeviceTransfer& device = *run.engine.device;
  const size_t b = run.at(move);
  const std::span<const Segment> block = device.Block(b);
  std::vector<Segment> masked(block.begin(), block.end()), targets;
  for (Segment& s : masked) {
    if (s.kind == MemoryKind::kDevice) s = Segment{nullptr, s.bytes};
  }
  TierBackend* from = backend(m.from.tier);
  Status s = from->Read(m.from.slot, run.plan.chain[m.block],
                        window_.ReadTargets(masked, m.form, m.need, targets));
  if (!s.ok()) return s;
  std::vector<const std::byte*> sources;
  PayloadSources(from->StoredBytes(m.from.slot).data(), from->block_codec(), m.form,
                 block, sources);
  device.FromSlot(b, sources);
  return s;
}

void Mover::PayloadSources(const std::byte* stored, const BlockCodec& codec,
                           BlockForm form, std::span<const Segment> block,
                           std::vector<const std::byte*>& sources) const {
  sources.assign(block.size(), nullptr);
  const std::byte* at = stored + kStoredHeaderBytes;
  for (size_t i = 0; i < block.size(); ++i) {
    if (!Stored(form, i)) continue;
    sources[i] = at;
    at += codec.StoredBytes(block[i].bytes);
  }
}

bool Mover::DirectInDevice(const LoadRun& run, size_t move) const {
  const Move& m = run.plan.moves[move];
  TierBackend* from = backend(m.from.tier);
  if (run.promotion_of[m.block] >= 0 || !from->SlotsInDevice()) return false;
  const std::span<const Segment> block = run.engine.device->Block(run.at(move));
  for (size_t i = 0; i < block.size(); ++i) {
    if (Stored(m.form, i) && block[i].kind != MemoryKind::kDevice) return false;
  }
  return true;
}

Status Mover::OpenInDevice(LoadRun& run, size_t move) const {
  const Move& m = run.plan.moves[move];
  DeviceTransfer& device = *run.engine.device;
  const size_t b = run.at(move);
  const std::span<const Segment> block = device.Block(b);
  // Sizes only: nothing is written on the host.
  std::vector<Segment> sizes, targets;
  for (const Segment& s : block) sizes.push_back(Segment{nullptr, s.bytes});
  Result<std::span<const std::byte>> stored =
      backend(m.from.tier)
          ->OpenInDevice(m.from.slot, run.plan.chain[m.block],
                         window_.Kept(sizes, m.form, targets));
  if (!stored.ok()) return stored.status();
  TierBackend* from = backend(m.from.tier);
  std::vector<const std::byte*> sources;
  PayloadSources(stored->data(), from->block_codec(), m.form, block, sources);
  device.FromDeviceSlot(b, sources, from->block_codec());
  return Status::Ok();
}

Status Mover::ReadStaged(LoadRun& run, size_t move) const {
  const Move& m = run.plan.moves[move];
  Result<std::span<const Segment>> block = HostBlock(run.engine, m.block);
  if (!block.ok()) return block.status();
  std::vector<Segment> targets;
  return backend(m.from.tier)
      ->Read(m.from.slot, run.plan.chain[m.block],
             window_.ReadTargets(*block, m.form, m.need, targets));
}

void Mover::ReadMemoryForDevice(LoadRun& run, std::span<const size_t> reads) const {
  for (const size_t k : reads) {
    if (run.cancelled()) {
      run.results[k] = Cancelled("load cancelled");
    } else if (DirectFromSlot(run, k)) {
      run.results[k] = ReadInSlot(run, k);
    } else if (DirectInDevice(run, k)) {
      run.results[k] = OpenInDevice(run, k);
    } else {
      run.results[k] = ReadStaged(run, k);
    }
    FinishRead(run, k);
  }
}

size_t Mover::ServedPrefix(const LoadRun& run) const {
  std::vector<bool> ok(run.plan.chain.size());
  for (size_t k = 0; k < run.plan.moves.size() && run.plan.moves[k].to.engine(); ++k) {
    ok[run.at(k)] = run.results[k].ok();
  }
  size_t n = 0;
  while (n < ok.size() && ok[n]) ++n;
  return n;
}

// ---- saves --------------------------------------------------------------------------

bool Mover::SavedInDevice(const TierBackend& to, std::span<const Segment> kept) {
  if (!to.SlotsInDevice() || kept.empty()) return false;
  return std::all_of(kept.begin(), kept.end(),
                     [](const Segment& s) { return s.kind == MemoryKind::kDevice; });
}

void Mover::CopyOutOfDevice(const Plan& plan, EngineMemory engine, size_t tier,
                            std::span<const size_t> moves, std::span<BlockIo> io,
                            std::vector<std::vector<Segment>>& kept,
                            std::vector<bool>& in_device) const {
  DeviceTransfer& device = *engine.device;
  TierBackend* to = backend(tier);
  std::vector<CopyPiece> pieces;
  std::vector<bool> crossing(moves.size());
  uint64_t direct = 0, staged = 0;
  for (size_t j = 0; j < moves.size(); ++j) {
    const Move& m = plan.moves[moves[j]];
    const size_t b = m.block - engine.first_block;
    if (!device.HasDevice(b)) continue;
    // Into HBM device to device: the tier copies (or encodes) the segments.
    in_device[j] = SavedInDevice(*to, io[j].segments);
    if (in_device[j]) continue;
    const std::span<const Segment> block = device.Block(b);
    size_t payload = 0;
    for (size_t s = 0; s < block.size(); ++s) {
      if (Stored(m.form, s)) payload += block[s].bytes;
    }
    const std::span<std::byte> slot = to->WritableStoredBytes(m.to.slot);
    const bool straight = to->block_codec().raw() &&
                          slot.size() >= StoredBlockBytes(payload) &&
                          device.Reachable(slot);
    std::span<const Segment> host = block;
    if (!straight) {
      Result<std::span<const Segment>> staging = device.HostBlock(b);
      if (!staging.ok()) {
        io[j].status = staging.status();
        continue;
      }
      host = *staging;
    }
    kept[j].clear();
    size_t at = kStoredHeaderBytes;
    for (size_t s = 0; s < block.size(); ++s) {
      if (!Stored(m.form, s)) continue;
      Segment seg = block[s];
      if (seg.kind == MemoryKind::kDevice && seg.data != nullptr) {
        void* into = straight ? static_cast<void*>(slot.data() + at) : host[s].data;
        pieces.push_back(CopyPiece{seg.data, into, seg.bytes});
        seg = Segment{into, seg.bytes, MemoryKind::kHost};
      }
      at += seg.bytes;
      kept[j].push_back(seg);
    }
    io[j].segments = kept[j];
    crossing[j] = true;
    ++(straight ? direct : staged);
  }
  const Status copied = device.CopyToHost(pieces);
  if (!copied.ok()) {
    for (size_t j = 0; j < moves.size(); ++j) {
      if (crossing[j]) io[j].status = copied;
    }
    return;
  }
  device.CountSaved(direct, staged);
}

void Mover::CountSavedInDevice(DeviceTransfer& device, std::span<const BlockIo> io,
                               const std::vector<bool>& in_device) const {
  uint64_t saved = 0;
  bool copy_failed = false;
  for (size_t j = 0; j < io.size(); ++j) {
    if (!in_device[j]) continue;
    if (io[j].status.ok()) {
      ++saved;
    } else if (io[j].status.code() == StatusCode::kIoError) {
      copy_failed = true;
    }
  }
  device.CountSavedInDevice(saved, copy_failed);
}

}  // namespace kvtier::internal
