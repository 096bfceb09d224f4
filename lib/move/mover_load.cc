// Mover: loads. Reads go into the engine's memory, verified first; a block
// read from a slower tier is then promoted into the slot placement reserved.
#include <map>

#include "lib/move/device_transfer.h"
#include "lib/move/load_run.h"
#include "lib/move/mover.h"
#include "lib/move/transfer_state.h"
#include "lib/stored_block.h"

namespace kvtier::internal {

void Mover::RunLoad(const Plan& plan, EngineMemory engine, LoadOrder order,
                    TransferHandle::State* state, std::vector<Status>& results) const {
  LoadRun run{plan,
              engine,
              state,
              results,
              std::vector<int>(plan.chain.size(), -1),
              std::vector<bool>(plan.moves.size())};
  size_t reads = 0;
  while (reads < plan.moves.size() && plan.moves[reads].to.engine()) ++reads;
  for (size_t k = reads; k < plan.moves.size(); ++k) {
    run.promotion_of[plan.moves[k].block] = static_cast<int>(k);
    // Until its read completes and the copy succeeds, a promotion has failed.
    results[k] = Unavailable("promotion: block not read");
  }
  // Device tiers first: their blocks arrive whole, so the memory tiers'
  // layer-by-layer copies that follow complete the layers one by one.
  std::map<size_t, std::vector<size_t>> by_tier;
  for (size_t k = 0; k < reads; ++k) by_tier[plan.moves[k].from.tier].push_back(k);
  for (const auto& [tier, moves] : by_tier) {
    if (tiers_[tier].traits.io == IoStyle::kAsync) ReadDevice(run, moves);
  }
  for (const auto& [tier, moves] : by_tier) {
    if (tiers_[tier].traits.io == IoStyle::kAsync) continue;
    if (engine.device != nullptr) {
      ReadMemoryForDevice(run, moves);
    } else if (order == LoadOrder::kByLayer) {
      ReadMemoryByLayer(run, moves);
    } else {
      ReadMemoryByBlock(run, moves);
    }
  }
  if (engine.device != nullptr) {
    // With sliding layers, only the segments the served prefix needs.
    const size_t served = ServedPrefix(run);
    engine.device->Deliver(served, [&](size_t block, size_t segment) {
      return !window_.IsSliding(segment) ||
             window_.NeedForm(block, served) == BlockForm::kWhole;
    });
  }
}

// Where read `move` may land verbatim: its promotion slot, when that tier
// keeps the block in the same codec and form and its slots are memory. The
// read then copies once (into the engine) and the promotion needs no write.
std::span<std::byte> Mover::Landing(LoadRun& run, size_t move) const {
  const Move& m = run.plan.moves[move];
  const int promotion = run.promotion_of[m.block];
  if (promotion < 0) return {};
  const Move& p = run.plan.moves[promotion];
  if (p.form != m.form || backend(p.to.tier)->codec() != backend(m.from.tier)->codec()) {
    return {};
  }
  return backend(p.to.tier)->WritableStoredBytes(p.to.slot);
}

void Mover::FinishRead(LoadRun& run, size_t move) const {
  const Status& read = run.results[move];
  const Move& m = run.plan.moves[move];
  const int promotion = run.promotion_of[m.block];
  if (run.state != nullptr) {
    if (read.ok()) {
      run.state->BlockInPlace(run.at(move));
    } else {
      run.state->BlockResolved(run.at(move), read.code() == StatusCode::kCancelled
                                                 ? BlockOutcome::kCancelled
                                                 : BlockOutcome::kFailed);
    }
  }
  if (promotion < 0 || !read.ok()) return;
  if (run.landed[move]) {  // the read put the stored block in the slot
    run.results[promotion] = Status::Ok();
    return;
  }
  const Move& p = run.plan.moves[promotion];
  Result<std::span<const Segment>> block = HostBlock(run.engine, m.block);
  if (!block.ok()) {
    run.results[promotion] = block.status();
    return;
  }
  std::vector<Segment> kept;
  const std::span<const Segment> src = window_.Kept(*block, p.form, kept);
  run.results[promotion] =
      backend(p.to.tier)->Write(p.to.slot, run.plan.chain[m.block], src);
}

// One batch per device tier; each block is promoted as soon as its read is
// verified, while the rest of the batch is still on the device.
void Mover::ReadDevice(LoadRun& run, std::span<const size_t> reads) const {
  const size_t tier = run.plan.moves[reads[0]].from.tier;
  std::vector<std::vector<Segment>> targets(reads.size());
  std::vector<BlockIo> io;
  io.reserve(reads.size());
  for (size_t j = 0; j < reads.size(); ++j) {
    const Move& m = run.plan.moves[reads[j]];
    Result<std::span<const Segment>> block = HostBlock(run.engine, m.block);
    Status status = run.cancelled() ? Cancelled("load cancelled") : block.status();
    io.push_back(BlockIo{m.from.slot,
                         run.plan.chain[m.block],
                         nullptr,
                         status.ok()
                             ? window_.ReadTargets(*block, m.form, m.need, targets[j])
                             : std::span<const Segment>(),
                         std::move(status),
                         {}});
  }
  backend(tier)->ReadBatch(io, [&](size_t j) {
    run.results[reads[j]] = io[j].status;
    FinishRead(run, reads[j]);
  });
}

void Mover::ReadMemoryByBlock(LoadRun& run, std::span<const size_t> reads) const {
  std::vector<Segment> targets;
  for (const size_t k : reads) {
    const Move& m = run.plan.moves[k];
    if (run.cancelled()) {
      run.results[k] = Cancelled("load cancelled");
    } else {
      run.results[k] = backend(m.from.tier)
                           ->Read(m.from.slot, run.plan.chain[m.block],
                                  window_.ReadTargets(EngineBlock(run.engine, m.block),
                                                      m.form, m.need, targets));
    }
    FinishRead(run, k);
  }
}

// Every block verified in place (a read that writes nothing), then copied
// out layer by layer from the verified slots, which stay pinned.
void Mover::ReadMemoryByLayer(LoadRun& run, std::span<const size_t> reads) const {
  std::vector<Segment> targets, masked(segments_per_block_);
  std::vector<size_t> good;
  for (const size_t k : reads) {
    const Move& m = run.plan.moves[k];
    if (run.cancelled()) {
      run.results[k] = Cancelled("load cancelled");
      FinishRead(run, k);
      continue;
    }
    const std::span<const Segment> block = EngineBlock(run.engine, m.block);
    for (size_t s = 0; s < block.size(); ++s)
      masked[s] = Segment{nullptr, block[s].bytes};
    run.results[k] = backend(m.from.tier)
                         ->Read(m.from.slot, run.plan.chain[m.block],
                                window_.ReadTargets(masked, m.form, m.need, targets));
    if (run.results[k].ok() &&
        backend(m.from.tier)->StoredBytes(m.from.slot).empty() == false) {
      good.push_back(k);
    } else {
      if (run.results[k].ok()) {  // not addressable memory: read it whole
        run.results[k] = backend(m.from.tier)
                             ->Read(m.from.slot, run.plan.chain[m.block],
                                    window_.ReadTargets(block, m.form, m.need, targets));
      }
      FinishRead(run, k);
    }
  }
  for (uint32_t layer = 0; layer < layers_; ++layer) {
    for (const size_t k : good) {
      const Move& m = run.plan.moves[k];
      if (!run.results[k].ok()) continue;
      if (run.cancelled()) {
        run.results[k] = Cancelled("load cancelled");
        FinishRead(run, k);
        continue;
      }
      const std::span<const Segment> block = EngineBlock(run.engine, m.block);
      for (size_t s = 0; s < block.size(); ++s) {
        masked[s] =
            s / parts_per_layer_ == layer ? block[s] : Segment{nullptr, block[s].bytes};
      }
      TierBackend* b = backend(m.from.tier);
      CopyStoredSegments(b->block_codec(), b->StoredBytes(m.from.slot),
                         window_.ReadTargets(masked, m.form, m.need, targets));
      if (run.state != nullptr) run.state->LayerInPlace(run.at(k), layer);
    }
  }
  for (const size_t k : good) {
    if (run.results[k].ok()) FinishRead(run, k);
  }
}

}  // namespace kvtier::internal
