// The messages of the scheduler/worker split (include/kvtier/split.h), as
// values and as versioned little-endian bytes. Decoding refuses damaged
// bytes with Corruption naming what is wrong, and checks every count
// against the bytes left before allocating.
//
//   Hello     worker -> scheduler: rank, incarnation, layout and codec
//             fingerprints, the tier stack (ids, geometry, traits), and per
//             persistent tier the blocks it recovered
//   JoinReply scheduler -> worker: its recovered slots the index does not
//             name (to forget)
//   Envelope  scheduler -> every worker: ticket, the engine's first block,
//             slots to forget first, then the plan (lib/placement/plan.h)
//   Results   worker -> scheduler: ticket, rank, incarnation, a status
//             code per move of the plan
//
// Thread safety: values; no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kvtier/status.h"
#include "lib/placement/placement.h"
#include "lib/placement/plan.h"
#include "lib/placement/tier_stack.h"

namespace kvtier::internal {

struct Hello {
  uint32_t rank = 0;
  uint64_t incarnation = 0;
  uint64_t layout_fingerprint = 0;
  uint32_t codec_tag = 0;
  TierStack stack;
  // Per stack position (empty for volatile tiers), oldest first.
  std::vector<std::vector<RecoveredEntry>> recovered;
};

struct SlotRef {
  uint8_t tier = 0;  // stack position
  uint32_t slot = 0;
  friend bool operator==(const SlotRef&, const SlotRef&) = default;
};

struct JoinReply {
  uint32_t rank = 0;
  uint64_t incarnation = 0;
  std::vector<SlotRef> forget;
};

struct Envelope {
  uint64_t ticket = 0;
  uint32_t first_block = 0;     // chain block the engine's segments start at
  std::vector<SlotRef> forget;  // records to forget before the moves run
  Plan plan;
};

struct Results {
  uint64_t ticket = 0;
  uint32_t rank = 0;
  uint64_t incarnation = 0;
  std::vector<StatusCode> codes;  // per move of the plan
};

std::vector<std::byte> EncodeHello(const Hello& hello);
Result<Hello> DecodeHello(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeJoinReply(const JoinReply& reply);
Result<JoinReply> DecodeJoinReply(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeEnvelope(const Envelope& envelope);
Result<Envelope> DecodeEnvelope(std::span<const std::byte> bytes);
std::vector<std::byte> EncodeResults(const Results& results);
Result<Results> DecodeResults(std::span<const std::byte> bytes);

}  // namespace kvtier::internal
