// Store::Open: validates Options once, builds the tiers this build has, and
// refuses (NotSupported) the ones it does not — never a silent fallback.
#include <memory>
#include <string>

#include "backends/host/host_tier.h"
#include "lib/stored_block.h"
#include "lib/store_impl.h"

namespace kvtier {
namespace internal {
namespace {

const char* CodecName(Codec c) {
  switch (c) {
    case Codec::kRaw: return "raw";
    case Codec::kInt8: return "int8";
    case Codec::kFp8: return "fp8";
  }
  return "unknown";
}

Status CheckCodec(Codec codec, const char* field) {
  if (codec == Codec::kRaw) return Status::Ok();
  if (codec == Codec::kInt8 || codec == Codec::kFp8) {
    return NotSupported(std::string(field) + ": the " + CodecName(codec) +
                        " codec is not built yet; use raw");
  }
  return InvalidArgument(std::string(field) + ": unknown codec " +
                         std::to_string(static_cast<int>(codec)));
}

size_t HostSlotBytes(const KvLayout& layout) {
  const size_t bytes = StoredBlockBytes(layout.BlockBytes());
  return (bytes + 63) / 64 * 64;
}

}  // namespace

Status ValidateOptions(const Options& o) {
  if (Status s = o.layout.Validate(); !s.ok()) return s;
  if (o.model_id.empty()) {
    return InvalidArgument(
        "options.model_id: required (model name and revision); it keeps the KV of "
        "different models apart");
  }
  if (o.eviction != EvictionPolicy::kLru && o.eviction != EvictionPolicy::kSlru) {
    return InvalidArgument("options.eviction: unknown policy " +
                           std::to_string(static_cast<int>(o.eviction)));
  }
  if (o.gpu.capacity_bytes > 0) {
    return NotSupported(
        "options.gpu.capacity_bytes: the GPU tier is not built yet; set it to 0");
  }
  if (o.nvme.capacity_bytes > 0) {
    return NotSupported(
        "options.nvme.capacity_bytes: the NVMe tier is not built yet; set it to 0");
  }
  if (Status s = CheckCodec(o.gpu.codec, "options.gpu.codec"); !s.ok()) return s;
  if (Status s = CheckCodec(o.host.codec, "options.host.codec"); !s.ok()) return s;
  if (Status s = CheckCodec(o.nvme.codec, "options.nvme.codec"); !s.ok()) return s;
  if (o.host.capacity_bytes == 0) {
    return InvalidArgument(
        "options.host.capacity_bytes: 0, and no other tier has capacity; a store "
        "needs room for at least one block (" +
        std::to_string(HostSlotBytes(o.layout)) + " bytes)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Store>> OpenStoreWithTiers(const Options& options,
                                                  TierBackends backends,
                                                  bool host_memory_locked) {
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  const size_t block_bytes = StoredBlockBytes(options.layout.BlockBytes());
  for (int t = 0; t < kNumTiers; ++t) {
    if (backends[t] && backends[t]->slot_bytes() < block_bytes) {
      return InvalidArgument("tier " + std::to_string(t) + ": slots of " +
                             std::to_string(backends[t]->slot_bytes()) +
                             " bytes cannot hold a block of " +
                             std::to_string(block_bytes));
    }
  }
  return std::unique_ptr<Store>(
      new StoreImpl(options, std::move(backends), host_memory_locked));
}

}  // namespace internal

Result<std::unique_ptr<Store>> Store::Open(const Options& options) {
  if (Status s = internal::ValidateOptions(options); !s.ok()) return s;
  internal::HostTierConfig host;
  host.capacity_bytes = options.host.capacity_bytes;
  host.slot_bytes = internal::HostSlotBytes(options.layout);
  host.lock_memory = options.host.lock_memory;
  host.codec = options.host.codec;
  host.log = options.log;
  Result<std::unique_ptr<internal::HostTier>> tier = internal::HostTier::Create(host);
  if (!tier.ok()) return tier.status();
  const bool locked = (*tier)->locked();
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(tier).value();
  return internal::OpenStoreWithTiers(options, std::move(backends), locked);
}

}  // namespace kvtier
