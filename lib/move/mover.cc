// Mover: saves (engine -> tier), tier -> tier moves, forgetting released
// slots. Loads are in mover_load.cc.
#include "lib/move/mover.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "lib/move/transfer_state.h"

namespace kvtier::internal {

Mover::Mover(const TierStack& tiers, std::vector<TierBackend*> backends,
             const KvLayout& layout, const SlidingWindow& window)
    : tiers_(tiers),
      backends_(std::move(backends)),
      segments_per_block_(layout.SegmentsPerBlock()),
      segment_bytes_(layout.SegmentBytes()),
      parts_per_layer_(std::max<uint32_t>(1, layout.parts_per_layer)),
      layers_(layout.num_layers),
      window_(window) {}

std::span<const Segment> Mover::EngineBlock(EngineMemory engine, size_t block) const {
  return engine.segments.subspan((block - engine.first_block) * segments_per_block_,
                                 segments_per_block_);
}

std::vector<Status> Mover::Run(const Plan& plan, EngineMemory engine, LoadOrder order,
                               TransferHandle::State* state) const {
  std::vector<Status> results(plan.moves.size());
  switch (plan.kind) {
    case PlanKind::kSave:
      RunSave(plan, engine, state, results);
      break;
    case PlanKind::kLoad:
      RunLoad(plan, engine, order, state, results);
      break;
    case PlanKind::kCopyDown:
    case PlanKind::kPrefetch:
      RunTierToTier(plan, results);
      break;
  }
  return results;
}

void Mover::RunSave(const Plan& plan, EngineMemory engine, TransferHandle::State* state,
                    std::vector<Status>& results) const {
  const auto settle = [&](size_t k) {
    if (state == nullptr) return;
    const size_t b = plan.moves[k].block - engine.first_block;
    if (results[k].ok()) {
      state->BlockInPlace(b);
    } else {
      state->BlockResolved(b, results[k].code() == StatusCode::kCancelled
                                  ? BlockOutcome::kCancelled
                                  : BlockOutcome::kFailed);
    }
  };
  if (state != nullptr && state->cancelled()) {
    for (size_t k = 0; k < results.size(); ++k) {
      results[k] = Cancelled("save cancelled before it started");
      settle(k);
    }
    return;
  }
  // One batch per destination tier (a device tier submits it at once).
  std::map<size_t, std::vector<size_t>> by_tier;
  for (size_t k = 0; k < plan.moves.size(); ++k)
    by_tier[plan.moves[k].to.tier].push_back(k);
  for (const auto& [tier, moves] : by_tier) {
    std::vector<std::vector<Segment>> kept(moves.size());
    std::vector<BlockIo> io;
    io.reserve(moves.size());
    for (size_t j = 0; j < moves.size(); ++j) {
      const Move& m = plan.moves[moves[j]];
      io.push_back(BlockIo{m.to.slot,
                           plan.chain[m.block],
                           plan.ParentOf(m.block),
                           window_.Kept(EngineBlock(engine, m.block), m.form, kept[j]),
                           Status::Ok(),
                           {}});
    }
    std::vector<bool> in_device(moves.size());
    if (engine.device != nullptr)
      CopyOutOfDevice(plan, engine, tier, moves, io, kept, in_device);
    backend(tier)->WriteBatch(io);
    if (engine.device != nullptr) CountSavedInDevice(*engine.device, io, in_device);
    for (size_t j = 0; j < moves.size(); ++j) {
      results[moves[j]] = std::move(io[j].status);
      settle(moves[j]);
    }
  }
}

// Tier -> tier, one batch per (source, destination) pair.
void Mover::RunTierToTier(const Plan& plan, std::vector<Status>& results) const {
  std::map<std::pair<size_t, size_t>, std::vector<size_t>> by_pair;
  for (size_t k = 0; k < plan.moves.size(); ++k) {
    by_pair[{plan.moves[k].from.tier, plan.moves[k].to.tier}].push_back(k);
  }
  for (const auto& [pair, moves] : by_pair) {
    TierBackend* src = backend(pair.first);
    TierBackend* dst = backend(pair.second);
    const bool same_codec = src->codec() == dst->codec();
    std::vector<BlockIo> writes(moves.size());
    std::vector<BlockIo> reads;
    std::vector<size_t> read_of;  // index in `moves`
    // Staging for blocks that are decoded and encoded again.
    std::unique_ptr<std::byte[]> staging;
    std::vector<std::vector<Segment>> kept(moves.size()), targets(moves.size());
    std::vector<Segment> staged;
    std::vector<bool> landed(moves.size());
    // Segments of the right sizes that are verified, not written.
    const std::vector<Segment> unwritten(segments_per_block_,
                                         Segment{nullptr, segment_bytes_});
    for (size_t j = 0; j < moves.size(); ++j) {
      const Move& m = plan.moves[moves[j]];
      const BlockForm to_form = PromotedForm(m.form, m.need);
      writes[j] = BlockIo{m.to.slot, plan.chain[m.block], plan.ParentOf(m.block),
                          {},        Status::Ok(),        {}};
      if (src->geometry().IsSlotless(m.from.slot)) continue;  // no bytes: record only
      const std::span<const std::byte> bytes = src->StoredBytes(m.from.slot);
      if (same_codec && to_form == m.form && !bytes.empty()) {
        writes[j].stored = bytes.first(src->geometry().StoredBytesOf(m.form));
        writes[j].stored_slot = bytes;
        continue;
      }
      const std::span<std::byte> landing = dst->WritableStoredBytes(m.to.slot);
      if (same_codec && to_form == m.form && !landing.empty()) {
        // The source's read lands in the destination slot verbatim,
        // verified on the way: nothing to write afterwards.
        reads.push_back(
            BlockIo{m.from.slot,
                    plan.chain[m.block],
                    nullptr,
                    window_.ReadTargets(unwritten, m.form, m.need, targets[j]),
                    Status::Ok(),
                    {},
                    landing});
        read_of.push_back(j);
        landed[j] = true;
        continue;
      }
      if (!staging) {
        staging.reset(new std::byte[moves.size() * segments_per_block_ * segment_bytes_]);
        staged.resize(moves.size() * segments_per_block_);
        for (size_t s = 0; s < staged.size(); ++s) {
          staged[s] = Segment{staging.get() + s * segment_bytes_, segment_bytes_};
        }
      }
      const std::span<const Segment> block = std::span<const Segment>(staged).subspan(
          j * segments_per_block_, segments_per_block_);
      reads.push_back(BlockIo{m.from.slot,
                              plan.chain[m.block],
                              nullptr,
                              window_.ReadTargets(block, m.form, m.need, targets[j]),
                              Status::Ok(),
                              {}});
      read_of.push_back(j);
      writes[j].segments = window_.Kept(block, to_form, kept[j]);
    }
    if (!reads.empty()) {
      src->ReadBatch(reads);  // a source that fails verification is not copied
      for (size_t r = 0; r < reads.size(); ++r) {
        writes[read_of[r]].status = reads[r].status;
      }
    }
    // Blocks that landed verbatim are in place once their read verified.
    std::vector<BlockIo> to_write;
    std::vector<size_t> write_of;
    for (size_t j = 0; j < moves.size(); ++j) {
      if (landed[j]) {
        results[moves[j]] = std::move(writes[j].status);
        continue;
      }
      to_write.push_back(std::move(writes[j]));
      write_of.push_back(j);
    }
    dst->WriteBatch(to_write);
    for (size_t w = 0; w < to_write.size(); ++w) {
      results[moves[write_of[w]]] = std::move(to_write[w].status);
    }
  }
}

void Mover::Forget(std::span<const SlotRelease> releases) const {
  std::map<size_t, std::vector<TierBackend::ForgetTicket>> by_tier;
  for (const SlotRelease& r : releases) {
    by_tier[r.tier].push_back(TierBackend::ForgetTicket{r.slot, r.generation});
  }
  for (const auto& [tier, tickets] : by_tier) backend(tier)->Forget(tickets);
}

}  // namespace kvtier::internal
