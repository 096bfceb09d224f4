// RedisNode: connect, authenticate, pipeline, fail and reconnect.
#include "backends/remote/redis_node.h"

#include <charconv>

namespace kvtier::internal {
namespace {

timeval ToTimeval(uint32_t ms) {
  return timeval{static_cast<time_t>(ms / 1000),
                 static_cast<suseconds_t>(ms % 1000) * 1000};
}

std::string ReplyText(const redisReply* r) {
  return r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : std::string();
}

}  // namespace

Result<RedisEndpoint> ParseEndpoint(std::string_view text, std::string_view field) {
  const size_t colon = text.rfind(':');
  const auto bad = [&](const char* why) {
    return InvalidArgument(std::string(field) + ": '" + std::string(text) + "' " + why +
                           " (expected host:port)");
  };
  if (colon == std::string_view::npos || colon == 0) return bad("has no host");
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port <= 0 ||
      port > 65535) {
    return bad("has no port in 1..65535");
  }
  return RedisEndpoint{std::string(host), port};
}

RedisNode::RedisNode(RedisEndpoint endpoint, const RedisConnectConfig& config)
    : endpoint_(std::move(endpoint)), config_(config) {}

Status RedisNode::Authenticate(redisContext* c) const {
  if (config_.password.empty()) return Status::Ok();
  ReplyPtr reply;
  if (config_.username.empty()) {
    reply.reset(static_cast<redisReply*>(
        redisCommand(c, "AUTH %b", config_.password.data(), config_.password.size())));
  } else {
    reply.reset(static_cast<redisReply*>(
        redisCommand(c, "AUTH %b %b", config_.username.data(), config_.username.size(),
                     config_.password.data(), config_.password.size())));
  }
  if (!reply)
    return Unavailable("redis " + endpoint_.ToString() + ": AUTH: " + c->errstr);
  if (reply->type == REDIS_REPLY_ERROR) {
    return InvalidArgument("options.remote.password: redis " + endpoint_.ToString() +
                           " refused AUTH: " + ReplyText(reply.get()));
  }
  return Status::Ok();
}

Status RedisNode::ConnectLocked() {
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_after_) {
    return Unavailable("redis " + endpoint_.ToString() + ": down, retrying later");
  }
  const timeval connect_timeout = ToTimeval(config_.connect_timeout_ms);
  ContextPtr c(
      redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, connect_timeout));
  Status s;
  if (!c) {
    s = Unavailable("redis " + endpoint_.ToString() + ": cannot allocate a context");
  } else if (c->err != 0) {
    s = Unavailable("redis " + endpoint_.ToString() + ": connect: " + c->errstr);
  } else if (redisSetTimeout(c.get(), ToTimeval(config_.io_timeout_ms)) != REDIS_OK) {
    s = Unavailable("redis " + endpoint_.ToString() + ": cannot set the I/O timeout");
  } else {
    s = Authenticate(c.get());
  }
  if (!s.ok()) {
    retry_after_ = now + std::chrono::milliseconds(config_.reconnect_backoff_ms);
    failures_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (connected_once_) reconnects_.fetch_add(1, std::memory_order_relaxed);
  connected_once_ = true;
  reader_ = std::make_unique<RespReader>(c->fd);
  context_ = std::move(c);
  return Status::Ok();
}

// The stream is out of step after a failure: the connection is closed and
// every command not answered yet fails.
void RedisNode::FailLocked(const Status& why, size_t from, std::span<RedisResult> out) {
  for (size_t i = from; i < out.size(); ++i) out[i] = RedisResult{why, {}};
  reader_.reset();
  context_.reset();
  failures_.fetch_add(1, std::memory_order_relaxed);
}

void RedisNode::Pipeline(std::span<const RedisCommand* const> commands,
                         std::span<const std::span<std::byte>> sinks,
                         std::span<RedisResult> out, const ReplyFn& on_reply) {
  MutexLock lock(&mu_);
  if (!context_) {
    if (Status s = ConnectLocked(); !s.ok()) {
      for (RedisResult& r : out) r = RedisResult{s, {}};
      return;
    }
  }
  std::vector<const std::vector<std::string_view>*> args;
  args.reserve(commands.size());
  for (const RedisCommand* c : commands) args.push_back(&c->args);
  if (Status s = WriteCommands(context_->fd, args); !s.ok()) {
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

Status RedisNode::Command(const RedisCommand& command, ReplyPtr* reply) {
  MutexLock lock(&mu_);
  if (!context_) {
    if (Status s = ConnectLocked(); !s.ok()) return s;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string_view a : command.args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  reply->reset(static_cast<redisReply*>(redisCommandArgv(
      context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!*reply) {
    RedisResult ignored[1];
    const Status s =
        Unavailable("redis " + endpoint_.ToString() + ": " + context_->errstr);
    FailLocked(s, 1, ignored);
    return s;
  }
  return Status::Ok();
}

}  // namespace kvtier::internal
