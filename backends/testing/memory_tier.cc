// MemoryTier: the heap-backed fake tier and its fault knobs.
#include "backends/testing/memory_tier.h"

#include <cassert>
#include <cstring>
#include <new>
#include <string>
#include <thread>

namespace kvtier::testing {
namespace {

// Takes one from a countdown; false when it was already 0.
bool TakeOne(std::atomic<uint32_t>& countdown) {
  uint32_t n = countdown.load(std::memory_order_relaxed);
  while (n > 0 && !countdown.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
  return n > 0;
}

std::byte* AllocateZeroed(size_t bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, rounded == 0 ? 64 : rounded));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

}  // namespace

MemoryTier::MemoryTier(uint32_t slot_count, size_t slot_bytes, Tier tier,
                       internal::BlockCodec codec)
    : MemoryTierBackend(tier, slot_count, slot_bytes, codec),
      memory_(AllocateZeroed(size_t{slot_count} * slot_bytes)) {}

void MemoryTier::FailNextWrites(uint32_t n, StatusCode code) {
  assert(code == StatusCode::kIoError || code == StatusCode::kResourceExhausted);
  write_failure_.store(code, std::memory_order_relaxed);
  failing_writes_.store(n, std::memory_order_relaxed);
}

void MemoryTier::FailNextReads(uint32_t n) {
  failing_reads_.store(n, std::memory_order_relaxed);
}

void MemoryTier::CorruptSlot(uint32_t slot, size_t byte_offset, std::byte mask) {
  assert(slot < slot_count() && byte_offset < slot_bytes() && mask != std::byte{0});
  SlotMemory(slot)[byte_offset] ^= mask;
}

void MemoryTier::SetDelay(std::chrono::nanoseconds per_op) {
  delay_ns_.store(per_op.count(), std::memory_order_relaxed);
}

std::span<const std::byte> MemoryTier::SlotBytes(uint32_t slot) const {
  assert(slot < slot_count());
  return {memory_.get() + size_t{slot} * slot_bytes(), slot_bytes()};
}

std::span<std::byte> MemoryTier::SlotMemory(uint32_t slot) {
  assert(slot < slot_count());
  return {memory_.get() + size_t{slot} * slot_bytes(), slot_bytes()};
}

void MemoryTier::Delay() const {
  const int64_t ns = delay_ns_.load(std::memory_order_relaxed);
  if (ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
}

Status MemoryTier::WriteImpl(uint32_t slot, const BlockHash& hash,
                             std::span<const Segment> src) {
  write_calls_.fetch_add(1, std::memory_order_relaxed);
  Delay();
  if (TakeOne(failing_writes_)) {
    const std::string what = "memory tier: injected write failure at slot " +
                             std::to_string(slot);
    if (write_failure_.load(std::memory_order_relaxed) == StatusCode::kResourceExhausted) {
      return ResourceExhausted(what + " (no space)");
    }
    return IoError(what);
  }
  return MemoryTierBackend::WriteImpl(slot, hash, src);
}

Status MemoryTier::ReadImpl(uint32_t slot, const BlockHash& hash,
                            std::span<const Segment> dst) {
  read_calls_.fetch_add(1, std::memory_order_relaxed);
  Delay();
  if (TakeOne(failing_reads_)) {
    return IoError("memory tier: injected read failure at slot " + std::to_string(slot));
  }
  return MemoryTierBackend::ReadImpl(slot, hash, dst);
}

}  // namespace kvtier::testing
