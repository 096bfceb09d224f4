// The C API's counters (kvtier_c.h): the frozen 0.1 kvtier_stats and the
// struct_size-checked per-tier, NVMe and per-call structs.
#include <cstddef>
#include <cstring>

#include "lib/c_api/c_api_support.h"

namespace {

using kvtier::Status;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::CNull;
using kvtier::internal::RawEnum;

// Copies the first out->struct_size bytes of `full` (struct_size set to the
// caller's) into *out, after checking the size. Every struct here is new
// in 0.2, so its first released size is today's.
template <typename T>
kvtier_code CopyOut(const char* what, const T& full, T* out, kvtier_error* err,
                    size_t oldest_size = sizeof(T)) {
  const size_t size = out->struct_size;
  if (Status s = kvtier::internal::CheckStructSize(what, size, oldest_size, sizeof(T));
      !s.ok()) {
    return CFail(s, err);
  }
  std::memcpy(static_cast<void*>(out), &full, size);
  out->struct_size = size;
  return KVTIER_OK;
}

kvtier_tier_stats TierStatsOf(const kvtier::TierStats& t) {
  kvtier_tier_stats c{};
  c.struct_size = sizeof(c);
  c.enabled = t.enabled ? 1 : 0;
  c.codec = static_cast<kvtier_codec>(t.codec);
  c.capacity_bytes = t.capacity_bytes;
  c.used_bytes = t.used_bytes;
  c.slot_bytes = t.slot_bytes;
  c.blocks = t.blocks;
  c.hits = t.hits;
  c.inserts = t.inserts;
  c.evictions = t.evictions;
  c.placement_evictions = t.placement_evictions;
  c.orphans_dropped = t.orphans_dropped;
  c.rejected = t.rejected;
  c.checksum_errors = t.checksum_errors;
  c.io_errors = t.io_errors;
  c.bytes_written = t.bytes_written;
  c.bytes_read = t.bytes_read;
  c.logical_bytes_written = t.logical_bytes_written;
  c.logical_bytes_read = t.logical_bytes_read;
  c.shadow_checked = t.shadow_checked;
  c.shadow_diverged = t.shadow_diverged;
  return c;
}

kvtier_nvme_stats NvmeStatsOf(const kvtier::NvmeStats& n) {
  kvtier_nvme_stats c{};
  c.struct_size = sizeof(c);
  c.io_uring = n.io_uring ? 1 : 0;
  c.fixed_buffers = n.fixed_buffers ? 1 : 0;
  c.direct_io = n.direct_io ? 1 : 0;
  c.wiped_at_open = n.wiped_at_open ? 1 : 0;
  c.recovered_blocks = n.recovered_blocks;
  c.recovery_dropped = n.recovery_dropped;
  c.recovery_micros = n.recovery_micros;
  c.full_events = n.full_events;
  c.manifest_errors = n.manifest_errors;
  c.copy_down_blocks = n.copy_down_blocks;
  c.copy_down_dropped = n.copy_down_dropped;
  c.promotions = n.promotions;
  return c;
}

kvtier_call_stats CallStatsOf(const kvtier::StoreStats& s) {
  kvtier_call_stats c{};
  c.struct_size = sizeof(c);
  c.lookups = s.lookups;
  c.lookup_blocks = s.lookup_blocks;
  c.lookup_hit_blocks = s.lookup_hit_blocks;
  c.loads = s.loads;
  c.load_blocks = s.load_blocks;
  c.load_hit_blocks = s.load_hit_blocks;
  c.saves = s.saves;
  c.save_blocks = s.save_blocks;
  c.save_new_blocks = s.save_new_blocks;
  c.save_refreshed_blocks = s.save_refreshed_blocks;
  c.invalid_calls = s.invalid_calls;
  c.save_trimmed_blocks = s.save_trimmed_blocks;
  c.trim_bytes_saved = s.trim_bytes_saved;
  c.save_upgraded_blocks = s.save_upgraded_blocks;
  c.host_memory_locked = s.host_memory_locked ? 1 : 0;
  c.erased_blocks = s.erased_blocks;
  c.leases_granted = s.leases_granted;
  c.leases_used = s.leases_used;
  c.leases_released = s.leases_released;
  c.leases_expired = s.leases_expired;
  c.leases_active = s.leases_active;
  c.transfers_started = s.transfers_started;
  c.transfers_cancelled = s.transfers_cancelled;
  c.shadow_sampled = s.shadow_sampled;
  c.shadow_expired = s.shadow_expired;
  c.lookup_capped_blocks = s.lookup_capped_blocks;
  return c;
}

}  // namespace

extern "C" {

kvtier_code kvtier_stats_get(const kvtier_store* store, kvtier_stats* out) {
  if (store == nullptr || out == nullptr) return KVTIER_INVALID_ARGUMENT;
  return CGuarded(nullptr, [&] {
    const kvtier::StoreStats s = store->store->Stats();
    const kvtier::TierStats& h = s.tier(kvtier::Tier::kHost);
    *out = kvtier_stats{};
    out->host_capacity_bytes = h.capacity_bytes;
    out->host_used_bytes = h.used_bytes;
    out->host_blocks = h.blocks;
    out->host_hits = h.hits;
    out->host_evictions = h.evictions;
    out->host_checksum_errors = h.checksum_errors;
    out->lookups = s.lookups;
    out->lookup_hit_blocks = s.lookup_hit_blocks;
    out->load_hit_blocks = s.load_hit_blocks;
    out->save_new_blocks = s.save_new_blocks;
    out->save_refreshed_blocks = s.save_refreshed_blocks;
    out->invalid_calls = s.invalid_calls;
    out->host_memory_locked = s.host_memory_locked ? 1 : 0;
    out->save_trimmed_blocks = s.save_trimmed_blocks;
    out->trim_bytes_saved = s.trim_bytes_saved;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_tier_stats_get(const kvtier_store* store, kvtier_tier tier,
                                  kvtier_tier_stats* out, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (out == nullptr) return CNull("out", err);
  const int t = RawEnum(tier);
  if (t < 0 || t >= kvtier::kNumTiers) {
    return CFail(
        kvtier::InvalidArgument("tier: " + std::to_string(t) + " is not a kvtier_tier"),
        err);
  }
  return CGuarded(err, [&] {
    // A caller built before the shadow counters gets the rest.
    return CopyOut("tier_stats", TierStatsOf(store->store->Stats().tiers[t]), out, err,
                   offsetof(kvtier_tier_stats, shadow_checked));
  });
}

kvtier_code kvtier_nvme_stats_get(const kvtier_store* store, kvtier_nvme_stats* out,
                                  kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    return CopyOut("nvme_stats", NvmeStatsOf(store->store->Stats().nvme), out, err);
  });
}

kvtier_code kvtier_call_stats_get(const kvtier_store* store, kvtier_call_stats* out,
                                  kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    // A caller built before the lease and transfer counters gets the rest.
    return CopyOut("call_stats", CallStatsOf(store->store->Stats()), out, err,
                   offsetof(kvtier_call_stats, erased_blocks));
  });
}

}  // extern "C"
