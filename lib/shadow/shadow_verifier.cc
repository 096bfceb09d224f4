// Sampling is a draw per served block from a counter mixed with the block's
// hash (SplitMix64): cheap, lock-free, and the same sequence of loads samples
// the same blocks, so tests can count. A sample is the engine bytes the load
// delivered (after decode), copied from the load's destination right after
// the load committed: what the engine received, whatever it does with its
// buffer afterwards.
#include "lib/shadow/shadow_verifier.h"

#include <cmath>
#include <cstring>
#include <string>

#include "lib/shadow/kv_divergence.h"

namespace kvtier::internal {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Draws below it sample; rate 1 samples every draw.
uint64_t Threshold(double rate) {
  if (!(rate > 0)) return 0;
  if (rate >= 1) return UINT64_MAX;
  return static_cast<uint64_t>(std::ldexp(rate, 64));
}

double BoundOf(Codec codec) {
  switch (codec) {
    case Codec::kInt8:
      return kShadowBoundInt8;
    case Codec::kFp8:
      return kShadowBoundFp8;
    case Codec::kRaw:
      break;
  }
  return 0;
}

std::span<const std::byte> Bytes(const Segment& s) {
  return {static_cast<const std::byte*>(s.data), s.bytes};
}

}  // namespace

Status ValidateShadowOptions(const ShadowOptions& o) {
  if (!(o.sample_rate >= 0 && o.sample_rate <= 1)) {  // NaN fails too
    return InvalidArgument(
        "options.shadow.sample_rate: " + std::to_string(o.sample_rate) +
        ", must be a share of loaded blocks in 0..1");
  }
  if (o.max_pending_blocks == 0 || o.max_pending_blocks > 65536) {
    return InvalidArgument("options.shadow.max_pending_blocks: " +
                           std::to_string(o.max_pending_blocks) + ", must be 1..65536");
  }
  return Status::Ok();
}

ShadowVerifier::ShadowVerifier(const ShadowOptions& options, const KvLayout& layout,
                               std::array<Codec, kNumTiers> codecs, Logger logger)
    : threshold_(Threshold(options.sample_rate)),
      max_pending_(options.max_pending_blocks),
      layout_(layout),
      segments_per_block_(layout.SegmentsPerBlock()),
      segment_bytes_(layout.SegmentBytes()),
      codecs_(codecs),
      logger_(logger) {}

bool ShadowVerifier::Draw(const BlockHash& hash) {
  const uint64_t n = draws_.fetch_add(1, std::memory_order_relaxed);
  return SplitMix64(n ^ hash.lo ^ SplitMix64(hash.hi)) < threshold_ ||
         threshold_ == UINT64_MAX;
}

ShadowVerifier::Sample ShadowVerifier::Copy(std::span<const Segment> block,
                                            const ServedBlock& served) const {
  Sample s;
  s.tier = served.tier;
  s.written = served.written.empty() ? std::vector<bool>(segments_per_block_, true)
                                     : served.written;
  for (size_t i = 0; i < block.size(); ++i) {
    if (!s.written[i]) continue;
    const std::span<const std::byte> b = Bytes(block[i]);
    s.bytes.insert(s.bytes.end(), b.begin(), b.end());
  }
  return s;
}

void ShadowVerifier::Capture(std::span<const BlockHash> chain,
                             std::span<const Segment> dst,
                             std::span<const ServedBlock> served) {
  if (!enabled()) return;
  for (const ServedBlock& b : served) {
    if (!Draw(chain[b.block])) continue;
    Keep(chain[b.block],
         Copy(dst.subspan(b.block * segments_per_block_, segments_per_block_), b));
  }
}

void ShadowVerifier::Keep(const BlockHash& hash, Sample sample) {
  sampled_.fetch_add(1, std::memory_order_relaxed);
  MutexLock lock(&mu_);
  sample.sequence = next_sequence_++;
  order_.emplace_back(hash, sample.sequence);
  auto [it, fresh] = samples_.insert_or_assign(hash, std::move(sample));
  if (!fresh) expired_.fetch_add(1, std::memory_order_relaxed);  // sampled again
  while (samples_.size() > max_pending_ && !order_.empty()) {
    const auto [oldest, sequence] = order_.front();
    order_.pop_front();
    auto found = samples_.find(oldest);
    if (found != samples_.end() && found->second.sequence == sequence) {
      samples_.erase(found);
      expired_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Entries of verified or re-sampled blocks are stale: keep the queue bounded.
  while (!order_.empty() && order_.size() > 2 * static_cast<size_t>(max_pending_)) {
    const auto [oldest, sequence] = order_.front();
    auto found = samples_.find(oldest);
    if (found != samples_.end() && found->second.sequence == sequence) break;
    order_.pop_front();
  }
}

std::vector<size_t> ShadowVerifier::Sampled(std::span<const BlockHash> chain) const {
  std::vector<size_t> out;
  if (!enabled()) return out;
  ReaderMutexLock lock(&mu_);
  for (size_t i = 0; i < chain.size(); ++i) {
    if (samples_.contains(chain[i])) out.push_back(i);
  }
  return out;
}

Status ShadowVerifier::CheckRecomputed(std::span<const Segment> recomputed,
                                       const std::vector<bool>& written) const {
  if (recomputed.size() != segments_per_block_) {
    return InvalidArgument("shadow.recomputed: " + std::to_string(recomputed.size()) +
                           " segments; a block has " +
                           std::to_string(segments_per_block_));
  }
  for (size_t i = 0; i < recomputed.size(); ++i) {
    const Segment& s = recomputed[i];
    const std::string where = "shadow.recomputed[" + std::to_string(i) + "]";
    if (s.data == nullptr) {
      if (!written[i]) continue;  // not delivered, not compared
      return InvalidArgument(where + ".data: null");
    }
    if (s.bytes != segment_bytes_) {
      return InvalidArgument(where + ".bytes: " + std::to_string(s.bytes) +
                             ", the layout's segment is " +
                             std::to_string(segment_bytes_) + " bytes");
    }
    if (s.kind != MemoryKind::kHost) {
      return InvalidArgument(where +
                             ".kind: must be host memory (copy the recomputation "
                             "out of the device first)");
    }
  }
  return Status::Ok();
}

ShadowResult ShadowVerifier::Compare(const Sample& sample,
                                     std::span<const Segment> recomputed) const {
  DivergenceMeter meter(layout_.dtype);
  size_t offset = 0;
  for (size_t i = 0; i < recomputed.size(); ++i) {
    if (!sample.written[i]) continue;
    meter.Add({sample.bytes.data() + offset, segment_bytes_}, Bytes(recomputed[i]));
    offset += segment_bytes_;
  }
  const Divergence d = meter.Result();
  ShadowResult r;
  r.tier = sample.tier;
  r.codec = codecs_[static_cast<int>(sample.tier)];
  r.bound = BoundOf(r.codec);
  r.differing_bytes = d.differing_bytes;
  r.relative_rms = d.relative_rms;
  r.diverged =
      r.codec == Codec::kRaw ? d.differing_bytes != 0 : !(d.relative_rms <= r.bound);
  return r;
}

void ShadowVerifier::Count(const ShadowResult& r, const BlockHash& block) {
  const int t = static_cast<int>(r.tier);
  checked_[t].fetch_add(1, std::memory_order_relaxed);
  if (!r.diverged) return;
  diverged_[t].fetch_add(1, std::memory_order_relaxed);
  divergence_log_.Log(
      logger_, LogLevel::kWarning,
      "shadow verification: block " + block.ToHex() + " served from the " +
          TierName(r.tier) + " tier differs from the engine's recomputation: " +
          std::to_string(r.differing_bytes) + " bytes differ, relative RMS error " +
          std::to_string(r.relative_rms) +
          (r.codec == Codec::kRaw ? std::string(" (raw: must be exact)")
                                  : " (bound " + std::to_string(r.bound) + ")"));
}

Result<ShadowResult> ShadowVerifier::Verify(const BlockHash& block,
                                            std::span<const Segment> recomputed) {
  Sample sample;
  {
    MutexLock lock(&mu_);
    auto found = samples_.find(block);
    if (found == samples_.end()) {
      return NotFound("shadow: block " + block.ToHex() +
                      " is not sampled (not served sampled, verified already, or aged "
                      "out; see ShadowSampled)");
    }
    if (Status s = CheckRecomputed(recomputed, found->second.written); !s.ok()) return s;
    sample = std::move(found->second);
    samples_.erase(found);
  }
  const ShadowResult r = Compare(sample, recomputed);
  Count(r, block);
  return r;
}

void ShadowVerifier::ReportStats(StoreStats* stats) const {
  stats->shadow_sampled = sampled_.load(std::memory_order_relaxed);
  stats->shadow_expired = expired_.load(std::memory_order_relaxed);
  for (int t = 0; t < kNumTiers; ++t) {
    stats->tiers[t].shadow_checked = checked_[t].load(std::memory_order_relaxed);
    stats->tiers[t].shadow_diverged = diverged_[t].load(std::memory_order_relaxed);
  }
}

}  // namespace kvtier::internal
