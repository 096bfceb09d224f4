// RemoteTier: keys, pipelined SET/GET/EXISTS batches, value checks, the
// EXISTS answer cache.
#include "backends/remote/remote_tier.h"

#include <cstdio>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

std::string_view View(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

// Recent EXISTS answers (and what this store wrote or found gone), trusted
// for `ttl`. Bounded: cleared when it reaches kMaxEntries.
class RemoteTier::AnswerCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 16;
  explicit AnswerCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  std::optional<bool> Get(const BlockHash& h) {
    if (ttl_.count() == 0) return std::nullopt;
    MutexLock lock(&mu_);
    const auto it = answers_.find(h);
    if (it == answers_.end() || it->second.expiry < Clock::now()) return std::nullopt;
    return it->second.present;
  }
  void Put(const BlockHash& h, bool present) {
    if (ttl_.count() == 0) return;
    MutexLock lock(&mu_);
    if (answers_.size() >= kMaxEntries) answers_.clear();
    answers_[h] = Answer{present, Clock::now() + ttl_};
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Answer {
    bool present = false;
    Clock::time_point expiry;
  };
  struct HashOf {
    size_t operator()(const BlockHash& h) const { return absl::HashOf(h.lo, h.hi); }
  };
  const std::chrono::milliseconds ttl_;
  Mutex mu_;
  absl::flat_hash_map<BlockHash, Answer, HashOf> answers_ ABSL_GUARDED_BY(mu_);
};

Result<std::unique_ptr<RemoteTier>> RemoteTier::Open(RemoteTierConfig config) {
  Result<std::unique_ptr<RedisClient>> client = RedisClient::Open(config.client);
  if (!client.ok()) return client.status();
  return std::unique_ptr<RemoteTier>(
      new RemoteTier(std::move(config), std::move(client).value()));
}

RemoteTier::RemoteTier(RemoteTierConfig config, std::unique_ptr<RedisClient> client)
    : TierBackend(Tier::kRemote, TierGeometry::Uniform(1, config.stored_block_bytes),
                  config.codec),
      config_(std::move(config)),
      client_(std::move(client)),
      cache_(std::make_unique<AnswerCache>(config_.exists_cache)) {
  set_logger(config_.log);
}

RemoteTier::~RemoteTier() = default;

std::string RemoteTier::KeyOf(const BlockHash& hash) const {
  return config_.key_prefix + hash.ToHex();
}

Status RemoteTier::ToStatus(const RedisResult& result, const char* what) const {
  if (!result.status.ok())
    return IoError(std::string("remote ") + what + ": " + result.status.message());
  if (result.reply.kind == RespReply::Kind::kError) {
    return IoError(std::string("remote ") + what + ": " + result.reply.text);
  }
  return Status::Ok();
}

std::vector<bool> RemoteTier::Present(std::span<const BlockHash> hashes) {
  std::vector<bool> present(hashes.size());
  std::vector<std::string> keys;
  std::vector<RedisCommand> commands;
  std::vector<size_t> asked;
  keys.reserve(hashes.size());
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (std::optional<bool> known = cache_->Get(hashes[i])) {
      present[i] = *known;
      exists_cached_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    keys.push_back(KeyOf(hashes[i]));
    asked.push_back(i);
  }
  for (const std::string& k : keys) commands.push_back(RedisCommand{{"EXISTS", k}});
  if (commands.empty()) return present;
  exists_calls_.fetch_add(1, std::memory_order_relaxed);
  exists_blocks_.fetch_add(commands.size(), std::memory_order_relaxed);
  const std::vector<RedisResult> results = client_->Run(commands);
  for (size_t j = 0; j < asked.size(); ++j) {
    const RedisResult& r = results[j];
    if (Status s = ToStatus(r, "EXISTS"); !s.ok()) {
      failure_log_.Log(config_.log, LogLevel::kWarning, s.ToString() + " (a miss)");
      continue;
    }
    const bool found = r.reply.kind == RespReply::Kind::kInteger && r.reply.integer > 0;
    present[asked[j]] = found;
    cache_->Put(hashes[asked[j]], found);
    if (found) exists_found_.fetch_add(1, std::memory_order_relaxed);
  }
  return present;
}

void RemoteTier::WriteBatchImpl(std::span<BlockIo> requests) {
  const size_t tag_bytes = config_.checksum ? KeyedChecksum::kTagBytes : 0;
  const std::string ttl = std::to_string(config_.ttl_seconds);
  std::vector<std::string> keys(requests.size());
  std::vector<std::vector<std::byte>> values(requests.size());
  std::vector<RedisCommand> commands;
  std::vector<size_t> sent;
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    keys[i] = KeyOf(r.hash);
    std::span<const std::byte> value = r.stored;
    if (value.empty() || tag_bytes > 0) {
      // Encoded here, or the verbatim block followed by its tag.
      const size_t stored =
          r.stored.empty()
              ? StoredBlockBytes(StoredPayloadBytes(block_codec(), r.segments))
              : r.stored.size();
      values[i].resize(stored + tag_bytes);
      const std::span<std::byte> block(values[i].data(), stored);
      if (r.stored.empty()) {
        WriteStoredBlock(r.hash, block_codec(), r.segments, block);
      } else {
        std::memcpy(block.data(), r.stored.data(), stored);
      }
      if (config_.checksum) {
        const KeyedChecksum::Tag tag = config_.checksum->Compute(keys[i], block);
        std::memcpy(values[i].data() + stored, tag.data(), tag_bytes);
      }
      value = values[i];
    }
    RedisCommand c{{"SET", keys[i], View(value)}};
    if (config_.ttl_seconds > 0) {
      c.args.push_back("EX");
      c.args.push_back(ttl);
    }
    commands.push_back(std::move(c));
    sent.push_back(i);
  }
  if (commands.empty()) return;
  const std::vector<RedisResult> results = client_->Run(commands);
  for (size_t j = 0; j < sent.size(); ++j) {
    BlockIo& r = requests[sent[j]];
    r.status = ToStatus(results[j], "SET");
    if (r.status.ok()) cache_->Put(r.hash, true);
  }
}

Status RemoteTier::Deliver(const RedisResult& result, const std::string& key,
                           std::span<std::byte> sink, BlockIo& r) {
  if (Status s = ToStatus(result, "GET"); !s.ok()) return s;
  const RespReply& reply = result.reply;
  if (reply.kind == RespReply::Kind::kNil) {
    gone_.fetch_add(1, std::memory_order_relaxed);
    cache_->Put(r.hash, false);
    return NotFound("remote: block " + r.hash.ToHex() + " is gone");
  }
  const size_t tag_bytes = config_.checksum ? KeyedChecksum::kTagBytes : 0;
  const size_t stored = StoredBlockBytes(StoredPayloadBytes(block_codec(), r.segments));
  const std::span<const std::byte> value =
      reply.in_sink ? std::span<const std::byte>(sink.first(reply.bulk_bytes))
                    : std::as_bytes(std::span(reply.text));
  if (reply.kind != RespReply::Kind::kBulk || value.size() != stored + tag_bytes) {
    return Corruption("remote: the value of " + key + " has " +
                      std::to_string(value.size()) + " bytes; a block takes " +
                      std::to_string(stored + tag_bytes));
  }
  const std::span<const std::byte> block = value.first(stored);
  if (config_.checksum && !config_.checksum->Verify(key, block, value.last(tag_bytes))) {
    forged_.fetch_add(1, std::memory_order_relaxed);
    return Corruption("remote: the value of " + key +
                      " fails its keyed checksum (written without the key?)");
  }
  if (Status s = ReadStoredBlock(r.hash, block_codec(), block, r.segments); !s.ok()) {
    return s;
  }
  // A value that landed in the promotion slot is there already.
  if (!r.stored_out.empty() && r.stored_out.data() != block.data()) {
    std::memcpy(r.stored_out.data(), block.data(), stored);
  }
  return Status::Ok();
}

void RemoteTier::ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) {
  const size_t tag_bytes = config_.checksum ? KeyedChecksum::kTagBytes : 0;
  std::vector<std::string> keys(requests.size());
  std::vector<RedisCommand> commands;
  std::vector<size_t> sent;
  // Each value lands where it is going: the promotion slot when it has
  // room for the value (tag included), else scratch.
  std::vector<std::span<std::byte>> sinks;
  std::vector<size_t> scratch_of;
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    keys[i] = KeyOf(r.hash);
    commands.push_back(RedisCommand{{"GET", keys[i]}});
    sent.push_back(i);
    const size_t value =
        StoredBlockBytes(StoredPayloadBytes(block_codec(), r.segments)) + tag_bytes;
    sinks.push_back(r.stored_out.size() >= value ? r.stored_out.first(value)
                                                 : std::span<std::byte>());
    if (sinks.back().empty()) scratch_of.push_back(sinks.size() - 1);
  }
  size_t scratch_bytes = 0;
  for (const size_t j : scratch_of) {
    scratch_bytes +=
        StoredBlockBytes(StoredPayloadBytes(block_codec(), requests[sent[j]].segments)) +
        tag_bytes;
  }
  std::unique_ptr<std::byte[]> scratch(scratch_bytes > 0 ? new std::byte[scratch_bytes]
                                                         : nullptr);
  size_t at = 0;
  for (const size_t j : scratch_of) {
    const size_t n =
        StoredBlockBytes(StoredPayloadBytes(block_codec(), requests[sent[j]].segments)) +
        tag_bytes;
    sinks[j] = std::span<std::byte>(scratch.get() + at, n);
    at += n;
  }
  for (size_t i = 0; on_done && i < requests.size(); ++i) {
    if (!requests[i].status.ok()) on_done(i);  // failed before it was asked
  }
  if (commands.empty()) return;
  // Each block is verified and decoded as soon as it arrived, while the
  // next ones are still on the wire.
  client_->Run(commands, sinks, [&](size_t j, const RedisResult& result) {
    BlockIo& r = requests[sent[j]];
    r.status = Deliver(result, keys[sent[j]], sinks[j], r);
    if (on_done) on_done(sent[j]);
  });
}

Status RemoteTier::WriteImpl(uint32_t slot, const BlockHash& hash,
                             std::span<const Segment> src) {
  BlockIo io{slot, hash, nullptr, src, Status::Ok(), {}};
  WriteBatchImpl({&io, 1});
  return io.status;
}

Status RemoteTier::ReadImpl(uint32_t slot, const BlockHash& hash,
                            std::span<const Segment> dst) {
  BlockIo io{slot, hash, nullptr, dst, Status::Ok(), {}};
  ReadBatchImpl({&io, 1}, {});
  return io.status;
}

void RemoteTier::ReportStats(StoreStats* stats) const {
  TierBackend::ReportStats(stats);
  RemoteStats& s = stats->remote;
  const RedisClientCounters c = client_->counters();
  s.nodes = c.nodes;
  s.reconnects = c.reconnects;
  s.node_failures = c.node_failures;
  s.moved = c.moved;
  s.asked = c.asked;
  s.slot_refreshes = c.slot_refreshes;
  s.exists_calls = exists_calls_.load(std::memory_order_relaxed);
  s.exists_blocks = exists_blocks_.load(std::memory_order_relaxed);
  s.exists_found = exists_found_.load(std::memory_order_relaxed);
  s.exists_cached = exists_cached_.load(std::memory_order_relaxed);
  s.gone = gone_.load(std::memory_order_relaxed);
  s.forged = forged_.load(std::memory_order_relaxed);
}

}  // namespace kvtier::internal
