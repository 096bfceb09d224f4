// BlockIndex: the parent/child tree. Children are linked to their parent
// (first_child, sibling list) so that a tier never evicts a parent before a
// child it holds, and so that the descendants of a block that left every
// tier can be found, marked orphan and moved to the cold end at once.
#include <bit>
#include <cassert>

#include "lib/index/block_index.h"

#include "absl/container/flat_hash_set.h"

namespace kvtier::internal {

void BlockIndex::LinkChild(EntryId parent, EntryId child) {
  Entry& c = entries_[child];
  Entry& p = entries_[parent];
  assert(c.parent == kNoEntry && c.present == 0 && parent != child);
  c.parent = parent;
  c.prev_sibling = kNoEntry;
  c.next_sibling = p.first_child;
  if (p.first_child != kNoEntry) entries_[p.first_child].prev_sibling = child;
  p.first_child = child;
  c.orphan = Dead(parent);
}

void BlockIndex::UnlinkFromParent(EntryId child) {
  Entry& c = entries_[child];
  if (c.parent == kNoEntry) return;
  Entry& p = entries_[c.parent];
  for (unsigned present = c.present; present != 0; present &= present - 1) {
    --p.tiers[std::countr_zero(present)].resident_children;
  }
  if (c.prev_sibling != kNoEntry) {
    entries_[c.prev_sibling].next_sibling = c.next_sibling;
  } else {
    p.first_child = c.next_sibling;
  }
  if (c.next_sibling != kNoEntry) entries_[c.next_sibling].prev_sibling = c.prev_sibling;
  c.parent = c.prev_sibling = c.next_sibling = kNoEntry;
}

bool BlockIndex::Dead(EntryId id) const {
  const Entry& e = entries_[id];
  return e.present == 0 || e.orphan;
}

void BlockIndex::OnLeftLastTier(EntryId id) {
  const Entry& e = entries_[id];
  if (e.first_child == kNoEntry) {
    EraseWithEmptyAncestors(id);
  } else if (!e.orphan) {
    // Kept as a tombstone: its children stay linked and are adopted again if
    // the block is saved again. Until then none of them can be served.
    OrphanDescendants(id);
  }
}

void BlockIndex::OrphanDescendants(EntryId id) {
  // Pre-order, so every block is demoted after its parent and ends colder:
  // dead subtrees leave leaves first. Subtrees already orphaned are skipped.
  scratch_.clear();
  for (EntryId c = entries_[id].first_child; c != kNoEntry;
       c = entries_[c].next_sibling) {
    scratch_.push_back(c);
  }
  while (!scratch_.empty()) {
    const EntryId c = scratch_.back();
    scratch_.pop_back();
    Entry& e = entries_[c];
    if (e.orphan) continue;
    e.orphan = true;
    DemoteEverywhere(c);
    for (EntryId g = e.first_child; g != kNoEntry; g = entries_[g].next_sibling) {
      scratch_.push_back(g);
    }
  }
}

void BlockIndex::AdoptDescendants(EntryId id) {
  // `id` is live and not an orphan again: its descendants down to the next
  // block that is in no tier can be served again. They stay where they are
  // in the eviction order until they are touched.
  scratch_.clear();
  for (EntryId c = entries_[id].first_child; c != kNoEntry;
       c = entries_[c].next_sibling) {
    scratch_.push_back(c);
  }
  while (!scratch_.empty()) {
    const EntryId c = scratch_.back();
    scratch_.pop_back();
    Entry& e = entries_[c];
    e.orphan = false;
    if (e.present == 0) continue;  // a tombstone: its children stay orphans
    for (EntryId g = e.first_child; g != kNoEntry; g = entries_[g].next_sibling) {
      scratch_.push_back(g);
    }
  }
}

void BlockIndex::EraseWithEmptyAncestors(EntryId id) {
  // A tombstone lives only as long as it has children.
  while (id != kNoEntry) {
    Entry& e = entries_[id];
    assert(e.present == 0 && e.first_child == kNoEntry);
    const EntryId parent = e.parent;
    UnlinkFromParent(id);
    by_hash_.erase(e.hash);
    e = Entry{};
    free_ids_.push_back(id);
    const bool parent_empty = parent != kNoEntry && entries_[parent].present == 0 &&
                              entries_[parent].first_child == kNoEntry;
    id = parent_empty ? parent : kNoEntry;
  }
}

std::vector<BlockHash> BlockIndex::Subtrees(std::span<const BlockHash> roots) const {
  absl::flat_hash_set<EntryId> seen;
  std::vector<EntryId> order, stack;
  for (const BlockHash& root : roots) {
    const EntryId r = Find(root);
    if (r != kNoEntry) stack.push_back(r);
  }
  // Pre-order: a block is listed after its parent; reversed below.
  while (!stack.empty()) {
    const EntryId id = stack.back();
    stack.pop_back();
    if (!seen.insert(id).second) continue;
    order.push_back(id);
    for (EntryId c = entries_[id].first_child; c != kNoEntry;
         c = entries_[c].next_sibling) {
      stack.push_back(c);
    }
  }
  std::vector<BlockHash> out;
  out.reserve(order.size());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (entries_[*it].present != 0) out.push_back(entries_[*it].hash);
  }
  return out;
}

std::vector<BlockHash> BlockIndex::AllBlocks() const {
  std::vector<BlockHash> roots;
  for (const auto& [hash, id] : by_hash_) {
    if (entries_[id].parent == kNoEntry) roots.push_back(hash);
  }
  return Subtrees(roots);
}

void BlockIndex::DemoteEverywhere(EntryId id) {
  for (unsigned present = entries_[id].present; present != 0; present &= present - 1) {
    orders_[std::countr_zero(present)]->Demote(id);
  }
}

}  // namespace kvtier::internal
