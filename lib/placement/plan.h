// Plan: what placement decided for one engine call or background job, as a
// plain value. Placement (lib/placement/placement.h) makes it under its lock
// and holds no bytes; a mover (lib/move/mover.h) executes it, maybe in
// another process: a plan serializes to bytes and back.
//
// A move carries one block in one form from an endpoint to another:
//   engine -> tier   Save: the engine's segments of chain block `block`
//   tier   -> engine Load: verified, decoded into the engine's segments
//   engine -> tier   after a load (promotion): what the load delivered
//   tier   -> tier   copy-down, prefetch
// The pins a plan holds (sources being read, destinations being written)
// are leases owned by the plan until placement commits its results;
// `releases` are the slots it let go, whose persistent records (the NVMe
// manifest) are forgotten after the lock is released.
//
// Thread safety: a value; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvtier/hash.h"
#include "kvtier/status.h"
#include "lib/index/block_form.h"

namespace kvtier::internal {

enum class PlanKind : uint8_t { kLoad = 0, kSave = 1, kCopyDown = 2, kPrefetch = 3 };

// One end of a move: the engine's memory for chain block `block`, or slot
// `slot` of the tier at stack position `tier`.
struct Endpoint {
  enum class Kind : uint8_t { kEngine = 0, kTier = 1 };
  Kind kind = Kind::kEngine;
  uint8_t tier = 0;   // stack position (kTier)
  uint32_t slot = 0;  // kTier

  static Endpoint Engine() { return Endpoint{Kind::kEngine, 0, 0}; }
  static Endpoint InTier(size_t tier, uint32_t slot) {
    return Endpoint{Kind::kTier, static_cast<uint8_t>(tier), slot};
  }
  bool engine() const { return kind == Kind::kEngine; }
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct Move {
  uint32_t block = 0;                  // index in the plan's chain
  BlockForm form = BlockForm::kWhole;  // of the copy at `from` (written at `to`)
  BlockForm need = BlockForm::kWhole;  // loads: what the prefix needs of it
  Endpoint from;
  Endpoint to;
  friend bool operator==(const Move&, const Move&) = default;
};

// A slot placement let go; `generation` is the tier's ticket for forgetting
// its persistent record late (TierBackend::PrepareForget).
struct SlotRelease {
  uint8_t tier = 0;  // stack position
  uint32_t slot = 0;
  uint64_t generation = 0;
  friend bool operator==(const SlotRelease&, const SlotRelease&) = default;
};

struct Plan {
  PlanKind kind = PlanKind::kLoad;
  // The chain the moves index; a block's parent is the one before it, and
  // `parents[i]` names block 0's parent where the chain is a piece of a
  // longer one (copy-downs of single blocks: has_parent per block).
  std::vector<BlockHash> chain;
  std::vector<uint8_t> has_parent;  // per chain block (copy-down/prefetch jobs)
  std::vector<BlockHash> parents;   // per chain block when has_parent
  std::vector<Move> moves;
  std::vector<SlotRelease> releases;
  uint64_t lease = 0;  // the lookup lease this load used up (0: none)

  // Parent of chain block i, or nullptr (first block of a chain).
  const BlockHash* ParentOf(size_t i) const;
  friend bool operator==(const Plan&, const Plan&) = default;
};

// Little-endian, versioned; see plan.cc for the layout.
std::vector<std::byte> SerializePlan(const Plan& plan);
// Corruption naming what is wrong when `bytes` is not a plan this version
// wrote (truncated, bad magic or version, an index out of range).
Result<Plan> DeserializePlan(std::span<const std::byte> bytes);

}  // namespace kvtier::internal
