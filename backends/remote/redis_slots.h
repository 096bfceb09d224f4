// Redis Cluster's key -> slot function (CRC16/XMODEM of the key, or of its
// {hash tag}, mod 16384), exactly as the server computes it, and the slot
// map a client keeps: which node serves each slot.
//
// Thread safety: KeySlot is pure; SlotMap is a value (the client guards it).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kvtier::internal {

inline constexpr uint32_t kClusterSlots = 16384;

// CRC16-CCITT (XMODEM: poly 0x1021, init 0), the cluster's key hash.
uint16_t Crc16(std::string_view bytes);
// The slot of `key`: only the part between the first '{' and the next '}'
// is hashed when that part is not empty (a hash tag), as the server does.
uint32_t KeySlot(std::string_view key);

// Node index per slot; kNoNode where no node serves the slot.
class SlotMap {
 public:
  static constexpr uint16_t kNoNode = 0xFFFF;
  SlotMap() { nodes_.fill(kNoNode); }
  void Assign(uint32_t first, uint32_t last, uint16_t node);  // inclusive range
  uint16_t NodeOf(uint32_t slot) const { return nodes_[slot]; }
  bool Covered() const;  // every slot has a node

 private:
  std::array<uint16_t, kClusterSlots> nodes_;
};

}  // namespace kvtier::internal
