// RemoteTier: the shared tier on Redis or Redis Cluster. One key per block
// (<prefix>:<namespace id>:<block hash>), its value the stored block exactly
// as other tiers keep it (lib/stored_block.h), followed by an HMAC-SHA256
// tag when a keyed checksum is configured. Batches are pipelined per node
// (RedisClient). It holds no slots: every request names slot 0 and the
// block's hash is its address.
//
// Not the authority: a key that is gone is NotFound (a miss, counted as
// `gone`), a value that fails its checks Corruption (a miss, counted in
// checksum_errors), a node that fails IoError (a miss, io_errors).
//
// Thread safety: thread-safe (RedisClient serializes per node).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/common/keyed_checksum.h"
#include "backends/remote/redis_client.h"
#include "lib/log.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

struct RemoteTierConfig {
  RedisClientConfig client;
  std::string key_prefix;  // every key starts with it (namespace included)
  uint32_t ttl_seconds = 0;
  std::optional<KeyedChecksum> checksum;  // none: values carry no tag
  size_t stored_block_bytes = 0;          // a whole stored block (header included)
  BlockCodec codec;
  std::chrono::milliseconds exists_cache{0};
  Logger log;
};

class RemoteTier final : public TierBackend {
 public:
  static Result<std::unique_ptr<RemoteTier>> Open(RemoteTierConfig config);
  ~RemoteTier() override;

  // One pipelined EXISTS per unknown key (the answer cache first).
  std::vector<bool> Present(std::span<const BlockHash> hashes) override;
  void ReportStats(StoreStats* stats) const override;

  std::string KeyOf(const BlockHash& hash) const;

 protected:
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;
  void WriteBatchImpl(std::span<BlockIo> requests) override;
  void ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) override;

 private:
  RemoteTier(RemoteTierConfig config, std::unique_ptr<RedisClient> client);
  // Checks one GET reply (size, keyed checksum, then ReadStoredBlock) and
  // delivers it into r.segments (and r.stored_out). `sink`: where a bulk
  // reply landed when it fit.
  Status Deliver(const RedisResult& result, const std::string& key,
                 std::span<std::byte> sink, BlockIo& r);
  Status ToStatus(const RedisResult& result, const char* what) const;

  const RemoteTierConfig config_;
  const std::unique_ptr<RedisClient> client_;
  class AnswerCache;
  const std::unique_ptr<AnswerCache> cache_;
  std::atomic<uint64_t> exists_calls_{0}, exists_blocks_{0}, exists_found_{0},
      exists_cached_{0}, gone_{0}, forged_{0};
  RateLimitedLog failure_log_;
};

}  // namespace kvtier::internal
