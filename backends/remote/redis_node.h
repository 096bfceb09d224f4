// RedisNode: one connection to one Redis server (a standalone server or one
// cluster node), used for pipelines: every command of a batch is sent, then
// every reply read, in one round trip. hiredis connects and authenticates
// (and runs the odd command whose reply is an array, CLUSTER SLOTS);
// pipelines go through resp_io.h, which moves values without copying them.
//
// Failures: a connection that fails (refused, reset, timed out) fails the
// rest of its pipeline with Unavailable and is closed; the next pipeline
// reconnects, but not before `reconnect_backoff_ms` after a failed connect,
// so a dead node costs one timeout per back-off, not one per block.
//
// Thread safety: thread-safe; pipelines on one node run one at a time (one
// connection per node, as the protocol's reply order requires).
#pragma once

#include <hiredis/hiredis.h>

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
#include "backends/remote/resp_io.h"
#include "kvtier/status.h"
#include "lib/mutex.h"

namespace kvtier::internal {

struct RedisEndpoint {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const RedisEndpoint&, const RedisEndpoint&) = default;
};

// "host:port" (IPv6 as "[addr]:port"); InvalidArgument naming `field`.
Result<RedisEndpoint> ParseEndpoint(std::string_view text, std::string_view field);

struct RedisConnectConfig {
  std::string username;  // empty: AUTH <password> (requirepass)
  std::string password;  // empty: no AUTH
  uint32_t connect_timeout_ms = 500;
  uint32_t io_timeout_ms = 2000;
  uint32_t reconnect_backoff_ms = 1000;
};

// One command: args[0] is its name. Borrowed until the pipeline returns.
struct RedisCommand {
  std::vector<std::string_view> args;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// One command's outcome: a reply (possibly a Redis error reply, e.g.
// MOVED), or a status when no reply came (connection failed).
struct RedisResult {
  Status status;
  RespReply reply;
};

class RedisNode {
 public:
  RedisNode(RedisEndpoint endpoint, const RedisConnectConfig& config);
  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  const RedisEndpoint& endpoint() const { return endpoint_; }
  // Sends `commands` in one pipeline; out[i] gets command i's outcome. A
  // bulk reply to command i lands in sinks[i] when it fits (sinks may be
  // empty: no sinks). `on_reply(i)`, if set, runs as soon as out[i] holds a
  // reply, while later replies are still arriving (not for commands failed
  // with the connection). REQUIRES: out.size() == commands.size(), sinks
  // empty or as long.
  using ReplyFn = std::function<void(size_t)>;
  void Pipeline(std::span<const RedisCommand* const> commands,
                std::span<const std::span<std::byte>> sinks, std::span<RedisResult> out,
                const ReplyFn& on_reply = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // One command through hiredis, for replies the pipeline does not read
  // (arrays: CLUSTER SLOTS).
  Status Command(const RedisCommand& command, ReplyPtr* reply) ABSL_LOCKS_EXCLUDED(mu_);
  // Connections opened after the first (each one follows a failure).
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

  Status ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status Authenticate(redisContext* c) const;
  void FailLocked(const Status& why, size_t from, std::span<RedisResult> out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RedisEndpoint endpoint_;
  const RedisConnectConfig config_;
  Mutex mu_;
  ContextPtr context_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RespReader> reader_ ABSL_GUARDED_BY(mu_);  // on context_'s socket
  bool connected_once_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point retry_after_ ABSL_GUARDED_BY(mu_){};
  std::atomic<uint64_t> reconnects_{0}, failures_{0};
};

}  // namespace kvtier::internal
