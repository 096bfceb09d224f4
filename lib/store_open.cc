// Store::Open: validates Options once, builds the tiers this build has, and
// refuses (NotSupported) the ones it does not — never a silent fallback.
#include <array>
#include <memory>
#include <string>

#include "backends/gpu/gpu_tier.h"
#include "backends/host/host_tier.h"
#include "backends/nvme/open_nvme.h"
#include "backends/remote/open_remote.h"
#include "lib/codec/block_codec.h"
#include "lib/sliding_window.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"

namespace kvtier {
namespace internal {
namespace {

size_t HostSlotBytes(const KvLayout& layout, Codec codec) {
  const size_t bytes = StoredBlockBytes(StoredPayloadBytes(layout, codec));
  return (bytes + 63) / 64 * 64;
}

// The codec each tier's options ask for, indexed by Tier. The remote tier
// keeps host's stored blocks verbatim, so it has host's codec.
std::array<Codec, kNumTiers> TierCodecs(const Options& o) {
  return {o.gpu.codec, o.host.codec, o.nvme.codec, o.host.codec};
}

// NVMe reads land in host slots directly (one copy per promoted block)
// when the slots are 4 KiB-aligned 4 KiB multiples. That costs at most 6%
// of DRAM for blocks of 64 KiB and more; smaller blocks keep 64-byte slots
// and go through the NVMe tier's staging buffers.
constexpr size_t kDirectLandingMinBytes = size_t{64} << 10;

size_t HostSlotAlign(const Options& o, size_t whole_bytes) {
  const bool lands_directly = o.nvme.capacity_bytes > 0 && o.host.codec == o.nvme.codec &&
                              whole_bytes >= kDirectLandingMinBytes;
  return lands_directly ? kDirectIoSlotAlign : 64;
}

}  // namespace

TierStack StackOf(const Options& options, const TierBackends& backends) {
  TierStack stack;
  for (int t = 0; t < kNumTiers; ++t) {
    if (!backends[t]) continue;
    const Tier id = static_cast<Tier>(t);
    TierTraits traits;
    switch (id) {
      case Tier::kGpu:
        traits.memory = MemoryKind::kDevice;
        break;
      case Tier::kHost:
        break;
      case Tier::kNvme:
        traits.persistence = Persistence::kPersistent;
        traits.io = IoStyle::kAsync;
        traits.arrival = options.nvme.write_policy;
        break;
      case Tier::kRemote:
        traits.authority = Authority::kShared;
        traits.io = IoStyle::kAsync;
        break;
    }
    stack.push_back(StackTier{id, backends[t]->geometry(), traits});
  }
  return stack;
}

Status ValidateOptions(const Options& o) {
  if (Status s = o.layout.Validate(); !s.ok()) return s;
  if (o.model_id.empty()) {
    return InvalidArgument(
        "options.model_id: required (model name and revision); it keeps the KV of "
        "different models apart");
  }
  if (EvictionPolicyName(o.eviction) == std::string_view("unknown")) {
    return InvalidArgument("options.eviction: unknown policy " +
                           std::to_string(static_cast<int>(o.eviction)));
  }
  if (o.gpu.device < 0) {
    return InvalidArgument("options.gpu.device: " + std::to_string(o.gpu.device) +
                           ", must be a CUDA device ordinal (>= 0)");
  }
  if (o.nvme.capacity_bytes > 0) {
    if (o.nvme.directories.empty()) {
      return InvalidArgument(
          "options.nvme.directories: empty; the NVMe tier needs at least one directory");
    }
    if (o.nvme.queue_depth == 0 || o.nvme.queue_depth > 4096) {
      return InvalidArgument("options.nvme.queue_depth: " +
                             std::to_string(o.nvme.queue_depth) + ", must be 1..4096");
    }
    if (o.nvme.write_policy != WritePolicy::kWriteThrough &&
        o.nvme.write_policy != WritePolicy::kWriteBack) {
      return InvalidArgument("options.nvme.write_policy: unknown policy " +
                             std::to_string(static_cast<int>(o.nvme.write_policy)));
    }
  }
  // Every tier's codec is checked, enabled or not: all of them seed the
  // namespace (Options::CodecTag).
  if (Status s = CheckCodec(o.gpu.codec, o.layout, "options.gpu.codec"); !s.ok()) {
    return s;
  }
  if (Status s = CheckCodec(o.host.codec, o.layout, "options.host.codec"); !s.ok()) {
    return s;
  }
  if (Status s = CheckCodec(o.nvme.codec, o.layout, "options.nvme.codec"); !s.ok()) {
    return s;
  }
  if (Status s = ValidateRemoteOptions(o); !s.ok()) return s;
  if (Status s = ValidateShadowOptions(o.shadow); !s.ok()) return s;
  if (Status s = ValidateLoadCostOptions(o.load_cost); !s.ok()) return s;
  if (o.transfer_threads == 0 || o.transfer_threads > 64) {
    return InvalidArgument("options.transfer_threads: " +
                           std::to_string(o.transfer_threads) + ", must be 1..64");
  }
  if (o.host.capacity_bytes == 0) {
    return InvalidArgument(
        "options.host.capacity_bytes: 0; the host tier is required (blocks are saved "
        "there first, also with an NVMe tier) and needs room for at least one block (" +
        std::to_string(HostSlotBytes(o.layout, o.host.codec)) + " bytes)");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Store>> OpenStoreWithTiers(const Options& options,
                                                  TierBackends backends,
                                                  bool host_memory_locked,
                                                  std::unique_ptr<DevicePath> device) {
  if (Status s = ValidateOptions(options); !s.ok()) return s;
  const std::array<Codec, kNumTiers> codecs = TierCodecs(options);
  for (int t = 0; t < kNumTiers; ++t) {
    if (!backends[t]) continue;
    if (backends[t]->codec() != codecs[t]) {
      return InvalidArgument("tier " + std::to_string(t) + ": the backend stores " +
                             CodecName(backends[t]->codec()) + ", the options ask for " +
                             CodecName(codecs[t]));
    }
    const size_t block_bytes =
        StoredBlockBytes(StoredPayloadBytes(options.layout, codecs[t]));
    if (backends[t]->geometry().frame_bytes() < block_bytes) {
      return InvalidArgument("tier " + std::to_string(t) + ": slots of " +
                             std::to_string(backends[t]->geometry().frame_bytes()) +
                             " bytes cannot hold a block of " +
                             std::to_string(block_bytes));
    }
  }
  if (!device) {
    EngineSource source;
    source.open = OpenCudaCopyEngine;
    source.device = options.gpu.device;
    device = std::make_unique<DevicePath>(std::move(source), options.layout);
  }
  return std::unique_ptr<Store>(
      new StoreImpl(options, std::move(backends), host_memory_locked, std::move(device)));
}

// The GPU tier over the device path's engine, opened now: a store asked for
// a GPU tier that cannot have one fails Open with the runtime's reason.
Result<std::unique_ptr<TierBackend>> OpenGpuTier(const Options& options,
                                                 DevicePath& device) {
  if (Status s = device.Ready(); !s.ok()) {
    return Status(s.code(), "options.gpu.capacity_bytes: " + s.message());
  }
  GpuTierConfig gpu;
  gpu.capacity_bytes = options.gpu.capacity_bytes;
  const FormBytes forms = StoredBytesByForm(options.layout, options.gpu.codec);
  gpu.slot_bytes = forms.whole;
  gpu.trimmed_bytes = forms.trimmed;
  gpu.codec = BlockCodec::For(options.gpu.codec, options.layout);
  gpu.log = Logger::For(options);
  Result<std::unique_ptr<GpuTier>> tier = GpuTier::Create(gpu, device.engine());
  if (!tier.ok()) return tier.status();
  return std::unique_ptr<TierBackend>(std::move(tier).value());
}

Result<OpenedTiers> OpenTiers(const Options& options, const NvmeHooks& hooks,
                              const GpuHooks& gpu_hooks) {
  if (Status s = internal::ValidateOptions(options); !s.ok()) return s;
  internal::HostTierConfig host;
  host.capacity_bytes = options.host.capacity_bytes;
  const internal::FormBytes forms =
      internal::StoredBytesByForm(options.layout, options.host.codec);
  host.slot_bytes = forms.whole;
  host.trimmed_bytes = forms.trimmed;
  host.lock_memory = options.host.lock_memory;
  host.slot_align = HostSlotAlign(options, forms.whole);
  host.codec = internal::BlockCodec::For(options.host.codec, options.layout);
  host.log = internal::Logger::For(options);
  Result<std::unique_ptr<internal::HostTier>> tier = internal::HostTier::Create(host);
  if (!tier.ok()) return tier.status();
  OpenedTiers opened;
  opened.host_memory_locked = (*tier)->locked();
  internal::EngineSource source;
  source.borrowed = gpu_hooks.engine;
  source.open = internal::OpenCudaCopyEngine;
  source.device = options.gpu.device;
  source.host_arena = (*tier)->arena();
  opened.device =
      std::make_unique<internal::DevicePath>(std::move(source), options.layout);
  internal::TierBackends& backends = opened.backends;
  if (options.gpu.capacity_bytes > 0) {
    Result<std::unique_ptr<internal::TierBackend>> gpu =
        internal::OpenGpuTier(options, *opened.device);
    if (!gpu.ok()) return gpu.status();
    backends[static_cast<int>(Tier::kGpu)] = std::move(gpu).value();
  }
  backends[static_cast<int>(Tier::kHost)] = std::move(tier).value();
  if (options.nvme.capacity_bytes > 0) {
    Result<std::unique_ptr<internal::TierBackend>> nvme =
        internal::OpenNvmeTier(options, hooks);
    if (!nvme.ok()) return nvme.status();
    backends[static_cast<int>(Tier::kNvme)] = std::move(nvme).value();
  }
  if (!options.remote.endpoints.empty()) {
    Result<std::unique_ptr<internal::TierBackend>> remote =
        internal::OpenRemoteTier(options);
    if (!remote.ok()) return remote.status();
    backends[static_cast<int>(Tier::kRemote)] = std::move(remote).value();
  }
  return opened;
}

Result<std::unique_ptr<Store>> OpenStore(const Options& options, const NvmeHooks& hooks,
                                         const GpuHooks& gpu_hooks) {
  Result<OpenedTiers> opened = OpenTiers(options, hooks, gpu_hooks);
  if (!opened.ok()) return opened.status();
  return internal::OpenStoreWithTiers(options, std::move(opened->backends),
                                      opened->host_memory_locked,
                                      std::move(opened->device));
}

}  // namespace internal

Result<std::unique_ptr<Store>> Store::Open(const Options& options) {
  return internal::OpenStore(options, internal::NvmeHooks{});
}

}  // namespace kvtier
