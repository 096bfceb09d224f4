// Admit: MakeRoom for the units, then EvictOne until the size class fits.
#include "lib/index/admission.h"

#include <cassert>

namespace kvtier::internal {

Admission Admit(BlockIndex& index, PageSpace& space, Tier tier, const BlockHash& hash,
                const BlockHash* parent, BlockForm form) {
  const uint32_t units = space.geometry().UnitsOf(form);
  Admission a;
  std::optional<std::vector<Eviction>> evicted = index.MakeRoom(tier, units, parent);
  if (!evicted) return a;
  a.evicted = std::move(*evicted);
  for (const Eviction& e : a.evicted) space.Free(e.slot, e.form);
  while (!space.CanPlace(form)) {
    std::optional<Eviction> e = index.EvictOne(tier, parent);
    if (!e) return a;
    space.Free(e->slot, e->form);
    a.evicted.push_back(*e);
  }
  a.slot = space.Allocate(form);
  assert(a.slot && "CanPlace and Allocate disagree");
  index.AddPending(tier, hash, parent, *a.slot, units, form);
  return a;
}

}  // namespace kvtier::internal
