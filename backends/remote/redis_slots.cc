// CRC16/XMODEM and the slot map (redis_slots.h).
#include "backends/remote/redis_slots.h"

namespace kvtier::internal {

uint16_t Crc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (const char c : bytes) {
    crc ^= static_cast<uint16_t>(static_cast<uint8_t>(c)) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

uint32_t KeySlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % kClusterSlots;
}

void SlotMap::Assign(uint32_t first, uint32_t last, uint16_t node) {
  for (uint32_t s = first; s <= last && s < kClusterSlots; ++s) nodes_[s] = node;
}

bool SlotMap::Covered() const {
  for (const uint16_t n : nodes_) {
    if (n == kNoNode) return false;
  }
  return true;
}

}  // namespace kvtier::internal
