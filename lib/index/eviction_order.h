// EvictionOrder: the order in which one tier gives up its blocks. Works on
// entry ids only; it knows nothing about hashes, bytes or other tiers, so the
// store and the trace-replay simulator drive the very same code.
//
// Thread safety: externally synchronized (BlockIndex's owner holds the lock).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "kvtier/options.h"
#include "kvtier/request_context.h"

namespace kvtier::internal {

using EntryId = uint32_t;
inline constexpr EntryId kNoEntry = ~EntryId{0};

class EvictionOrder {
 public:
  virtual ~EvictionOrder() = default;

  // A block newly admitted to the tier; it becomes most recent.
  virtual void Insert(EntryId id) = 0;
  // Insert, with a key naming the block across its stays in the tier (from
  // its hash): orders that remember blocks after they leave (frequency
  // sketches) count it. The others just Insert.
  virtual void Admit(EntryId id, uint64_t key) { Insert(id); }
  // A block that was written or saved again; it becomes most recent.
  virtual void Touch(EntryId id) = 0;
  // A block that was served (loaded as part of a hit). Frequency-aware
  // orders count it as a reuse; for LRU it is a Touch.
  virtual void Hit(EntryId id) { Touch(id); }
  // The engine's context of a request that used one chain: called once
  // before that chain's Used calls (BlockIndex::TouchChain with a context),
  // so an order can tell the blocks of one chain from the next chain's.
  virtual void BeginUse(const RequestContext& context) {}
  // The time now, in seconds on the caller's monotonic clock (the Store's
  // steady clock, the simulator's trace time), told before each placement
  // step that may evict or touch. Orders that take time hints
  // (RequestContext::ttl_s) compare them against it; it never goes back.
  virtual void SetTime(double now_s) {}
  // The engine's context of a request that used the block (after its Touch
  // or Hit); orders that know sessions use it, the others ignore it.
  // Called in chain order, root first, after the chain's BeginUse.
  virtual void Used(EntryId id, const RequestContext& context) {}
  // A block that left the tier.
  virtual void Remove(EntryId id) = 0;
  // Moves a block to the cold end: it is the next candidate for eviction
  // (orphans: their parent is gone from every tier, so they can never hit).
  virtual void Demote(EntryId id) = 0;
  // The coldest block for which `acceptable` returns true, or kNoEntry.
  // Visits candidates from the cold end; cost is the number visited (a
  // FunctionRef: no allocation per call, one indirect call per candidate).
  virtual EntryId FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const = 0;
  virtual size_t size() const = 0;
  // Makes room for ids below `ids` up front, so no later call allocates.
  virtual void Reserve(size_t ids) {}
  // Heap bytes held, for the index's memory figure (DESIGN invariant 4).
  virtual size_t memory_bytes() const = 0;
};

std::unique_ptr<EvictionOrder> MakeEvictionOrder(EvictionPolicy policy);

}  // namespace kvtier::internal

namespace kvtier {

// "lru", "slru", "freq", "session": the names tools (kvtier-replay) accept and print.
const char* EvictionPolicyName(EvictionPolicy policy);
std::optional<EvictionPolicy> ParseEvictionPolicy(std::string_view name);

}  // namespace kvtier
