// HostTier: one anonymous mapping cut into fixed-size slots, faulted in once
// at creation and page-locked when the memlock limit allows.
#include "backends/host/host_tier.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace kvtier::internal {
namespace {

size_t RoundUp(size_t bytes, size_t align) { return (bytes + align - 1) / align * align; }

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "errno " + std::to_string(err)) + ": " +
         std::strerror(err);
}

std::string LimitText(rlim_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v) + " bytes";
}

// Writes every page once so that no Save pays a page fault (or, on these VMs,
// the host's cost of handing the memory back: 0.6-2.8 s/GiB when cold).
Status Prefault(std::byte* data, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  if (madvise(data, bytes, MADV_POPULATE_WRITE) == 0) return Status::Ok();
  if (errno != EINVAL) {  // EINVAL: a kernel before 5.14; touch instead
    return ResourceExhausted("host tier: faulting in " + std::to_string(bytes) +
                             " bytes failed (" + ErrnoText(errno) + ")");
  }
#endif
  for (size_t off = 0; off < bytes; off += 4096) {
    reinterpret_cast<volatile std::byte*>(data)[off] = std::byte{0};
  }
  return Status::Ok();
}

void LogLockRefused(const Logger& log, size_t bytes, int err) {
  rlimit lim{};
  getrlimit(RLIMIT_MEMLOCK, &lim);
  const std::string msg =
      "host tier: mlock of " + std::to_string(bytes) + " bytes refused (" +
      ErrnoText(err) + "); RLIMIT_MEMLOCK is " + LimitText(lim.rlim_cur) + " (hard " +
      LimitText(lim.rlim_max) +
      "), the most a process without CAP_IPC_LOCK may lock. The arena stays "
      "unlocked (pageable); raise the limit (ulimit -l, systemd LimitMEMLOCK=) or "
      "set options.host.lock_memory = false to silence this.";
  log.Warning(msg);
}

}  // namespace

// ---- MappedRegion -------------------------------------------------------------

Result<MappedRegion> MappedRegion::Map(size_t bytes) {
  if (bytes == 0) return InvalidArgument("host tier: cannot map 0 bytes");
  void* p =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return ResourceExhausted("host tier: mmap of " + std::to_string(bytes) +
                             " bytes failed (" + ErrnoText(errno) + ")");
  }
  MappedRegion region;
  region.data_ = static_cast<std::byte*>(p);
  region.size_ = bytes;
  // Huge pages: fewer TLB misses for the copies and a faster mlock. Advice
  // only; THP "never" is not an error. Must precede the faulting-in.
  (void)madvise(p, bytes, MADV_HUGEPAGE);
  if (Status s = Prefault(region.data_, bytes); !s.ok()) return s;
  return region;
}

MappedRegion::~MappedRegion() {
  if (data_ != nullptr) munmap(data_, size_);
}

MappedRegion::MappedRegion(MappedRegion&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

bool MappedRegion::Lock(int* err) {
  if (mlock(data_, size_) != 0) {
    if (err != nullptr) *err = errno;
    return false;
  }
  locked_ = true;
  return true;
}

// ---- HostTier -----------------------------------------------------------------

Result<std::unique_ptr<HostTier>> HostTier::Create(const HostTierConfig& config) {
  const size_t align = config.slot_align;
  if (align < 64 || (align & (align - 1)) != 0) {
    return InvalidArgument("host tier: slot_align " + std::to_string(align) +
                           " is not a power of two >= 64");
  }
  const size_t slot_bytes = RoundUp(config.slot_bytes, align);
  if (slot_bytes == 0) return InvalidArgument("host tier: slot_bytes is 0");
  const size_t trimmed =
      config.trimmed_bytes == kSameAsWhole ? config.slot_bytes : config.trimmed_bytes;
  const TierGeometry geometry =
      TierGeometry::For(config.slot_bytes, trimmed, align, config.capacity_bytes);
  if (geometry.frames == 0) {
    return InvalidArgument(
        "options.host.capacity_bytes: " + std::to_string(config.capacity_bytes) +
        " bytes is smaller than one slot of " + std::to_string(geometry.frame_bytes()) +
        " bytes");
  }
  Result<MappedRegion> region = MappedRegion::Map(geometry.capacity_bytes());
  if (!region.ok()) return region.status();
  if (config.lock_memory) {
    int err = 0;
    if (!region->Lock(&err)) LogLockRefused(config.log, region->size(), err);
  }
  return std::unique_ptr<HostTier>(
      new HostTier(std::move(region).value(), geometry, config));
}

HostTier::HostTier(MappedRegion region, const TierGeometry& geometry,
                   const HostTierConfig& config)
    : MemoryTierBackend(Tier::kHost, geometry, config.codec),
      region_(std::move(region)) {
  set_logger(config.log);
}

// A page up to its frame's end: a whole block at a frame's first page spans
// the frame. Slotless ids have no memory.
std::span<std::byte> HostTier::SlotMemory(uint32_t slot) {
  if (geometry().IsSlotless(slot)) return {};
  return {region_.data() + size_t{slot} * slot_bytes(), geometry().RoomAt(slot)};
}

}  // namespace kvtier::internal
