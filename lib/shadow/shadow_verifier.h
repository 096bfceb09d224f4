// ShadowVerifier: the store's side of shadow verification (kvtier/shadow.h).
// After a load it samples served blocks (options.shadow.sample_rate) and
// keeps a copy of the bytes the engine received; ShadowVerify compares the
// engine's recomputation with that copy by the serving tier's codec and
// counts checks and divergences per tier.
//
// Thread safety: thread-safe. Copies run outside the lock; the lock guards
// the table of samples (at most max_pending_blocks, oldest dropped first).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "kvtier/options.h"
#include "kvtier/shadow.h"
#include "kvtier/stats.h"
#include "kvtier/store.h"
#include "lib/log.h"
#include "lib/mutex.h"

namespace kvtier::internal {

// Checks options.shadow (the field named on error).
Status ValidateShadowOptions(const ShadowOptions& options);

// A block a load delivered: its index in the load's chain, the tier that
// served it, and which of its segments the load wrote (with sliding-window
// layers, a prefix may not need every layer of every block).
struct ServedBlock {
  size_t block = 0;
  Tier tier = Tier::kHost;
  std::vector<bool> written;  // per segment; empty = all
};

class ShadowVerifier {
 public:
  // `codecs`: each tier's codec, indexed by Tier.
  ShadowVerifier(const ShadowOptions& options, const KvLayout& layout,
                 std::array<Codec, kNumTiers> codecs, Logger logger);

  bool enabled() const { return threshold_ != 0; }

  // Samples among `served` (blocks of `chain` whose bytes are in `dst`,
  // block-major as a load's dst) and copies the sampled ones.
  void Capture(std::span<const BlockHash> chain, std::span<const Segment> dst,
               std::span<const ServedBlock> served);
  std::vector<size_t> Sampled(std::span<const BlockHash> chain) const;
  Result<ShadowResult> Verify(const BlockHash& block,
                              std::span<const Segment> recomputed);
  void ReportStats(StoreStats* stats) const;

 private:
  struct Sample {
    Tier tier = Tier::kHost;
    std::vector<std::byte> bytes;  // the written segments, in order
    std::vector<bool> written;     // per segment
    uint64_t sequence = 0;         // which capture took it (for aging out)
  };
  bool Draw(const BlockHash& hash);
  Sample Copy(std::span<const Segment> block, const ServedBlock& served) const;
  void Keep(const BlockHash& hash, Sample sample) ABSL_LOCKS_EXCLUDED(mu_);
  Status CheckRecomputed(std::span<const Segment> recomputed,
                         const std::vector<bool>& written) const;
  ShadowResult Compare(const Sample& sample, std::span<const Segment> recomputed) const;
  void Count(const ShadowResult& r, const BlockHash& block);

  const uint64_t threshold_;  // a draw below it samples; 0 = off
  const uint32_t max_pending_;
  const KvLayout layout_;
  const size_t segments_per_block_;
  const size_t segment_bytes_;
  const std::array<Codec, kNumTiers> codecs_;
  const Logger logger_;
  RateLimitedLog divergence_log_;
  std::atomic<uint64_t> draws_{0};

  mutable Mutex mu_;
  absl::flat_hash_map<BlockHash, Sample, std::hash<BlockHash>> samples_
      ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<BlockHash, uint64_t>> order_ ABSL_GUARDED_BY(mu_);  // oldest first
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<uint64_t> sampled_{0}, expired_{0};
  std::array<std::atomic<uint64_t>, kNumTiers> checked_{}, diverged_{};
};

}  // namespace kvtier::internal
