// HostTier: the pinned-DRAM tier. One arena of fixed-size slots, mapped once
// at Open and unmapped only when the store goes away (memory given back to
// the host costs 0.6-2.8 s/GiB to touch again on these machines).
//
// Page-locking: mmap + mlock (cudaHostAlloc where a CUDA device exists, once
// the GPU tier is built). When the memlock limit refuses (8 MiB without
// CAP_IPC_LOCK), the arena stays unlocked: locked() is false and a warning
// goes to the log callback.
//
// Thread safety: as TierBackend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

#include "kvtier/status.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

// Move-only owner of an anonymous mapping.
class MappedRegion {
 public:
  MappedRegion() = default;
  // Maps `bytes` of zeroed memory, advised for transparent huge pages, and
  // faults every page in now (~0.06-0.13 s/GiB here; 1.5-1.9 s/GiB when the
  // host must first hand the memory back). InvalidArgument for 0 bytes;
  // ResourceExhausted when the mapping or the faulting-in fails.
  static Result<MappedRegion> Map(size_t bytes);
  ~MappedRegion();
  MappedRegion(MappedRegion&& other) noexcept;
  MappedRegion& operator=(MappedRegion&& other) noexcept;

  std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  // mlock the whole region; false (errno kept in *err) when refused.
  bool Lock(int* err);
  bool locked() const { return locked_; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  bool locked_ = false;
};

// kSameAsWhole: trimmed blocks are as big as whole ones (one slot size).
inline constexpr size_t kSameAsWhole = SIZE_MAX;

// Slot alignment for a host tier that NVMe reads land in directly
// (BlockIo::stored_out): O_DIRECT moves whole, aligned 4 KiB units.
inline constexpr size_t kDirectIoSlotAlign = 4096;

struct HostTierConfig {
  uint64_t capacity_bytes = 0;
  size_t slot_bytes = 0;  // a whole stored block (StoredBlockBytes), rounded up to slot_align
  // Slots (pages) start at and are sized to multiples of this (a power of
  // two >= 64). 64, a cache line, wastes at most 63 bytes a slot.
  // kDirectIoSlotAlign lets an NVMe read DMA straight into a slot (a
  // promotion with one CPU copy, not two) at up to 4095 bytes a slot: 1.5%
  // for 256 KiB blocks (a 256 KiB + 64 B stored block takes 260 KiB), 0.4%
  // for 1 MiB blocks, but 2x for a 2 KiB block.
  size_t slot_align = 64;
  // A trimmed stored block (lib/tier_geometry.h); 0 = it keeps no bytes.
  size_t trimmed_bytes = kSameAsWhole;
  bool lock_memory = true;
  BlockCodec codec;  // raw unless set (BlockCodec::For)
  Logger log;  // where "mlock refused" goes
};

class HostTier final : public MemoryTierBackend {
 public:
  // InvalidArgument naming options.host.capacity_bytes when it holds no slot;
  // ResourceExhausted when the mapping fails.
  static Result<std::unique_ptr<HostTier>> Create(const HostTierConfig& config);

  bool locked() const { return region_.locked(); }
  // The whole arena, page i at i * slot_bytes(): for registering it with a
  // DMA engine (cudaHostRegister, io_uring fixed buffers). Lives as long as
  // the tier.
  std::span<std::byte> arena() const { return {region_.data(), region_.size()}; }

 protected:
  std::span<std::byte> SlotMemory(uint32_t slot) override;

 private:
  HostTier(MappedRegion region, const TierGeometry& geometry,
           const HostTierConfig& config);
  MappedRegion region_;
};

}  // namespace kvtier::internal
