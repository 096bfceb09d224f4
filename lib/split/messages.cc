// Encoding of the split's messages. Layouts (integers little-endian):
//   Hello:     "KVHE" u32 | version u16 | rank u32 | incarnation u64 |
//              layout fingerprint u64 | codec tag u32 | n_tiers u8 |
//              per tier: id u8, page_bytes u64, pages_per_frame u32, frames u32,
//                        slotless u32, whole_bytes u64, trimmed_bytes u64,
//                        memory u8, persistence u8, authority u8, io u8, arrival u8 |
//              per tier: n u32, n x (hash 16, parent 16, has_parent u8, slot u32,
//                        form u8)
//   JoinReply: "KVJR" u32 | version u16 | rank u32 | incarnation u64 | slots
//   Envelope:  "KVSP" u32 | version u16 | ticket u64 | first_block u32 | slots |
//              plan (SerializePlan) to the end
//   Results:   "KVSR" u32 | version u16 | ticket u64 | rank u32 | incarnation u64 |
//              n u32 | n x code u8
//   slots:     n u32 | n x (tier u8, slot u32)
#include "lib/split/messages.h"

#include <string>

#include "lib/format/wire.h"

namespace kvtier::internal {
namespace {

constexpr uint32_t kHelloMagic = 0x4548564B;     // "KVHE"
constexpr uint32_t kReplyMagic = 0x524A564B;     // "KVJR"
constexpr uint32_t kEnvelopeMagic = 0x5053564B;  // "KVSP"
constexpr uint32_t kResultsMagic = 0x5253564B;   // "KVSR"
constexpr uint16_t kVersion = 1;
constexpr size_t kStackTierBytes = 1 + 8 + 4 + 4 + 4 + 8 + 8 + 5;
constexpr size_t kRecoveredBytes = 16 + 16 + 1 + 4 + 1;
constexpr size_t kSlotRefBytes = 5;

Status Bad(const char* message, const std::string& what) {
  return Corruption(std::string(message) + ": " + what);
}

void PutHeader(ByteWriter& w, uint32_t magic) {
  w.Put(magic);
  w.Put(kVersion);
}

Status GetHeader(ByteReader& r, uint32_t magic, const char* message) {
  uint32_t m = 0;
  uint16_t version = 0;
  if (!r.Get(&m) || !r.Get(&version)) return Bad(message, "truncated header");
  if (m != magic) return Bad(message, "bad magic");
  if (version != kVersion) {
    return Bad(message, "version " + std::to_string(version) + ", this build reads " +
                            std::to_string(kVersion));
  }
  return Status::Ok();
}

// Reads a count of items of `item_bytes` each, refusing one the bytes left
// cannot hold.
bool GetCount(ByteReader& r, size_t item_bytes, uint32_t* n) {
  return r.Get(n) && uint64_t{*n} * item_bytes <= r.left();
}

void PutSlots(ByteWriter& w, const std::vector<SlotRef>& slots) {
  w.Put(static_cast<uint32_t>(slots.size()));
  for (const SlotRef& s : slots) {
    w.Put(s.tier);
    w.Put(s.slot);
  }
}

bool GetSlots(ByteReader& r, std::vector<SlotRef>* slots) {
  uint32_t n = 0;
  if (!GetCount(r, kSlotRefBytes, &n)) return false;
  slots->resize(n);
  for (SlotRef& s : *slots) {
    if (!r.Get(&s.tier) || !r.Get(&s.slot)) return false;
  }
  return true;
}

void PutStackTier(ByteWriter& w, const StackTier& t) {
  w.Put(static_cast<uint8_t>(t.id));
  w.Put(static_cast<uint64_t>(t.geometry.page_bytes));
  w.Put(t.geometry.pages_per_frame);
  w.Put(t.geometry.frames);
  w.Put(t.geometry.slotless);
  w.Put(static_cast<uint64_t>(t.geometry.whole_bytes));
  w.Put(static_cast<uint64_t>(t.geometry.trimmed_bytes));
  w.Put(static_cast<uint8_t>(t.traits.memory));
  w.Put(static_cast<uint8_t>(t.traits.persistence));
  w.Put(static_cast<uint8_t>(t.traits.authority));
  w.Put(static_cast<uint8_t>(t.traits.io));
  w.Put(static_cast<uint8_t>(t.traits.arrival));
}

bool GetStackTier(ByteReader& r, StackTier* t) {
  uint8_t id = 0, memory = 0, persistence = 0, authority = 0, io = 0, arrival = 0;
  uint64_t page = 0, whole = 0, trimmed = 0;
  if (!r.Get(&id) || !r.Get(&page) || !r.Get(&t->geometry.pages_per_frame) ||
      !r.Get(&t->geometry.frames) || !r.Get(&t->geometry.slotless) || !r.Get(&whole) ||
      !r.Get(&trimmed) || !r.Get(&memory) || !r.Get(&persistence) || !r.Get(&authority) ||
      !r.Get(&io) || !r.Get(&arrival)) {
    return false;
  }
  if (id >= kNumTiers || memory > 1 || persistence > 1 || authority > 1 || io > 1 ||
      arrival > 1) {
    return false;
  }
  t->id = static_cast<Tier>(id);
  t->geometry.page_bytes = page;
  t->geometry.whole_bytes = whole;
  t->geometry.trimmed_bytes = trimmed;
  t->traits =
      TierTraits{static_cast<MemoryKind>(memory), static_cast<Persistence>(persistence),
                 static_cast<Authority>(authority), static_cast<IoStyle>(io),
                 static_cast<WritePolicy>(arrival)};
  return true;
}

bool GetRecovered(ByteReader& r, RecoveredEntry* e) {
  uint8_t has_parent = 0, form = 0;
  if (!r.GetHash(&e->hash) || !r.GetHash(&e->parent) || !r.Get(&has_parent) ||
      !r.Get(&e->slot) || !r.Get(&form) || has_parent > 1 || form > 1) {
    return false;
  }
  e->has_parent = has_parent != 0;
  e->form = static_cast<BlockForm>(form);
  return true;
}

}  // namespace

std::vector<std::byte> EncodeHello(const Hello& hello) {
  ByteWriter w;
  PutHeader(w, kHelloMagic);
  w.Put(hello.rank);
  w.Put(hello.incarnation);
  w.Put(hello.layout_fingerprint);
  w.Put(hello.codec_tag);
  w.Put(static_cast<uint8_t>(hello.stack.size()));
  for (const StackTier& t : hello.stack) PutStackTier(w, t);
  for (size_t p = 0; p < hello.stack.size(); ++p) {
    const std::vector<RecoveredEntry> none;
    const auto& entries = p < hello.recovered.size() ? hello.recovered[p] : none;
    w.Put(static_cast<uint32_t>(entries.size()));
    for (const RecoveredEntry& e : entries) {
      w.PutHash(e.hash);
      w.PutHash(e.parent);
      w.Put(static_cast<uint8_t>(e.has_parent ? 1 : 0));
      w.Put(e.slot);
      w.Put(static_cast<uint8_t>(e.form));
    }
  }
  return w.Take();
}

Result<Hello> DecodeHello(std::span<const std::byte> bytes) {
  constexpr const char* kWhat = "worker hello";
  ByteReader r(bytes);
  if (Status s = GetHeader(r, kHelloMagic, kWhat); !s.ok()) return s;
  Hello h;
  uint8_t tiers = 0;
  if (!r.Get(&h.rank) || !r.Get(&h.incarnation) || !r.Get(&h.layout_fingerprint) ||
      !r.Get(&h.codec_tag) || !r.Get(&tiers)) {
    return Bad(kWhat, "truncated");
  }
  if (uint64_t{tiers} * kStackTierBytes > r.left()) return Bad(kWhat, "truncated stack");
  h.stack.resize(tiers);
  for (StackTier& t : h.stack) {
    if (!GetStackTier(r, &t)) return Bad(kWhat, "a tier has an unknown id or trait");
  }
  h.recovered.resize(tiers);
  for (auto& entries : h.recovered) {
    uint32_t n = 0;
    if (!GetCount(r, kRecoveredBytes, &n)) return Bad(kWhat, "truncated recovered list");
    entries.resize(n);
    for (RecoveredEntry& e : entries) {
      if (!GetRecovered(r, &e)) return Bad(kWhat, "a recovered block is malformed");
    }
  }
  if (r.left() != 0) return Bad(kWhat, std::to_string(r.left()) + " trailing bytes");
  return h;
}

std::vector<std::byte> EncodeJoinReply(const JoinReply& reply) {
  ByteWriter w;
  PutHeader(w, kReplyMagic);
  w.Put(reply.rank);
  w.Put(reply.incarnation);
  PutSlots(w, reply.forget);
  return w.Take();
}

Result<JoinReply> DecodeJoinReply(std::span<const std::byte> bytes) {
  constexpr const char* kWhat = "join reply";
  ByteReader r(bytes);
  if (Status s = GetHeader(r, kReplyMagic, kWhat); !s.ok()) return s;
  JoinReply reply;
  if (!r.Get(&reply.rank) || !r.Get(&reply.incarnation) || !GetSlots(r, &reply.forget)) {
    return Bad(kWhat, "truncated");
  }
  if (r.left() != 0) return Bad(kWhat, std::to_string(r.left()) + " trailing bytes");
  return reply;
}

std::vector<std::byte> EncodeEnvelope(const Envelope& envelope) {
  ByteWriter w;
  PutHeader(w, kEnvelopeMagic);
  w.Put(envelope.ticket);
  w.Put(envelope.first_block);
  PutSlots(w, envelope.forget);
  w.PutBytes(SerializePlan(envelope.plan));
  return w.Take();
}

Result<Envelope> DecodeEnvelope(std::span<const std::byte> bytes) {
  constexpr const char* kWhat = "split plan";
  ByteReader r(bytes);
  if (Status s = GetHeader(r, kEnvelopeMagic, kWhat); !s.ok()) return s;
  Envelope e;
  if (!r.Get(&e.ticket) || !r.Get(&e.first_block) || !GetSlots(r, &e.forget)) {
    return Bad(kWhat, "truncated");
  }
  Result<Plan> plan = DeserializePlan(r.Rest());
  if (!plan.ok()) return plan.status();
  e.plan = std::move(plan).value();
  if (e.first_block > e.plan.chain.size()) {
    return Bad(kWhat, "first block " + std::to_string(e.first_block) +
                          " past a chain of " + std::to_string(e.plan.chain.size()));
  }
  return e;
}

std::vector<std::byte> EncodeResults(const Results& results) {
  ByteWriter w;
  PutHeader(w, kResultsMagic);
  w.Put(results.ticket);
  w.Put(results.rank);
  w.Put(results.incarnation);
  w.Put(static_cast<uint32_t>(results.codes.size()));
  for (StatusCode c : results.codes) w.Put(static_cast<uint8_t>(c));
  return w.Take();
}

Result<Results> DecodeResults(std::span<const std::byte> bytes) {
  constexpr const char* kWhat = "worker results";
  ByteReader r(bytes);
  if (Status s = GetHeader(r, kResultsMagic, kWhat); !s.ok()) return s;
  Results res;
  uint32_t n = 0;
  if (!r.Get(&res.ticket) || !r.Get(&res.rank) || !r.Get(&res.incarnation) ||
      !GetCount(r, 1, &n)) {
    return Bad(kWhat, "truncated");
  }
  res.codes.resize(n);
  for (StatusCode& c : res.codes) {
    uint8_t v = 0;
    if (!r.Get(&v) || v > static_cast<uint8_t>(StatusCode::kCancelled)) {
      return Bad(kWhat, "unknown status code");
    }
    c = static_cast<StatusCode>(v);
  }
  if (r.left() != 0) return Bad(kWhat, std::to_string(r.left()) + " trailing bytes");
  return res;
}

}  // namespace kvtier::internal
