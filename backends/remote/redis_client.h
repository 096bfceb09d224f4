// RedisClient: pipelined commands to a standalone Redis server or a Redis
// Cluster, one connection per node (RedisNode).
//
// A cluster is reached through its slot map (CLUSTER SLOTS, asked of any
// known node at open and again after a MOVED, a failed node or CLUSTERDOWN,
// at most once per kRefreshInterval): a batch is split per node, each part
// sent as one pipeline; a command answered MOVED is sent again to the node
// named (and the slot remapped at once), one answered ASK goes to the node
// named behind ASKING, each at most kMaxRedirects times.
//
// Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "backends/remote/redis_node.h"
#include "backends/remote/redis_slots.h"
#include "kvtier/status.h"
#include "lib/mutex.h"

namespace kvtier::internal {

enum class RedisTopology : uint8_t { kStandalone = 0, kCluster = 1 };

struct RedisClientConfig {
  std::vector<RedisEndpoint> seeds;  // the server, or any nodes of the cluster
  RedisTopology topology = RedisTopology::kStandalone;
  RedisConnectConfig connect;
  RedisTlsConfig tls;  // off unless a CA is set; every node alike
};

struct RedisClientCounters {
  uint64_t moved = 0, asked = 0, slot_refreshes = 0, reconnects = 0, node_failures = 0;
  uint32_t nodes = 0;
};

class RedisClient {
 public:
  static constexpr int kMaxRedirects = 5;
  static constexpr std::chrono::milliseconds kRefreshInterval{200};

  // Connects to the seeds (a cluster: reads its slot map). A server that
  // does not answer is not an error (the tier serves misses until it does);
  // a refused password is (InvalidArgument naming options.remote.password),
  // and so is a TLS certificate that does not verify either way, or a TLS
  // file that cannot be loaded (each naming its options.remote.tls_* field).
  static Result<std::unique_ptr<RedisClient>> Open(RedisClientConfig config);

  // Runs every command (args[1] is its key) and returns one result each, in
  // order: replies as the server gave them, after following redirects. A
  // bulk reply to command i lands in sinks[i] when it fits (RedisNode).
  // `on_final(i, result)`, if set, runs once per command as soon as its result
  // is final (a redirect is not), possibly while other replies are still
  // arriving: a caller verifies a block while the next one is on the wire.
  using FinalFn = std::function<void(size_t, const RedisResult&)>;
  std::vector<RedisResult> Run(std::span<const RedisCommand> commands,
                               std::span<const std::span<std::byte>> sinks = {},
                               const FinalFn& on_final = {}) ABSL_LOCKS_EXCLUDED(mu_);

  RedisClientCounters counters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  RedisClient(RedisClientConfig config, std::unique_ptr<RedisConnector> connector);

  // The node serving `key`, or nullptr (a cluster slot nobody serves).
  RedisNode* Route(std::string_view key) ABSL_LOCKS_EXCLUDED(mu_);
  RedisNode* NodeAt(const RedisEndpoint& endpoint) ABSL_LOCKS_EXCLUDED(mu_);
  // Reads CLUSTER SLOTS from the first node that answers.
  Status RefreshSlots() ABSL_LOCKS_EXCLUDED(mu_);
  void MaybeRefreshSlots() ABSL_LOCKS_EXCLUDED(mu_);
  // Handles a MOVED/ASK/TRYAGAIN/CLUSTERDOWN reply: the node to retry on
  // (and whether behind ASKING), or nullptr to keep the reply.
  RedisNode* Redirect(const RespReply& reply, bool* asking, bool* refresh);
  // A reply the client will follow elsewhere (MOVED, ASK): not final.
  bool Redirected(const RedisResult& result) const;
  // Run's phases, per round (redis_client.cc).
  struct RunState;
  struct Group {
    RedisNode* node = nullptr;
    std::vector<size_t> members;  // command indexes
  };
  std::vector<Group> GroupByNode(RunState& run, std::span<const size_t> pending,
                                 bool* refresh) const;
  void Send(RunState& run, const Group& group) const;
  std::vector<size_t> FollowRedirects(RunState& run, std::span<const size_t> pending,
                                      bool* refresh);

  const RedisClientConfig config_;
  const std::unique_ptr<RedisConnector> connector_;  // every node borrows it
  mutable Mutex mu_;
  std::vector<std::unique_ptr<RedisNode>> nodes_ ABSL_GUARDED_BY(mu_);  // never shrinks
  SlotMap slots_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_refresh_ ABSL_GUARDED_BY(mu_){};
  std::atomic<uint64_t> moved_{0}, asked_{0}, refreshes_{0};
};

}  // namespace kvtier::internal
