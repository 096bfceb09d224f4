// RunReal: the trace through a real Store: Lookup -> Load(prefix) ->
// Save(chain, first_block = hit), as an engine calls it, with the request's
// context (Trace::ContextOf) on the Load and the Save.
#include "bench/replay/real_mode.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "kvtier/store.h"
#include "lib/sliding_window.h"
#include "lib/stored_block.h"

namespace kvtier::replay {
namespace {

KvLayout RealLayout(uint32_t block_tokens) {
  KvLayout l;
  l.num_layers = 2;
  l.kv_heads = 1;
  l.head_dim = 16;
  l.dtype = DType::kFp16;
  l.block_tokens = block_tokens;
  return l;
}

// Engine-side buffers for up to `blocks` blocks, block-major segments.
class Buffers {
 public:
  Buffers(const KvLayout& layout, size_t blocks)
      : per_block_(layout.SegmentsPerBlock()),
        bytes_(layout.SegmentBytes()),
        window_(layout, 0),
        memory_(blocks * per_block_ * bytes_) {
    for (size_t i = 0; i < blocks * per_block_; ++i) {
      segments_.push_back(Segment{memory_.data() + i * bytes_, bytes_});
    }
    // The segment a check reads when a load needs a block trimmed: the
    // first full-attention one (none when every layer slides).
    for (size_t s = 0; s < per_block_; ++s) {
      if (!window_.IsSliding(s)) {
        kept_ = s;
        break;
      }
    }
  }
  std::span<const Segment> blocks(size_t first, size_t count) const {
    return std::span<const Segment>(segments_).subspan(first * per_block_,
                                                       count * per_block_);
  }
  // Synthetic content: the hash, then a pattern derived from it.
  void Fill(size_t b, const BlockHash& h) {
    for (size_t s = 0; s < per_block_; ++s) {
      auto* p = static_cast<unsigned char*>(segments_[b * per_block_ + s].data);
      std::memset(p, static_cast<int>(h.lo >> 56) ^ static_cast<int>(s), bytes_);
      std::memcpy(p, &h, std::min(sizeof h, bytes_));
    }
  }
  // The segment of block `b` a load of a `prefix`-block prefix writes and
  // Holds checks; nullopt when it writes none (an all-sliding block outside
  // the window keeps no bytes).
  std::optional<size_t> Checked(size_t b, size_t prefix) const {
    if (window_.NeedForm(b, prefix) == internal::BlockForm::kWhole) return 0;
    return kept_;
  }
  // Poisons the checked segments of a `prefix`-block load, so a check can
  // only pass on bytes this load wrote.
  void Poison(size_t prefix) {
    for (size_t b = 0; b < prefix; ++b) {
      if (const auto s = Checked(b, prefix)) {
        std::memset(segments_[b * per_block_ + *s].data, 0xA5,
                    std::min(sizeof(BlockHash), bytes_));
      }
    }
  }
  bool Holds(size_t b, size_t prefix, const BlockHash& h) const {
    const auto s = Checked(b, prefix);
    if (!s) return true;
    return std::memcmp(segments_[b * per_block_ + *s].data, &h,
                       std::min(sizeof h, bytes_)) == 0;
  }

 private:
  size_t per_block_;
  size_t bytes_;
  internal::SlidingWindow window_;
  std::optional<size_t> kept_;
  std::vector<unsigned char> memory_;
  std::vector<Segment> segments_;
};

size_t LongestChain(const Trace& trace) {
  size_t longest = 1;
  for (size_t q = 0; q < trace.requests(); ++q)
    longest = std::max(longest, trace.chain(q).size());
  return longest;
}

}  // namespace

const char* WriteDownWaitName(WriteDownWait wait) {
  return wait == WriteDownWait::kEachRequest ? "settle" : "overlap";
}

std::optional<WriteDownWait> ParseWriteDownWait(std::string_view name) {
  if (name == "settle") return WriteDownWait::kEachRequest;
  if (name == "overlap") return WriteDownWait::kAtEnd;
  return std::nullopt;
}

uint64_t RealBlockBytes(uint32_t block_tokens) {
  return RealLayout(block_tokens).BlockBytes();
}

std::optional<KvLayout> RealTrimLayout(uint32_t window_tokens, double sliding_share) {
  constexpr uint32_t kLayers = 6;
  const double sliding = sliding_share * kLayers;
  const auto count = static_cast<uint32_t>(std::lround(sliding));
  if (std::abs(sliding - count) > 0.001 * kLayers || count > kLayers) return std::nullopt;
  KvLayout l = RealLayout(16);
  l.num_layers = kLayers;
  l.layer_windows.assign(kLayers, 0);
  for (uint32_t i = 0; i < count; ++i) l.layer_windows[i] = window_tokens;
  return l;
}

SimTrim RealSimTrim(const KvLayout& layout, uint32_t checkpoint_blocks) {
  const internal::FormBytes bytes = internal::StoredBytesByForm(layout, Codec::kRaw);
  SimTrim t;
  t.window_blocks = internal::SlidingWindow(layout, 0).window_blocks();
  t.checkpoint_blocks = checkpoint_blocks;
  t.whole_bytes = bytes.whole;
  t.trimmed_bytes = bytes.trimmed;
  t.align = 64;  // the host tier's slot alignment (backends/host/host_tier.cc)
  return t;
}

Status RunReal(const Trace& trace, const RealConfig& config, Report& r,
               const ProgressFn& progress) {
  Options o;
  o.layout = config.layout.value_or(RealLayout(trace.block_tokens));
  o.layout.block_tokens = trace.block_tokens;
  o.swa_checkpoint_blocks = config.checkpoint_blocks;
  o.model_id = "kvtier-replay";
  const uint64_t slot =
      (internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64;
  o.host.capacity_bytes = config.host_blocks * slot;
  o.host.lock_memory = false;  // a replay needs no DMA
  o.nvme.capacity_bytes = config.nvme_bytes;
  if (!config.dir.empty()) o.nvme.directories = {config.dir};
  o.nvme.checksum_key_file = config.checksum_key_file;
  o.nvme.create_checksum_key_file = !config.checksum_key_file.empty();
  o.remote.endpoints = config.redis;
  o.remote.kind = config.redis_kind;
  o.eviction = config.policy;
  Result<std::unique_ptr<Store>> opened = Store::Open(o);
  if (!opened.ok()) return opened.status();
  Store& store = **opened;

  Buffers buffers(o.layout, LongestChain(trace));
  uint64_t corrupt = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t q = 0; q < trace.requests(); ++q) {
    const std::span<const BlockHash> chain = trace.chain(q);
    const size_t hit = store.Lookup(chain).blocks;
    const RequestContext context = trace.ContextOf(q);
    buffers.Poison(hit);
    Result<LoadResult> loaded =
        store.Load(chain.first(hit), buffers.blocks(0, hit), LoadOptions{0, context});
    if (!loaded.ok()) return loaded.status();
    const size_t k = loaded->blocks;
    for (size_t b = 0; b < k; ++b) corrupt += !buffers.Holds(b, k, chain[b]);
    r.sim.hit_blocks += k;
    if (config.record_hits) r.sim.hit_lengths.push_back(static_cast<uint32_t>(k));
    for (size_t b = k; b < chain.size(); ++b) buffers.Fill(b, chain[b]);
    Result<SaveResult> saved =
        store.Save(chain, buffers.blocks(k, chain.size() - k), k, SaveOptions{context});
    if (!saved.ok()) return saved.status();
    if (config.wait == WriteDownWait::kEachRequest) store.Flush();
    if (progress && (q + 1) % 1024 == 0) progress(q + 1, trace.requests());
  }
  store.Flush();  // the write-downs still queued count as the run's
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (corrupt > 0) {
    return Internal(std::to_string(corrupt) + " loaded blocks did not hold their bytes");
  }
  const StoreStats stats = store.Stats();
  // The NVMe tier is sized in bytes; the report and the bounds count blocks.
  const TierStats& nvme = stats.tier(Tier::kNvme);
  r.config.nvme_blocks = nvme.enabled ? nvme.capacity_bytes / nvme.slot_bytes : 0;
  r.sim.requests = trace.requests();
  r.sim.references = trace.references;
  r.sim.input_tokens = trace.total_input_tokens();
  r.sim.hit_tokens = r.sim.hit_blocks * trace.block_tokens;
  uint64_t bytes = 0;
  for (int t = 0; t < kNumTiers; ++t) {
    const TierStats& s = stats.tiers[t];
    r.sim.tiers[t] = TierCounts{
        s.hits,    s.inserts, s.evictions, s.placement_evictions, s.orphans_dropped,
        s.rejected};
    r.sim.tiers[t].inserted_whole = s.inserts;
    bytes += s.bytes_read + s.bytes_written;
  }
  // Save's trimming counters are the host tier's (Save writes host).
  TierCounts& host = r.sim.tiers[static_cast<int>(Tier::kHost)];
  host.inserted_trimmed = stats.save_trimmed_blocks;
  host.inserted_whole = host.inserts - std::min(host.inserts, stats.save_trimmed_blocks);
  host.upgrades = stats.save_upgraded_blocks;
  r.real_gbps = seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0;
  r.real_requests_per_s =
      seconds > 0 ? static_cast<double>(trace.requests()) / seconds : 0;
  return Status::Ok();
}

}  // namespace kvtier::replay
