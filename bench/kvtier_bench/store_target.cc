// kvtier-bench's Store target: a real Store of the shape the run asks for.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/kvtier_bench/target.h"
#include "kvtier/config.h"
#include "lib/stored_block.h"

namespace kvtier::bench {

void Buffers::Free::operator()(std::byte* p) const { std::free(p); }

Buffers::Buffers(const KvLayout& layout, size_t blocks)
    : block_bytes_(layout.BlockBytes()),
      memory_(static_cast<std::byte*>(std::aligned_alloc(4096, blocks * block_bytes_))) {
  std::memset(memory_.get(), 0x5A, blocks * block_bytes_);
  const size_t seg = layout.SegmentBytes();
  for (size_t i = 0; i < blocks * layout.SegmentsPerBlock(); ++i) {
    segments_.push_back(Segment{memory_.get() + i * seg, seg});
  }
}

KvLayout BenchLayout(size_t block_bytes) {
  KvLayout l;
  l.num_layers = 32;
  l.kv_heads = 1;
  l.dtype = DType::kFp16;
  l.block_tokens = 16;
  l.head_dim = static_cast<uint32_t>(block_bytes / (32 * 2 * 16 * 2));
  return l;
}

namespace {

uint64_t HostSlotBytes(const KvLayout& l) {
  return (internal::StoredBlockBytes(l.BlockBytes()) + 63) / 64 * 64;
}

Options StoreOptions(const BenchConfig& c) {
  Options o;
  o.layout = BenchLayout(c.block_bytes);
  o.model_id = "kvtier-bench";
  o.host.lock_memory = false;
  o.host.codec = c.codec;
  // Room for a few chains per thread: a Save needs its whole chain in host.
  const uint64_t few_chains = uint64_t{4} * c.batch * c.threads * HostSlotBytes(o.layout);
  if (c.tier == TierChoice::kHost) {
    o.host.capacity_bytes = c.capacity_bytes;
    return o;
  }
  if (c.tier == TierChoice::kRemote) {  // host holds a few chains: Loads read Redis
    o.host.capacity_bytes = few_chains;
    o.remote.endpoints = c.redis;
    o.remote.kind = c.redis_kind;
    o.remote.checksum_key = c.checksum_key;
    o.remote.tls_ca_file = c.redis_tls.ca_file;
    o.remote.tls_cert_file = c.redis_tls.cert_file;
    o.remote.tls_key_file = c.redis_tls.key_file;
    o.remote.tls_server_name = c.redis_tls.server_name;
    o.remote.queue_blocks = 4 * c.batch * c.threads;
    o.remote.batch_blocks = c.batch;
    return o;
  }
  o.host.capacity_bytes = c.tier == TierChoice::kNvme
                              ? few_chains
                              : std::max(few_chains, c.capacity_bytes / 4);
  o.nvme.capacity_bytes = c.capacity_bytes;
  o.nvme.directories = {c.dir};
  o.nvme.queue_depth = c.qd;
  o.nvme.write_queue_blocks = 4 * std::max(c.qd, c.batch * c.threads);
  o.nvme.wipe_on_mismatch = true;
  o.nvme.codec = c.codec;
  o.nvme.checksum_key = c.checksum_key;
  o.nvme.checksum_key_file = c.checksum_key_file;
  o.nvme.create_checksum_key_file = !c.checksum_key_file.empty();
  return o;
}

class StorePendingLoad final : public PendingLoad {
 public:
  explicit StorePendingLoad(TransferHandle h) : handle_(std::move(h)) {}
  size_t Wait() override { return handle_.WaitLoad().blocks; }

 private:
  TransferHandle handle_;
};

class StoreTarget final : public Target {
 public:
  StoreTarget(const BenchConfig& c, std::unique_ptr<Store> store)
      : config_(c), store_(std::move(store)) {}

  const KvLayout& layout() const override { return store_->layout(); }

  uint64_t capacity_blocks() const override {
    if (config_.tier == TierChoice::kRemote) {  // Redis holds what it is given
      return config_.capacity_bytes / internal::StoredBlockBytes(layout().BlockBytes());
    }
    const StoreStats s = store_->Stats();
    const TierStats& t = s.tier(AskedTier());
    return t.slot_bytes == 0 ? 0 : t.capacity_bytes / t.slot_bytes;
  }

  bool Save(uint64_t id, Buffers& buf) override {
    return store_->Save(Chain(id), buf.segments()).ok();
  }

  size_t Load(uint64_t id, Buffers& buf) override {
    auto r = store_->Load(Chain(id), buf.segments());
    return r.ok() ? r->blocks : 0;
  }

  std::unique_ptr<PendingLoad> BeginLoad(uint64_t id, Buffers& buf) override {
    auto h = store_->BeginLoad(Chain(id), buf.segments());
    if (!h.ok()) return nullptr;
    return std::make_unique<StorePendingLoad>(std::move(h).value());
  }

  size_t Lookup(uint64_t id) override { return store_->Lookup(Chain(id)).blocks; }

  void Flush() override { store_->Flush(); }

  TargetCounters Counters() const override {
    const StoreStats s = store_->Stats();
    TargetCounters c;
    c.saved_blocks = config_.tier == TierChoice::kHost     ? s.tier(Tier::kHost).inserts
                     : config_.tier == TierChoice::kNvme   ? s.nvme.copy_down_blocks
                     : config_.tier == TierChoice::kRemote ? s.remote.write_blocks
                                                           : s.save_new_blocks;
    c.loaded_blocks = s.load_hit_blocks;
    for (int t = 0; t < kNumTiers; ++t) {
      c.hits[t] = s.tiers[t].hits;
      c.errors += s.tiers[t].io_errors + s.tiers[t].checksum_errors;
    }
    c.dropped = config_.tier == TierChoice::kRemote ? s.remote.write_dropped
                                                    : s.nvme.copy_down_dropped;
    c.recovered_blocks = s.nvme.recovered_blocks;
    c.recovery_micros = s.nvme.recovery_micros;
    return c;
  }

  std::string Describe() const override {
    const StoreStats s = store_->Stats();
    char line[200];
    if (config_.tier == TierChoice::kRemote) {
      std::snprintf(
          line, sizeof line,
          "store: host %llu MiB, remote %s (%u nodes), keyed checksum=%d",
          static_cast<unsigned long long>(s.tier(Tier::kHost).capacity_bytes >> 20),
          config_.redis_kind == RemoteKind::kRedisCluster ? "cluster" : "server",
          s.remote.nodes, !config_.checksum_key.empty());
      return line;
    }
    std::snprintf(
        line, sizeof line,
        "store: host %llu MiB, nvme %llu MiB, io_uring=%d fixed_buffers=%d "
        "direct=%d",
        static_cast<unsigned long long>(s.tier(Tier::kHost).capacity_bytes >> 20),
        static_cast<unsigned long long>(s.tier(Tier::kNvme).capacity_bytes >> 20),
        s.nvme.io_uring, s.nvme.fixed_buffers, s.nvme.direct_io);
    return line;
  }

 private:
  Tier AskedTier() const {
    return config_.tier == TierChoice::kHost     ? Tier::kHost
           : config_.tier == TierChoice::kRemote ? Tier::kRemote
                                                 : Tier::kNvme;
  }

  // Chain `id`: its own tokens, so chains share no prefix.
  std::vector<BlockHash> Chain(uint64_t id) const {
    std::vector<uint32_t> tokens(size_t{config_.batch} * store_->layout().block_tokens);
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = static_cast<uint32_t>(id * 1000003u + i);
    }
    return store_->hasher().Chain(tokens);
  }

  const BenchConfig config_;
  std::unique_ptr<Store> store_;
};

}  // namespace

Result<std::unique_ptr<Target>> OpenStoreTarget(const BenchConfig& c) {
  // --blocks N: the bytes for N blocks depend on the store's slot layout
  // (header, alignment, codec), so the tier is opened again with the room
  // it reported missing until it holds N.
  BenchConfig config = c;
  for (int attempt = 0;; ++attempt) {
    Options options = StoreOptions(config);
    if (!config.config_file.empty()) {
      if (Status s = ApplyConfigFile(config.config_file, &options); !s.ok()) return s;
    }
    auto opened = Store::Open(options);
    if (!opened.ok()) return opened.status();
    const StoreStats s = (*opened)->Stats();
    auto target = std::make_unique<StoreTarget>(config, std::move(opened).value());
    const uint64_t have = target->capacity_blocks();
    if (config.blocks == 0 || have >= config.blocks || attempt == 3 ||
        config.tier == TierChoice::kRemote) {
      return std::unique_ptr<Target>(std::move(target));
    }
    const Tier tier = config.tier == TierChoice::kHost ? Tier::kHost : Tier::kNvme;
    config.capacity_bytes += (config.blocks - have) * s.tier(tier).slot_bytes;
  }
}

}  // namespace kvtier::bench
