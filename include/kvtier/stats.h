// StoreStats: counters a Store keeps; read them with Store::Stats().
// A snapshot: each counter is exact, the set is not one atomic cut.
#pragma once

#include <array>
#include <cstdint>

#include "kvtier/options.h"

namespace kvtier {

// Latency of calls: how many took at most each bound. counts[i] = calls in
// (kBoundsSeconds[i-1], kBoundsSeconds[i]]; the last count is above every
// bound. Rendered as a Prometheus histogram (kvtier/metrics.h).
struct LatencyHistogram {
  static constexpr std::array<double, 20> kBoundsSeconds = {
      1e-6,   2.5e-6, 5e-6, 1e-5,   2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
      2.5e-3, 5e-3,   1e-2, 2.5e-2, 5e-2,   0.1,  0.25, 0.5,    1.0,  2.5};
  std::array<uint64_t, kBoundsSeconds.size() + 1> counts{};
  uint64_t count = 0;
  double sum_seconds = 0;
};

struct TierStats {
  bool enabled = false;
  const char* name = "";        // "gpu", "host", "nvme"
  uint32_t position = 0;        // in the store's tier stack, fastest first
  uint64_t capacity_bytes = 0;  // as configured, rounded to whole slots
  uint64_t used_bytes = 0;      // slots in use * slot size; never > capacity
  uint64_t slot_bytes = 0;      // size of one slot (header + stored block)
  uint64_t blocks = 0;          // blocks held now
  uint64_t hits = 0;            // blocks served from this tier by Load
  uint64_t inserts = 0;         // blocks written into this tier
  uint64_t evictions = 0;       // blocks evicted to make room
  // Of those, evicted only because free pages did not make a slot of the
  // needed size (sliding-window layouts: a whole block needs a free frame).
  uint64_t placement_evictions = 0;
  uint64_t orphans_dropped = 0;  // evicted because their parent was gone
  uint64_t rejected = 0;         // saves not admitted (every slot busy)
  uint64_t checksum_errors = 0;  // slots that failed verification (served as misses)
  uint64_t io_errors = 0;        // failed reads or writes (served as misses)
  Codec codec = Codec::kRaw;     // how this tier stores blocks
  uint64_t bytes_written = 0;  // stored bytes written (after the codec, headers included)
  uint64_t bytes_read = 0;     // stored bytes read (before decode, headers included)
  // Engine bytes of the same blocks: before the codec on write, after it on
  // read. bytes_written / logical_bytes_written is the tier's compression
  // (about 0.52 for int8/fp8 over fp16 with head_dim 128; 1 + header for raw).
  uint64_t logical_bytes_written = 0;
  uint64_t logical_bytes_read = 0;
  // Shadow verification (Store::ShadowVerify) of blocks this tier served:
  // checked, and of those, different from the engine's recomputation
  // (beyond the codec's bound for 8-bit tiers; kvtier/shadow.h).
  uint64_t shadow_checked = 0;
  uint64_t shadow_diverged = 0;
  // Each Read/Write call and each batch of them (one sample per batch).
  LatencyHistogram read_latency;
  LatencyHistogram write_latency;
};

// What an operator needs to know about the NVMe tier beyond TierStats.
struct NvmeStats {
  bool io_uring = false;       // false (tier enabled): pread/pwrite fallback, serial I/O
  bool fixed_buffers = false;  // staging buffers registered (read_fixed/write_fixed);
                               // false when RLIMIT_MEMLOCK refused them
  bool direct_io = false;      // O_DIRECT; false = page cache (allow_buffered_io)
  bool wiped_at_open = false;  // wiped: another namespace, or a damaged manifest
  uint64_t recovered_blocks = 0;   // manifest entries indexed at Open
  uint64_t recovery_dropped = 0;   // manifest entries dropped at Open (bad or stale)
  uint64_t recovery_micros = 0;    // time Open spent rebuilding the index
  uint64_t full_events = 0;        // writes refused with ENOSPC (admission pauses 1 s)
  uint64_t manifest_errors = 0;    // RocksDB writes that failed (blocks then dropped)
  uint64_t copy_down_blocks = 0;   // blocks written down from host to NVMe
  uint64_t copy_down_dropped = 0;  // not written down: queue full, tier full or
                                   // refusing, or the host copy already gone
  uint64_t promotions = 0;         // NVMe hits copied up to host by Load or Prefetch
  uint64_t staged_writes = 0;      // blocks copied into a staging buffer to be written
                                   // (encoded by the tier, a keyed slot's tag, or a
                                   // source slot the device cannot DMA from); other
                                   // write-downs go straight from the host slot
};

// The shared remote tier (Redis) beyond TierStats: what it answered and
// what its connections went through. Its TierStats count verified reads
// (hits), checksum_errors (a damaged or forged value, or one without a valid
// keyed checksum) and io_errors (a node down, a timeout, an error reply).
struct RemoteStats {
  uint32_t nodes = 0;             // servers known (a cluster: its masters and more)
  uint64_t exists_calls = 0;      // pipelined EXISTS batches (Lookup, Load)
  uint64_t exists_blocks = 0;     // blocks asked about
  uint64_t exists_found = 0;      // of those, present
  uint64_t exists_cached = 0;     // answered from the short-lived answer cache
  uint64_t gone = 0;              // blocks read that were no longer there (misses)
  uint64_t forged = 0;            // values whose keyed checksum failed
  uint64_t write_blocks = 0;      // blocks written through to the tier
  uint64_t write_dropped = 0;     // not written: queue full, host copy gone, SET failed
  uint64_t reconnects = 0;        // connections reopened after a failure
  uint64_t node_failures = 0;     // failed connects and broken pipelines
  uint64_t moved = 0, asked = 0;  // cluster redirects followed
  uint64_t slot_refreshes = 0;    // CLUSTER SLOTS reads
};

struct StoreStats {
  std::array<TierStats, kNumTiers> tiers;  // indexed by Tier
  const TierStats& tier(Tier t) const { return tiers[static_cast<int>(t)]; }

  uint64_t lookups = 0;
  uint64_t lookup_blocks = 0;      // blocks asked about
  uint64_t lookup_hit_blocks = 0;  // blocks in the returned prefixes
  uint64_t loads = 0;
  uint64_t load_blocks = 0;      // blocks asked for
  uint64_t load_hit_blocks = 0;  // blocks delivered (verified; decoded if 8-bit)
  uint64_t saves = 0;
  uint64_t save_blocks = 0;            // blocks offered
  uint64_t save_new_blocks = 0;        // stored for the first time
  uint64_t save_refreshed_blocks = 0;  // already stored; only refreshed
  uint64_t invalid_calls = 0;          // calls rejected with InvalidArgument
  // Sliding-window trimming (Options::swa_checkpoint_blocks, layout.h):
  uint64_t save_trimmed_blocks = 0;   // blocks Save stored without their sliding layers
  uint64_t trim_bytes_saved = 0;      // engine bytes of those layers, not stored
  uint64_t save_upgraded_blocks = 0;  // trimmed blocks a later Save stored whole
                                      // (a chain extended past them)
  bool host_memory_locked = false;    // false: arena not page-locked (refused or off)
  // Lookup leases (Store::LookupAndLease).
  uint64_t leases_granted = 0;
  uint64_t leases_used = 0;      // ended by the load that used them
  uint64_t leases_released = 0;  // ended by ReleaseLease, or by Erase/Clear of a block
                                 // they pinned
  uint64_t leases_expired = 0;   // ended by expiry: their pins were given back
  uint64_t leases_active = 0;
  // Store::Erase and Store::Clear.
  uint64_t erased_blocks = 0;  // blocks removed from every tier that held them
  // Asynchronous transfers (BeginLoad, BeginSave).
  uint64_t transfers_started = 0;
  uint64_t transfers_cancelled = 0;  // Cancel() came before they finished
  // Copies between the engine's device memory and the store that failed
  // (the blocks were served as misses, or not saved).
  uint64_t device_copy_errors = 0;
  // Shadow verification (options.shadow): blocks sampled at load, and
  // samples dropped unverified (max_pending_blocks reached, or the same
  // block sampled again before it was verified).
  uint64_t shadow_sampled = 0;
  uint64_t shadow_expired = 0;
  // Load or recompute (options.load_cost): blocks Lookup could serve but did
  // not offer, because loading them was estimated slower than recomputing.
  uint64_t lookup_capped_blocks = 0;
  // Blocks whose device segments crossed the device boundary (loaded into
  // or saved from device memory), by the way they went: direct = one DMA
  // between the engine's memory and the block's raw slot in the registered
  // host arena (verified or checksummed there); staged = through a pinned
  // staging buffer and a CPU copy (a codec'd or non-memory tier, a host
  // arena the CUDA runtime would not register; the GPU tier only for a
  // block whose segments mix host and device memory).
  uint64_t device_blocks_direct = 0;
  uint64_t device_blocks_staged = 0;
  // Blocks loaded from the GPU tier into device memory device to device
  // (copied, or decoded on the device when 8-bit; the header checked on the
  // host, the payload not: see "Device memory" in kvtier/store.h).
  uint64_t device_blocks_d2d = 0;
  // Blocks saved from device memory into the GPU tier device to device
  // (copied, or encoded on the device when 8-bit; checksummed when they
  // first leave HBM for the host: see "Device memory" in kvtier/store.h).
  uint64_t device_blocks_d2d_saved = 0;
  NvmeStats nvme;      // all zero/false when the tier is off
  RemoteStats remote;  // all zero when the tier is off
  // Per call of Lookup, Load and Save.
  LatencyHistogram lookup_latency;
  LatencyHistogram load_latency;
  LatencyHistogram save_latency;
};

}  // namespace kvtier
