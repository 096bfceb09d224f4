// SplitScheduler: workers joining. The first worker's tier stack becomes
// placement's; every other worker must announce the same one (same slot
// layout on every rank). Once every rank has joined, the blocks every rank
// recovered in the same slot are indexed (invariant 6, across ranks). A
// rank that joins again (its worker restarted) lost its volatile tiers, and
// of its persistent tiers keeps only what it recovered: the index drops the
// rest, so every rank again holds what the index names.
#include <set>
#include <string>
#include <tuple>

#include "lib/split/split_scheduler.h"

namespace kvtier::internal {
namespace {

bool SameTier(const StackTier& a, const StackTier& b) {
  const TierGeometry& g = a.geometry;
  const TierGeometry& h = b.geometry;
  return a.id == b.id && g.page_bytes == h.page_bytes &&
         g.pages_per_frame == h.pages_per_frame && g.frames == h.frames &&
         g.slotless == h.slotless && g.whole_bytes == h.whole_bytes &&
         g.trimmed_bytes == h.trimmed_bytes && a.traits.memory == b.traits.memory &&
         a.traits.persistence == b.traits.persistence &&
         a.traits.authority == b.traits.authority && a.traits.io == b.traits.io &&
         a.traits.arrival == b.traits.arrival;
}

using CopyKey = std::tuple<uint64_t, uint64_t, uint32_t>;  // hash lo, hi, slot
CopyKey KeyOf(const BlockHash& h, uint32_t slot) { return {h.lo, h.hi, slot}; }

bool SameEntry(const RecoveredEntry& a, const RecoveredEntry& b) {
  return a.hash == b.hash && a.slot == b.slot && a.form == b.form &&
         a.has_parent == b.has_parent && (!a.has_parent || a.parent == b.parent);
}

}  // namespace

Status SplitScheduler::CheckHello(const Hello& h) const {
  if (h.rank >= ranks_) {
    return InvalidArgument("hello.rank: " + std::to_string(h.rank) +
                           ", the scheduler has " + std::to_string(ranks_) + " ranks");
  }
  if (h.incarnation == 0) return InvalidArgument("hello.incarnation: 0");
  if (h.layout_fingerprint != options_.layout.Fingerprint()) {
    return InvalidArgument("hello.layout: the worker's layout differs from the options'");
  }
  if (h.codec_tag != options_.CodecTag()) {
    return InvalidArgument(
        "hello.codecs: the worker's tier codecs differ from the options'");
  }
  for (const StackTier& t : h.stack) {
    if (t.traits.memory != MemoryKind::kHost ||
        t.traits.authority != Authority::kAuthoritative) {
      return InvalidArgument(std::string("hello.stack: tier ") + TierName(t.id) +
                             " is not supported in the split");
    }
  }
  if (h.stack.empty() || h.stack[0].id != Tier::kHost) {
    return InvalidArgument("hello.stack: the first tier must be host");
  }
  if (placement_) {
    const TierStack& mine = placement_->tiers();
    bool same = mine.size() == h.stack.size();
    for (size_t p = 0; same && p < mine.size(); ++p) same = SameTier(mine[p], h.stack[p]);
    if (!same) {
      return InvalidArgument(
          "hello.stack: rank " + std::to_string(h.rank) +
          "'s tiers or slot layout differ from the ranks joined before");
    }
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> SplitScheduler::Join(std::span<const std::byte> bytes) {
  Result<Hello> hello = DecodeHello(bytes);
  if (!hello.ok()) return InvalidArgument(hello.status().message());
  MutexLock lock(&mu_);
  if (Status s = CheckHello(*hello); !s.ok()) return s;
  if (!placement_) {
    placement_ = std::make_unique<Placement>(hello->stack, options_.eviction, window_,
                                             /*gate=*/nullptr);
  }
  JoinReply reply{hello->rank, hello->incarnation, {}};
  const bool new_incarnation = incarnation_[hello->rank] != hello->incarnation;
  incarnation_[hello->rank] = hello->incarnation;
  if (!indexed_) {
    first_recovered_[hello->rank] = hello->recovered;
    bool all = true;
    for (uint64_t inc : incarnation_) all = all && inc != 0;
    if (all) IndexCommonRecovered();
  } else if (new_incarnation) {
    reply.forget = Reconcile(*hello);
  }  // else: the same worker said hello twice; nothing changed
  return EncodeJoinReply(reply);
}

void SplitScheduler::IndexCommonRecovered() {
  const TierStack& stack = placement_->tiers();
  for (size_t p = 0; p < stack.size(); ++p) {
    if (stack[p].traits.persistence != Persistence::kPersistent) continue;
    // Rank 0's entries that every other rank recovered the same way.
    std::vector<RecoveredEntry> common;
    for (const RecoveredEntry& e : first_recovered_[0][p]) {
      bool everywhere = true;
      for (uint32_t r = 1; everywhere && r < ranks_; ++r) {
        bool found = false;
        for (const RecoveredEntry& o : first_recovered_[r][p]) {
          if (SameEntry(e, o)) {
            found = true;
            break;
          }
        }
        everywhere = found;
      }
      if (everywhere) common.push_back(e);
    }
    placement_->IndexRecovered(p, common);
  }
  first_recovered_.clear();
  indexed_ = true;
}

std::vector<SlotRef> SplitScheduler::Reconcile(const Hello& hello) {
  const TierStack& stack = placement_->tiers();
  std::vector<SlotRef> forget;
  std::vector<SlotRelease> releases;
  for (size_t p = 0; p < stack.size(); ++p) {
    const bool persistent = stack[p].traits.persistence == Persistence::kPersistent;
    std::set<CopyKey> recovered;
    if (persistent && p < hello.recovered.size()) {
      for (const RecoveredEntry& e : hello.recovered[p]) {
        recovered.insert(KeyOf(e.hash, e.slot));
      }
    }
    std::set<CopyKey> kept;
    doubtful_.resize(stack.size());
    placement_->DropCopies(
        p,
        [&](const BlockHash& h, uint32_t slot) {
          if (recovered.count(KeyOf(h, slot)) == 0) return false;
          kept.insert(KeyOf(h, slot));
          return true;
        },
        &releases, &doubtful_[p]);
    for (const CopyKey& k : recovered) {
      if (kept.count(k) == 0)
        forget.push_back(SlotRef{static_cast<uint8_t>(p), std::get<2>(k)});
    }
  }
  ForgetLater(releases);
  return forget;
}

void SplitScheduler::DropDoubtful() {
  std::vector<SlotRelease> releases;
  for (size_t p = 0; p < doubtful_.size(); ++p) {
    if (doubtful_[p].empty()) continue;
    std::set<std::pair<uint64_t, uint64_t>> doubtful;
    for (const BlockHash& h : doubtful_[p]) doubtful.insert({h.lo, h.hi});
    std::vector<BlockHash> still_busy;
    placement_->DropCopies(
        p,
        [&](const BlockHash& h, uint32_t) {
          return doubtful.count({h.lo, h.hi}) == 0;
        },
        &releases, &still_busy);
    doubtful_[p] = std::move(still_busy);
  }
  ForgetLater(releases);
}

}  // namespace kvtier::internal
