// Admit and Upgrade: MakeRoom for the units, then EvictOne until the size
// class fits.
#include "lib/index/admission.h"

#include <cassert>

namespace kvtier::internal {
namespace {

// Evicts until `space` can place a block of `form`; false when it cannot.
bool MakeSpace(BlockIndex& index, PageSpace& space, Tier tier, BlockForm form,
               const BlockHash* parent, Admission& a) {
  std::optional<std::vector<Eviction>> evicted =
      index.MakeRoom(tier, space.geometry().UnitsOf(form), parent);
  if (!evicted) return false;
  a.evicted = std::move(*evicted);
  for (const Eviction& e : a.evicted) space.Free(e.slot, e.form);
  while (!space.CanPlace(form)) {
    std::optional<Eviction> e = index.EvictOne(tier, parent);
    if (!e) return false;
    space.Free(e->slot, e->form);
    a.evicted.push_back(*e);
    ++a.placement_evictions;
  }
  return true;
}

}  // namespace

Admission Admit(BlockIndex& index, PageSpace& space, Tier tier, const BlockHash& hash,
                const BlockHash* parent, BlockForm form) {
  Admission a;
  if (!MakeSpace(index, space, tier, form, parent, a)) return a;
  a.slot = space.Allocate(form);
  assert(a.slot && "CanPlace and Allocate disagree");
  index.AddPending(tier, hash, parent, *a.slot, space.geometry().UnitsOf(form), form);
  return a;
}

CopyNeed CopyNeeded(const BlockIndex& index, Tier tier, const BlockHash& hash,
                    BlockForm form) {
  if (!index.IsPresent(hash, tier)) return CopyNeed::kNew;
  if (Covers(index.FormIn(hash, tier), form) || !index.IsReady(hash, tier) ||
      index.IsPinned(hash, tier)) {
    return CopyNeed::kHave;
  }
  return CopyNeed::kUpgrade;
}

Admission Upgrade(BlockIndex& index, PageSpace& space, Tier tier, const BlockHash& hash,
                  const BlockHash* parent) {
  Admission a;
  index.Pin(hash, tier);  // not its own victim
  const bool room = MakeSpace(index, space, tier, BlockForm::kWhole, parent, a);
  index.Unpin(hash, tier);
  if (!room) return a;
  a.slot = space.Allocate(BlockForm::kWhole);
  assert(a.slot && "CanPlace and Allocate disagree");
  a.replaced = index.SlotOf(hash, tier);
  space.Free(*a.replaced, BlockForm::kTrimmed);
  index.Reform(tier, hash, *a.slot, space.geometry().UnitsOf(BlockForm::kWhole),
               BlockForm::kWhole);
  return a;
}

}  // namespace kvtier::internal
