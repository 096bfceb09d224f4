// MemoryTier: a tier over a heap buffer that fails the way a device does, on
// request. Test support only: built into kvtier_testing, never into kvtier.
//
// Stores exactly what HostTier stores (the stored-block format through
// MemoryTierBackend), so a block corrupted here is caught by the same checks.
//
// Thread safety: as TierBackend for Write/Read. Every knob may be turned from
// any thread while Writes and Reads run (atomics); CorruptSlot races with a
// Read or Write of the same slot like any other write would.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "lib/tier_backend.h"

namespace kvtier::testing {

class MemoryTier final : public internal::MemoryTierBackend {
 public:
  // `slot_bytes` is used as given (no rounding), so slots need not be
  // 64-byte aligned; slot 0 is. Memory starts zeroed: an unwritten slot
  // reads as Corruption (bad magic).
  MemoryTier(uint32_t slot_count, size_t slot_bytes, Tier tier = Tier::kHost,
             internal::BlockCodec codec = {});

  // The next `n` Writes fail with `code` (kIoError or kResourceExhausted, as
  // a device would on EIO or ENOSPC) and leave the slot as it was.
  void FailNextWrites(uint32_t n, StatusCode code = StatusCode::kIoError);
  // The next `n` Reads fail with IoError without touching `dst`.
  void FailNextReads(uint32_t n);
  // XORs one byte of a slot's memory (header: offsets 0..63; payload after).
  // REQUIRES: slot < slot_count(), byte_offset < slot_bytes(), mask != 0.
  void CorruptSlot(uint32_t slot, size_t byte_offset, std::byte mask = std::byte{0xFF});
  // Every later Write and Read first sleeps this long (0 = no delay).
  void SetDelay(std::chrono::nanoseconds per_op);

  // Calls that reached this tier past the front's argument checks,
  // including the ones failed on purpose.
  uint64_t write_calls() const { return write_calls_.load(std::memory_order_relaxed); }
  uint64_t read_calls() const { return read_calls_.load(std::memory_order_relaxed); }

  // The slot's bytes as stored, for tests that inspect the format.
  std::span<const std::byte> SlotBytes(uint32_t slot) const;

 protected:
  std::span<std::byte> SlotMemory(uint32_t slot) override;
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;

 private:
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  void Delay() const;

  std::unique_ptr<std::byte, FreeDeleter> memory_;
  std::atomic<uint32_t> failing_writes_{0};
  std::atomic<StatusCode> write_failure_{StatusCode::kIoError};
  std::atomic<uint32_t> failing_reads_{0};
  std::atomic<int64_t> delay_ns_{0};
  std::atomic<uint64_t> write_calls_{0};
  std::atomic<uint64_t> read_calls_{0};
};

}  // namespace kvtier::testing
