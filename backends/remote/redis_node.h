// RedisNode: one connection to one Redis server (a standalone server or one
// cluster node), used for pipelines: every command of a batch is sent, then
// every reply read, in one round trip. The connector (redis_connector.h)
// opens the connection, plain or TLS; the node then authenticates (AUTH, or
// a PING when there is no password, so a server that refuses the
// connection says so at once); pipelines go through resp_io.h, which moves
// values without copying them.
//
// Failures: a connection that fails (refused, reset, timed out) fails the
// rest of its pipeline with Unavailable and is closed; the next pipeline
// reconnects, but not before `reconnect_backoff_ms` after a failed connect,
// so a dead node costs one timeout per back-off, not one per block.
//
// Thread safety: thread-safe; pipelines on one node run one at a time (one
// connection per node, as the protocol's reply order requires).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "backends/remote/redis_connector.h"
#include "backends/remote/resp_io.h"
#include "kvtier/status.h"
#include "lib/mutex.h"

namespace kvtier::internal {

// One command: args[0] is its name. Borrowed until the pipeline returns.
struct RedisCommand {
  std::vector<std::string_view> args;
};

// One command's outcome: a reply (possibly a Redis error reply, e.g.
// MOVED), or a status when no reply came (connection failed).
struct RedisResult {
  Status status;
  RespReply reply;
};

class RedisNode {
 public:
  // Borrows `connector` for the node's lifetime.
  RedisNode(RedisEndpoint endpoint, const RedisConnectConfig& config,
            const RedisConnector& connector);
  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  const RedisEndpoint& endpoint() const { return endpoint_; }
  // Sends `commands` in one pipeline; out[i] gets command i's outcome. A
  // bulk reply to command i lands in sinks[i] when it fits (sinks may be
  // empty: no sinks). `on_reply(i)`, if set, runs as soon as out[i] holds a
  // reply, while later replies are still arriving (not for commands failed
  // with the connection). A failed connect fails every command with its
  // status as it is: InvalidArgument for a refused password or certificate.
  // REQUIRES: out.size() == commands.size(), sinks empty or as long.
  using ReplyFn = std::function<void(size_t)>;
  void Pipeline(std::span<const RedisCommand* const> commands,
                std::span<const std::span<std::byte>> sinks, std::span<RedisResult> out,
                const ReplyFn& on_reply = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // Connections opened after the first (each one follows a failure).
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  Status ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AUTH, or PING without a password: the first round trip.
  Status Greet(RespTransport& transport, RespReader& reader) const;
  void FailLocked(const Status& why, size_t from, std::span<RedisResult> out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RedisEndpoint endpoint_;
  const RedisConnectConfig config_;
  const RedisConnector& connector_;
  Mutex mu_;
  std::unique_ptr<RespTransport> transport_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RespReader> reader_ ABSL_GUARDED_BY(mu_);  // on transport_
  bool connected_once_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point retry_after_ ABSL_GUARDED_BY(mu_){};
  std::atomic<uint64_t> reconnects_{0}, failures_{0};
};

}  // namespace kvtier::internal
