// Plan serialization. Layout (integers little-endian):
//   magic "KVPL" u32 | version u16 | kind u8 | reserved u8 | lease u64
//   n_chain u32 | n_moves u32 | n_releases u32 | flags u32 (bit 0: explicit parents)
//   chain: n_chain x (lo u64, hi u64)
//   [explicit parents] n_chain x (has u8, lo u64, hi u64)
//   moves: n_moves x (block u32, form u8, need u8, from: kind u8 tier u8 slot u32,
//                     to: kind u8 tier u8 slot u32)
//   releases: n_releases x (tier u8, slot u32, generation u64)
#include "lib/placement/plan.h"

#include <string>

#include "lib/format/wire.h"

namespace kvtier::internal {
namespace {

constexpr uint32_t kPlanMagic = 0x4C50564B;  // "KVPL"
constexpr uint16_t kPlanVersion = 1;

void PutEndpoint(ByteWriter& w, const Endpoint& e) {
  w.Put(static_cast<uint8_t>(e.kind));
  w.Put(e.tier);
  w.Put(e.slot);
}

bool GetEndpoint(ByteReader& r, Endpoint* e) {
  uint8_t kind = 0;
  if (!r.Get(&kind) || !r.Get(&e->tier) || !r.Get(&e->slot) || kind > 1) return false;
  e->kind = static_cast<Endpoint::Kind>(kind);
  return true;
}

bool GetForm(ByteReader& r, BlockForm* f) {
  uint8_t v = 0;
  if (!r.Get(&v) || v > 1) return false;
  *f = static_cast<BlockForm>(v);
  return true;
}

Status Bad(const std::string& what) { return Corruption("plan: " + what); }

}  // namespace

const BlockHash* Plan::ParentOf(size_t i) const {
  if (has_parent.empty()) return i > 0 ? &chain[i - 1] : nullptr;
  return has_parent[i] ? &parents[i] : nullptr;
}

std::vector<std::byte> SerializePlan(const Plan& plan) {
  ByteWriter w;
  w.Put(kPlanMagic);
  w.Put(kPlanVersion);
  w.Put(static_cast<uint8_t>(plan.kind));
  w.Put(uint8_t{0});
  w.Put(plan.lease);
  w.Put(static_cast<uint32_t>(plan.chain.size()));
  w.Put(static_cast<uint32_t>(plan.moves.size()));
  w.Put(static_cast<uint32_t>(plan.releases.size()));
  const bool explicit_parents = !plan.has_parent.empty();
  w.Put(static_cast<uint32_t>(explicit_parents ? 1 : 0));
  for (const BlockHash& h : plan.chain) w.PutHash(h);
  for (size_t i = 0; explicit_parents && i < plan.chain.size(); ++i) {
    w.Put(plan.has_parent[i]);
    w.PutHash(plan.parents[i]);
  }
  for (const Move& m : plan.moves) {
    w.Put(m.block);
    w.Put(static_cast<uint8_t>(m.form));
    w.Put(static_cast<uint8_t>(m.need));
    PutEndpoint(w, m.from);
    PutEndpoint(w, m.to);
  }
  for (const SlotRelease& r : plan.releases) {
    w.Put(r.tier);
    w.Put(r.slot);
    w.Put(r.generation);
  }
  return w.Take();
}

Result<Plan> DeserializePlan(std::span<const std::byte> bytes) {
  ByteReader r(bytes);
  uint32_t magic = 0, n_chain = 0, n_moves = 0, n_releases = 0, flags = 0;
  uint16_t version = 0;
  uint8_t kind = 0, reserved = 0;
  Plan p;
  if (!r.Get(&magic) || !r.Get(&version) || !r.Get(&kind) || !r.Get(&reserved) ||
      !r.Get(&p.lease) || !r.Get(&n_chain) || !r.Get(&n_moves) || !r.Get(&n_releases) ||
      !r.Get(&flags)) {
    return Bad("truncated header (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (magic != kPlanMagic) return Bad("bad magic");
  if (version != kPlanVersion) {
    return Bad("version " + std::to_string(version) + ", this build reads " +
               std::to_string(kPlanVersion));
  }
  if (kind > static_cast<uint8_t>(PlanKind::kPrefetch)) {
    return Bad("unknown kind " + std::to_string(kind));
  }
  if (flags > 1) return Bad("unknown flags " + std::to_string(flags));
  p.kind = static_cast<PlanKind>(kind);
  // Sizes are checked against what is left before anything is allocated.
  const uint64_t need = uint64_t{n_chain} * (16 + (flags ? 17 : 0)) +
                        uint64_t{n_moves} * 18 + uint64_t{n_releases} * 13;
  if (need != r.left()) {
    return Bad("body of " + std::to_string(r.left()) + " bytes, the counts need " +
               std::to_string(need));
  }
  p.chain.resize(n_chain);
  for (BlockHash& h : p.chain) (void)r.GetHash(&h);
  if (flags) {
    p.has_parent.resize(n_chain);
    p.parents.resize(n_chain);
    for (uint32_t i = 0; i < n_chain; ++i) {
      (void)r.Get(&p.has_parent[i]);
      (void)r.GetHash(&p.parents[i]);
    }
  }
  p.moves.resize(n_moves);
  for (Move& m : p.moves) {
    if (!r.Get(&m.block) || !GetForm(r, &m.form) || !GetForm(r, &m.need) ||
        !GetEndpoint(r, &m.from) || !GetEndpoint(r, &m.to)) {
      return Bad("a move has an unknown form or endpoint kind");
    }
    if (m.block >= n_chain) {
      return Bad("a move names block " + std::to_string(m.block) + " of a chain of " +
                 std::to_string(n_chain));
    }
  }
  p.releases.resize(n_releases);
  for (SlotRelease& rel : p.releases) {
    (void)r.Get(&rel.tier);
    (void)r.Get(&rel.slot);
    (void)r.Get(&rel.generation);
  }
  return p;
}

}  // namespace kvtier::internal
