// StoreImpl's transfers: Load, Save, their asynchronous forms, Prefetch and
// the background write-downs. Each is plan (placement), move (mover), commit
// (placement), then forget the released slots' records outside the lock.
#include <numeric>
#include <string>

#include "lib/move/transfer_state.h"
#include "lib/prefetch_state.h"
#include "lib/store_impl.h"

namespace kvtier::internal {

void StoreImpl::Forget(const Plan& plan, const std::vector<SlotRelease>& more) {
  mover_.Forget(plan.releases);
  mover_.Forget(more);
}

// ---- Load -------------------------------------------------------------------------

Status StoreImpl::AcceptLoad(std::span<const BlockHash> chain,
                             std::span<const Segment> dst, const LoadOptions& options) {
  if (Status s = CheckSegments(dst, chain.size(), "load.dst"); !s.ok()) {
    return Reject(std::move(s));
  }
  if (const char* field = InvalidRequestContextField(options.context)) {
    return Reject(InvalidArgument(std::string("load.context.") + field +
                                  ": out of range (request_context.h)"));
  }
  loads_.fetch_add(1, std::memory_order_relaxed);
  load_blocks_.fetch_add(chain.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Result<LoadResult> StoreImpl::Load(std::span<const BlockHash> chain,
                                   std::span<const Segment> dst,
                                   const LoadOptions& options) {
  LatencyTimer timer(load_latency_);
  if (Status s = AcceptLoad(chain, dst, options); !s.ok()) return s;
  return LoadAny(chain, dst, options, LoadOrder::kByBlock, nullptr);
}

Result<TransferHandle> StoreImpl::BeginLoad(std::span<const BlockHash> chain,
                                            std::span<const Segment> dst,
                                            const LoadOptions& options) {
  if (Status s = AcceptLoad(chain, dst, options); !s.ok()) return s;
  transfers_started_.fetch_add(1, std::memory_order_relaxed);
  auto state = std::make_shared<TransferHandle::State>(chain.size(), layout().num_layers);
  transfers_->Submit([this, state, dst, options,
                      c = std::vector<BlockHash>(chain.begin(), chain.end())] {
    const LoadResult r = LoadAny(c, dst, options, LoadOrder::kByLayer, state.get());
    if (state->cancelled()) transfers_cancelled_.fetch_add(1, std::memory_order_relaxed);
    state->FinishLoad(r);
  });
  return TransferHandle(std::move(state));
}

// A block that fails verification ends the prefix there. Without sliding
// layers the blocks before it are served as read; with them the shorter
// prefix needs other segments (its own window), so it is planned and read
// again, a few times at most (each failure drops a block). Progress goes to
// `state` as blocks land, except with sliding layers, where it is reported
// once the load settled.
LoadResult StoreImpl::RunLoad(std::span<const BlockHash> chain,
                              std::span<const Segment> dst, const LoadOptions& options,
                              LoadOrder order, TransferHandle::State* state,
                              DeviceTransfer* device) {
  const MemoryKind kind = device != nullptr ? MemoryKind::kDevice : MemoryKind::kHost;
  constexpr int kMaxAttempts = 3;
  TransferHandle::State* live = window_.trims() ? nullptr : state;
  size_t limit = chain.size(), loaded = 0;
  // Asked once, outside placement's lock (the first plan's local prefix may
  // differ a little: PlanLoad uses the run only where that prefix ends).
  const SharedRun shared =
      shared_tier_ ? AskShared(chain, placement_.Lookup(chain).blocks) : SharedRun{};
  Plan plan;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    plan = placement_.PlanLoad(chain.first(limit), attempt == 0 ? options.lease : 0, kind,
                               shared);
    const std::vector<Status> results = mover_.Run(plan, {dst, 0, device}, order, live);
    std::vector<SlotRelease> releases;
    const LoadCommit c = placement_.CommitLoad(plan, results, &releases, options.context);
    Forget(plan, releases);
    loaded = c.loaded;
    if (!c.partial || !window_.trims()) break;
    limit = loaded;
    loaded = 0;
  }
  if (state != nullptr && live == nullptr) {
    for (size_t b = 0; b < chain.size(); ++b) {
      if (b < loaded) {
        state->BlockInPlace(b);
      } else {
        state->BlockResolved(b, BlockOutcome::kMissing);
      }
    }
  }
  load_hit_blocks_.fetch_add(loaded, std::memory_order_relaxed);
  if (shadow_.enabled()) shadow_.Capture(chain, dst, ServedBy(plan, loaded));
  return LoadResult{loaded};
}

std::vector<ServedBlock> StoreImpl::ServedBy(const Plan& plan, size_t loaded) const {
  std::vector<ServedBlock> served;
  for (const Move& m : plan.moves) {
    if (!m.to.engine() || m.from.engine() || m.block >= loaded) continue;
    ServedBlock b{m.block, placement_.tiers()[m.from.tier].id, {}};
    if (m.need == BlockForm::kTrimmed) {  // the load wrote no sliding-window segment
      b.written.resize(segments_per_block_);
      for (size_t s = 0; s < segments_per_block_; ++s)
        b.written[s] = !window_.IsSliding(s);
    }
    served.push_back(std::move(b));
  }
  return served;
}

// ---- Save -------------------------------------------------------------------------

Status StoreImpl::AcceptSave(std::span<const BlockHash> chain,
                             std::span<const Segment> src, size_t first_block,
                             const SaveOptions& options) {
  if (Status s = CheckSave(chain, src, first_block); !s.ok()) return Reject(std::move(s));
  if (const char* field = InvalidRequestContextField(options.context)) {
    return Reject(InvalidArgument(std::string("save.context.") + field +
                                  ": out of range (request_context.h)"));
  }
  saves_.fetch_add(1, std::memory_order_relaxed);
  save_blocks_.fetch_add(chain.size() - first_block, std::memory_order_relaxed);
  return Status::Ok();
}

Result<SaveResult> StoreImpl::Save(std::span<const BlockHash> chain,
                                   std::span<const Segment> src, size_t first_block,
                                   const SaveOptions& options) {
  LatencyTimer timer(save_latency_);
  if (Status s = AcceptSave(chain, src, first_block, options); !s.ok()) return s;
  return SaveAny(chain, src, first_block, options, nullptr);
}

Result<TransferHandle> StoreImpl::BeginSave(std::span<const BlockHash> chain,
                                            std::span<const Segment> src,
                                            size_t first_block,
                                            const SaveOptions& options) {
  if (Status s = AcceptSave(chain, src, first_block, options); !s.ok()) return s;
  transfers_started_.fetch_add(1, std::memory_order_relaxed);
  auto state = std::make_shared<TransferHandle::State>(chain.size() - first_block,
                                                       layout().num_layers);
  transfers_->Submit([this, state, src, first_block, options,
                      c = std::vector<BlockHash>(chain.begin(), chain.end())] {
    const SaveResult r = SaveAny(c, src, first_block, options, state.get());
    if (state->cancelled()) transfers_cancelled_.fetch_add(1, std::memory_order_relaxed);
    state->FinishSave(r);
  });
  return TransferHandle(std::move(state));
}

SaveResult StoreImpl::RunSave(std::span<const BlockHash> chain,
                              std::span<const Segment> src, size_t first_block,
                              const SaveOptions& options, TransferHandle::State* state,
                              DeviceTransfer* device) {
  const MemoryKind kind = device != nullptr ? MemoryKind::kDevice : MemoryKind::kHost;
  const auto source = [&](size_t b) {
    return src.subspan((b - first_block) * segments_per_block_, segments_per_block_);
  };
  // What the engine still holds of each block decides, with the window,
  // the form it is kept in.
  std::vector<BlockForm> provided(chain.size() - first_block);
  for (size_t k = 0; k < provided.size(); ++k) {
    provided[k] = window_.ProvidedForm(source(first_block + k));
  }
  const std::vector<BlockForm> forms =
      window_.SaveForms(first_block, chain.size(), provided);
  SaveResult result;
  const Plan plan = placement_.PlanSave(chain, forms, first_block, kind, &result);
  if (state != nullptr) {
    // Blocks with no move were refreshed (before the first one not
    // admitted) or skipped (from it on).
    std::vector<bool> moved(forms.size());
    for (const Move& m : plan.moves) moved[m.block - first_block] = true;
    const size_t admitted = forms.size() - result.skipped;
    for (size_t k = 0; k < forms.size(); ++k) {
      if (moved[k]) continue;
      if (k < admitted) {
        state->BlockInPlace(k);
      } else {
        state->BlockResolved(k, BlockOutcome::kMissing);
      }
    }
  }
  const std::vector<Status> results =
      mover_.Run(plan, {src, first_block, device}, LoadOrder::kByBlock, state);
  std::vector<SlotRelease> releases;
  const std::vector<WriteDownJob> owed =
      placement_.CommitSave(plan, results, &result, &releases, options.context);
  Forget(plan, releases);
  CountTrimming(plan, results);
  QueueWriteDowns(owed);
  save_new_.fetch_add(result.stored, std::memory_order_relaxed);
  save_refreshed_.fetch_add(result.refreshed, std::memory_order_relaxed);
  return result;
}

void StoreImpl::CountTrimming(const Plan& plan, std::span<const Status> results) {
  if (!window_.trims()) return;
  uint64_t trimmed = 0;
  for (size_t k = 0; k < plan.moves.size(); ++k) {
    if (results[k].ok() && plan.moves[k].form == BlockForm::kTrimmed) ++trimmed;
  }
  save_trimmed_.fetch_add(trimmed, std::memory_order_relaxed);
  trim_bytes_saved_.fetch_add(trimmed * window_.sliding_segments() * segment_bytes_,
                              std::memory_order_relaxed);
}

// ---- Prefetch and write-downs -------------------------------------------------------

PrefetchHandle StoreImpl::Prefetch(std::span<const BlockHash> chain) {
  if (placement_.tiers().size() < 2 || chain.empty()) return PrefetchHandle();
  auto state = std::make_shared<PrefetchHandle::State>();
  transfers_->Submit(
      [this, state, c = std::vector<BlockHash>(chain.begin(), chain.end())] {
        state->Finish(RunPrefetch(c));
      });
  return PrefetchHandle(std::move(state));
}

size_t StoreImpl::RunPrefetch(std::span<const BlockHash> chain) {
  const Plan plan = placement_.PlanPrefetch(chain, MemoryKind::kHost);
  if (plan.moves.empty()) return 0;
  const std::vector<Status> results = mover_.Run(plan, {}, LoadOrder::kByBlock, nullptr);
  std::vector<SlotRelease> releases;
  const size_t moved = placement_.CommitPrefetch(plan, results, &releases);
  Forget(plan, releases);
  return moved;
}

// On the background writer.
void StoreImpl::RunWriteDowns(std::span<const WriteDownJob> jobs) {
  const Plan plan = placement_.PlanWriteDown(jobs);
  const std::vector<Status> results = mover_.Run(plan, {}, LoadOrder::kByBlock, nullptr);
  std::vector<SlotRelease> releases;
  const std::vector<WriteDownJob> owed =
      placement_.CommitWriteDown(plan, results, &releases);
  Forget(plan, releases);
  QueueWriteDowns(owed);
}

// A full queue means the disk is behind: the write-down is skipped and
// counted, never waited for.
void StoreImpl::QueueWriteDowns(const std::vector<WriteDownJob>& jobs) {
  std::vector<WriteDownJob> refused;
  for (const WriteDownJob& j : jobs) {
    WriteBehind* writer = placement_.Shared(j.to) ? shared_writer_.get() : writer_.get();
    if (writer == nullptr || !writer->Push(j)) refused.push_back(j);
  }
  if (!refused.empty()) placement_.AbandonWriteDowns(refused);
}

}  // namespace kvtier::internal
