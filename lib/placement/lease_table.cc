// LeaseTable: ids, and expiry through a min-heap (cost per call: the leases
// that expired, plus stale heap entries of leases already gone).
#include "lib/placement/lease_table.h"

#include <utility>

namespace kvtier::internal {

uint64_t LeaseTable::Add(Lease lease) {
  const uint64_t id = next_id_++;
  due_.push(Due{lease.expiry, id});
  leases_.emplace(id, std::move(lease));
  return id;
}

std::optional<Lease> LeaseTable::Take(uint64_t id) {
  const auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  Lease lease = std::move(it->second);
  leases_.erase(it);
  return lease;
}

std::vector<Lease> LeaseTable::TakeExpired(LeaseClock::time_point now) {
  std::vector<Lease> expired;
  while (!due_.empty() && due_.top().expiry <= now) {
    const uint64_t id = due_.top().id;
    due_.pop();
    if (std::optional<Lease> lease = Take(id)) expired.push_back(std::move(*lease));
  }
  // Heap entries of leases taken early stay until their time: bound them.
  if (due_.size() > 2 * leases_.size() + 64) {
    decltype(due_) live;
    for (const auto& [id, lease] : leases_) live.push(Due{lease.expiry, id});
    due_ = std::move(live);
  }
  return expired;
}

std::vector<Lease> LeaseTable::TakePinning(const BlockSet& blocks) {
  std::vector<uint64_t> ids;
  for (const auto& [id, lease] : leases_) {
    for (const LeasedBlock& b : lease.blocks) {
      if (blocks.contains(b.hash)) {
        ids.push_back(id);
        break;
      }
    }
  }
  std::vector<Lease> taken;
  for (const uint64_t id : ids) taken.push_back(*Take(id));
  return taken;  // their heap entries are skipped when due
}

}  // namespace kvtier::internal
