// SplitScheduler: lookups, plans and commits (the flow of
// lib/placement/placement.h, with the mover's part on every rank).
#include "lib/split/split_scheduler.h"

#include <string>

#include "lib/store_impl.h"

namespace kvtier {
namespace internal {
namespace {

// A move failed on some rank: a real failure (I/O, verification) outranks
// a cancelled one (a rank that did not answer says nothing about the slot).
void MergeInto(Status& merged, StatusCode code, uint32_t rank) {
  if (code == StatusCode::kOk) return;
  if (!merged.ok() && merged.code() != StatusCode::kCancelled) return;
  merged = Status(code, "rank " + std::to_string(rank));
}

}  // namespace

SplitScheduler::SplitScheduler(const Options& options, uint32_t ranks)
    : options_(options),
      ranks_(ranks),
      window_(options.layout, options.swa_checkpoint_blocks),
      incarnation_(ranks, 0),
      first_recovered_(ranks) {}

bool SplitScheduler::ReadyLocked() const { return indexed_; }

bool SplitScheduler::Ready() const {
  ReaderMutexLock lock(&mu_);
  return ReadyLocked();
}

size_t SplitScheduler::Outstanding() const {
  ReaderMutexLock lock(&mu_);
  return pending_.size();
}

LookupResult SplitScheduler::Lookup(std::span<const BlockHash> chain) {
  ReaderMutexLock lock(&mu_);
  LookupResult r;
  if (!ReadyLocked()) return r;
  const PrefixInfo info = placement_->Lookup(chain);
  r.blocks = info.blocks;
  r.tokens = info.blocks * options_.layout.block_tokens;
  r.blocks_per_tier = info.blocks_per_tier;
  return r;
}

PlanTicket SplitScheduler::Issue(PlanTicket::Kind kind, Plan plan, const SaveResult& save,
                                 uint32_t first_block, size_t blocks) {
  PlanTicket t;
  t.kind = kind;
  if (plan.moves.empty()) {
    ForgetLater(plan.releases);
    Pending now{kind, std::move(plan), save};
    CommitLocked(now, {});
    return t;
  }
  t.ticket = next_ticket_++;
  t.blocks = blocks;
  Envelope e{t.ticket, first_block, std::move(forget_), plan};
  forget_.clear();
  t.bytes = EncodeEnvelope(e);
  pending_.emplace(t.ticket, Pending{kind, std::move(plan), save});
  return t;
}

Result<PlanTicket> SplitScheduler::PlanLoad(std::span<const BlockHash> chain) {
  MutexLock lock(&mu_);
  if (!ReadyLocked()) return Unavailable("split scheduler: not every rank has joined");
  Plan plan = placement_->PlanLoad(chain, /*lease=*/0, MemoryKind::kHost);
  size_t reads = 0;
  while (reads < plan.moves.size() && plan.moves[reads].to.engine()) ++reads;
  return Issue(PlanTicket::Kind::kLoad, std::move(plan), {}, 0, reads);
}

Result<PlanTicket> SplitScheduler::PlanSave(std::span<const BlockHash> chain,
                                            size_t first_block,
                                            std::span<const uint8_t> freed) {
  if (first_block > chain.size()) {
    return InvalidArgument("first_block: " + std::to_string(first_block) +
                           " is past the chain of " + std::to_string(chain.size()) +
                           " blocks");
  }
  const size_t blocks = chain.size() - first_block;
  if (!freed.empty() && freed.size() != blocks) {
    return InvalidArgument("freed: " + std::to_string(freed.size()) +
                           " entries, the save has " + std::to_string(blocks) +
                           " blocks (or pass none)");
  }
  // Store::Save's rule, with what the engine holds told instead of seen.
  std::vector<BlockForm> provided(blocks, BlockForm::kWhole);
  for (size_t k = 0; k < freed.size(); ++k) {
    if (freed[k] == 0) continue;
    if (!window_.trims()) {
      return InvalidArgument("freed[" + std::to_string(k) +
                             "]: the layout has no sliding-window layers to free");
    }
    provided[k] = BlockForm::kTrimmed;
  }
  const std::vector<BlockForm> forms =
      window_.SaveForms(first_block, chain.size(), provided);
  MutexLock lock(&mu_);
  if (!ReadyLocked()) return Unavailable("split scheduler: not every rank has joined");
  SaveResult save;
  Plan plan = placement_->PlanSave(chain, forms, first_block, MemoryKind::kHost, &save);
  const size_t writes = plan.moves.size();
  return Issue(PlanTicket::Kind::kSave, std::move(plan), save,
               static_cast<uint32_t>(first_block), writes);
}

std::vector<PlanTicket> SplitScheduler::TakeWriteDowns(size_t max_blocks) {
  MutexLock lock(&mu_);
  std::vector<PlanTicket> out;
  if (!ReadyLocked() || owed_.empty() || max_blocks == 0) return out;
  std::vector<WriteDownJob> jobs;
  while (!owed_.empty() && jobs.size() < max_blocks) {
    jobs.push_back(owed_.front());
    owed_.pop_front();
  }
  Plan plan = placement_->PlanWriteDown(jobs);
  const size_t copies = plan.moves.size();
  PlanTicket t = Issue(PlanTicket::Kind::kWriteDown, std::move(plan), {}, 0, copies);
  if (t.ticket != 0) out.push_back(std::move(t));
  return out;
}

std::vector<Status> SplitScheduler::Merge(uint64_t ticket, const Plan& plan,
                                          std::span<const std::vector<std::byte>> results,
                                          size_t* ranks_failed) const {
  std::vector<Status> merged(plan.moves.size());
  std::vector<bool> answered(ranks_, false);
  for (const std::vector<std::byte>& bytes : results) {
    Result<Results> r = DecodeResults(bytes);
    if (!r.ok() || r->ticket != ticket || r->rank >= ranks_ || answered[r->rank] ||
        r->incarnation != incarnation_[r->rank] || r->codes.size() != merged.size()) {
      continue;
    }
    answered[r->rank] = true;
    for (size_t k = 0; k < merged.size(); ++k) MergeInto(merged[k], r->codes[k], r->rank);
  }
  for (uint32_t rank = 0; rank < ranks_; ++rank) {
    if (answered[rank]) continue;
    ++*ranks_failed;
    for (Status& s : merged) MergeInto(s, StatusCode::kCancelled, rank);
  }
  return merged;
}

Result<CommitOutcome> SplitScheduler::Commit(
    uint64_t ticket, std::span<const std::vector<std::byte>> results) {
  MutexLock lock(&mu_);
  auto it = pending_.find(ticket);
  if (it == pending_.end()) {
    return NotFound("ticket " + std::to_string(ticket) +
                    ": unknown or committed already");
  }
  Pending pending = std::move(it->second);
  pending_.erase(it);
  CommitOutcome out;
  const std::vector<Status> merged =
      Merge(ticket, pending.plan, results, &out.ranks_failed);
  out.blocks = CommitLocked(pending, merged);
  DropDoubtful();
  return out;
}

// `merged` empty: a plan without moves.
size_t SplitScheduler::CommitLocked(Pending& p, std::span<const Status> merged) {
  std::vector<SlotRelease> releases;
  size_t blocks = 0;
  switch (p.kind) {
    case PlanTicket::Kind::kLoad: {
      const LoadCommit c = placement_->CommitLoad(p.plan, merged, &releases);
      // With sliding-window layers a shorter prefix needs other segments
      // (its own window) than were read: the engine recomputes instead.
      blocks = c.partial && window_.trims() ? 0 : c.loaded;
      break;
    }
    case PlanTicket::Kind::kSave:
      QueueWriteDowns(placement_->CommitSave(p.plan, merged, &p.save, &releases));
      blocks = p.save.stored;
      break;
    case PlanTicket::Kind::kWriteDown:
      QueueWriteDowns(placement_->CommitWriteDown(p.plan, merged, &releases));
      for (const Status& s : merged) blocks += s.ok() ? 1 : 0;
      break;
  }
  ForgetLater(releases);
  return blocks;
}

// Bounded like the single-process writer's queue: beyond it a write-down
// is dropped and counted, never waited for.
void SplitScheduler::QueueWriteDowns(std::vector<WriteDownJob> jobs) {
  std::vector<WriteDownJob> refused;
  for (const WriteDownJob& j : jobs) {
    if (owed_.size() < options_.nvme.write_queue_blocks) {
      owed_.push_back(j);
    } else {
      refused.push_back(j);
    }
  }
  if (!refused.empty()) placement_->AbandonWriteDowns(refused);
}

void SplitScheduler::ForgetLater(std::span<const SlotRelease> releases) {
  for (const SlotRelease& r : releases) forget_.push_back(SlotRef{r.tier, r.slot});
}

}  // namespace internal

Result<std::unique_ptr<Scheduler>> Scheduler::Open(const Options& options,
                                                   uint32_t ranks) {
  if (ranks == 0 || ranks > 64) {
    return InvalidArgument("ranks: " + std::to_string(ranks) + ", must be 1..64");
  }
  if (options.gpu.capacity_bytes > 0) {
    return NotSupported("options.gpu.capacity_bytes: the split has no GPU tier yet");
  }
  if (!options.remote.endpoints.empty()) {
    return NotSupported("options.remote.endpoints: the split has no remote tier yet");
  }
  // The scheduler opens no directory: validate as if the workers' were set.
  Options checked = options;
  if (checked.nvme.directories.empty()) checked.nvme.directories = {"(workers)"};
  if (Status s = internal::ValidateOptions(checked); !s.ok()) return s;
  return std::unique_ptr<Scheduler>(new internal::SplitScheduler(options, ranks));
}

}  // namespace kvtier
