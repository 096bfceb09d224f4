// SessionOrder: SLRU (slru_order.h) that also listens to the engine
// (RequestContext). Each block remembers the one session that used it, or
// that several did. When a session's last request (SessionState::kClosed)
// is done, the blocks only it used move to the cold end, tails coldest:
// nothing will ask for them again, so they go before any block that may be
// reused. Shared blocks (system prompts, documents, an agent's tools) stay.
// A request with priority > 0 counts as a hit for its blocks (protected).
// Without a context (BlockIndex::TouchChain without one) it is SLRU.
//
// Memory: SLRU's 9 bytes per id plus 8 for the owner.
// Thread safety: externally synchronized.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/index/eviction_order.h"
#include "lib/index/slru_order.h"

namespace kvtier::internal {

class SessionOrder final : public EvictionOrder {
 public:
  void Insert(EntryId id) override;
  void Touch(EntryId id) override { slru_.Touch(id); }
  void Hit(EntryId id) override { slru_.Hit(id); }
  void Used(EntryId id, const RequestContext& context) override;
  void Remove(EntryId id) override;
  void Demote(EntryId id) override { slru_.Demote(id); }
  EntryId FindVictim(const std::function<bool(EntryId)>& acceptable) const override {
    return slru_.FindVictim(acceptable);
  }
  size_t size() const override { return slru_.size(); }
  void Reserve(size_t ids) override;
  size_t memory_bytes() const override;

 private:
  static constexpr uint64_t kNobody = 0;
  static constexpr uint64_t kShared = ~uint64_t{0};

  SlruOrder slru_;
  std::vector<uint64_t> owner_;  // by id: the session that used it, or kShared
};

}  // namespace kvtier::internal
