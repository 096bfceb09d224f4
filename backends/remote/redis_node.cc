// RedisNode: connect, authenticate, pipeline, fail and reconnect.
#include "backends/remote/redis_node.h"

namespace kvtier::internal {

RedisNode::RedisNode(RedisEndpoint endpoint, const RedisConnectConfig& config,
                     const RedisConnector& connector)
    : endpoint_(std::move(endpoint)), config_(config), connector_(connector) {}

Status RedisNode::Greet(RespTransport& transport, RespReader& reader) const {
  RedisCommand greeting{{"PING"}};
  if (!config_.password.empty()) {
    greeting.args = {"AUTH", config_.password};
    if (!config_.username.empty())
      greeting.args = {"AUTH", config_.username, config_.password};
  }
  const std::vector<std::string_view>* args[] = {&greeting.args};
  RespReply reply;
  Status s = WriteCommands(transport, args);
  if (s.ok()) s = reader.Next({}, &reply);
  if (!s.ok()) {
    // A refused certificate keeps its InvalidArgument; the rest is Unavailable.
    if (s.code() != StatusCode::kUnavailable) return s;
    return Unavailable("redis " + endpoint_.ToString() + ": " +
                       std::string(greeting.args[0]) + ": " + s.message());
  }
  if (reply.kind == RespReply::Kind::kError) {
    if (!config_.password.empty() || reply.text.starts_with("NOAUTH")) {
      return InvalidArgument("options.remote.password: redis " + endpoint_.ToString() +
                             " refused " + std::string(greeting.args[0]) + ": " +
                             reply.text);
    }
    return Unavailable("redis " + endpoint_.ToString() + ": PING: " + reply.text);
  }
  return Status::Ok();
}

Status RedisNode::ConnectLocked() {
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_after_) {
    return Unavailable("redis " + endpoint_.ToString() + ": down, retrying later");
  }
  Result<std::unique_ptr<RespTransport>> transport =
      connector_.Connect(endpoint_, config_);
  Status s = transport.status();
  std::unique_ptr<RespReader> reader;
  if (s.ok()) {
    reader = std::make_unique<RespReader>(**transport);
    s = Greet(**transport, *reader);
  }
  if (!s.ok()) {
    retry_after_ = now + std::chrono::milliseconds(config_.reconnect_backoff_ms);
    failures_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (connected_once_) reconnects_.fetch_add(1, std::memory_order_relaxed);
  connected_once_ = true;
  transport_ = std::move(transport).value();
  reader_ = std::move(reader);
  return Status::Ok();
}

// The stream is out of step after a failure: the connection is closed and
// every command not answered yet fails.
void RedisNode::FailLocked(const Status& why, size_t from, std::span<RedisResult> out) {
  for (size_t i = from; i < out.size(); ++i) out[i] = RedisResult{why, {}};
  reader_.reset();
  transport_.reset();
  failures_.fetch_add(1, std::memory_order_relaxed);
}

void RedisNode::Pipeline(std::span<const RedisCommand* const> commands,
                         std::span<const std::span<std::byte>> sinks,
                         std::span<RedisResult> out, const ReplyFn& on_reply) {
  MutexLock lock(&mu_);
  if (!transport_) {
    if (Status s = ConnectLocked(); !s.ok()) {
      for (RedisResult& r : out) r = RedisResult{s, {}};
      return;
    }
  }
  std::vector<const std::vector<std::string_view>*> args;
  args.reserve(commands.size());
  for (const RedisCommand* c : commands) args.push_back(&c->args);
  if (Status s = WriteCommands(*transport_, args); !s.ok()) {
    FailLocked(Unavailable(endpoint_.ToString() + ": " + s.message()), 0, out);
    return;
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::span<std::byte> sink = sinks.empty() ? std::span<std::byte>() : sinks[i];
    if (Status s = reader_->Next(sink, &out[i].reply); !s.ok()) {
      FailLocked(Unavailable(endpoint_.ToString() + ": " + s.message()), i, out);
      return;
    }
    out[i].status = Status::Ok();
    if (on_reply) on_reply(i);
  }
}

}  // namespace kvtier::internal
