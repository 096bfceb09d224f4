// LeaseTable: pins a lookup holds for a later load (an engine's scheduler
// looks up, a worker loads a step later). A lease ends with the load that
// uses it, an explicit release, or its expiry; its pins are then given back.
// It holds no pins itself: it records them for Placement, which owns the
// index.
//
// Thread safety: externally synchronized (Placement's lock).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "kvtier/hash.h"
#include "lib/index/block_form.h"

namespace kvtier::internal {

using LeaseClock = std::chrono::steady_clock;
using BlockSet = absl::flat_hash_set<BlockHash, std::hash<BlockHash>>;

// One pinned block of a lease: where the lookup found it.
struct LeasedBlock {
  BlockHash hash;
  uint8_t tier = 0;  // stack position
  uint32_t slot = 0;
  BlockForm form = BlockForm::kWhole;  // of the pinned copy
  BlockForm need = BlockForm::kWhole;  // what the leased prefix needs of it
};

struct Lease {
  std::vector<LeasedBlock> blocks;  // the prefix the lookup reported, in order
  LeaseClock::time_point expiry;
};

class LeaseTable {
 public:
  // Records a lease; returns its id (never 0).
  uint64_t Add(Lease lease);
  // Removes and returns the lease, or nullopt when it is unknown (never
  // granted, used, released or expired).
  std::optional<Lease> Take(uint64_t id);
  // Removes every lease that expired by `now` and returns them.
  std::vector<Lease> TakeExpired(LeaseClock::time_point now);
  // Removes and returns every lease that pins one of `blocks` (Erase).
  std::vector<Lease> TakePinning(const BlockSet& blocks);
  size_t size() const { return leases_.size(); }

 private:
  struct Due {
    LeaseClock::time_point expiry;
    uint64_t id;
    bool operator>(const Due& o) const { return expiry > o.expiry; }
  };
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, Lease> leases_;
  // Min-heap of expiries; entries of leases already taken are skipped.
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
};

}  // namespace kvtier::internal
