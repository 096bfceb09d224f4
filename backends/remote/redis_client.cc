// RedisClient: routing by slot, pipelines per node, redirects, slot map
// refreshes.
#include "backends/remote/redis_client.h"

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

namespace kvtier::internal {
namespace {

std::string_view ReplyString(const redisReply& r) {
  return r.str != nullptr ? std::string_view(r.str, r.len) : std::string_view();
}

// "MOVED 3999 127.0.0.1:6381" -> slot, endpoint (an empty host means the
// node that answered).
bool ParseRedirect(std::string_view text, const RedisEndpoint& from, uint32_t* slot,
                   RedisEndpoint* to) {
  const size_t a = text.find(' ');
  const size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
  if (b == std::string_view::npos) return false;
  const std::string_view slot_text = text.substr(a + 1, b - a - 1);
  const auto [end, ec] =
      std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), *slot);
  if (ec != std::errc() || *slot >= kClusterSlots) return false;
  std::string_view where = text.substr(b + 1);
  std::string with_host;
  if (!where.empty() && where.front() == ':') {
    with_host = from.host + std::string(where);
    where = with_host;
  }
  Result<RedisEndpoint> e = ParseEndpoint(where, "redirect");
  if (!e.ok()) return false;
  *to = std::move(e).value();
  return true;
}

struct SlotRange {
  uint32_t first = 0, last = 0;
  RedisEndpoint master;
};

// CLUSTER SLOTS: [[first, last, [host, port, id...], replicas...], ...].
bool ParseClusterSlots(const redisReply& r, const RedisEndpoint& asked,
                       std::vector<SlotRange>* out) {
  if (r.type != REDIS_REPLY_ARRAY) return false;
  for (size_t i = 0; i < r.elements; ++i) {
    const redisReply* range = r.element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) return false;
    const redisReply* master = range->element[2];
    if (range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER ||
        master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
        master->element[0]->type != REDIS_REPLY_STRING ||
        master->element[1]->type != REDIS_REPLY_INTEGER) {
      return false;
    }
    std::string host(ReplyString(*master->element[0]));
    if (host.empty() || host == "?") host = asked.host;
    out->push_back(
        SlotRange{static_cast<uint32_t>(range->element[0]->integer),
                  static_cast<uint32_t>(range->element[1]->integer),
                  RedisEndpoint{host, static_cast<int>(master->element[1]->integer)}});
  }
  return true;
}

}  // namespace

RedisClient::RedisClient(RedisClientConfig config) : config_(std::move(config)) {
  MutexLock lock(&mu_);
  for (const RedisEndpoint& e : config_.seeds) {
    nodes_.push_back(std::make_unique<RedisNode>(e, config_.connect));
  }
  if (config_.topology == RedisTopology::kStandalone)
    slots_.Assign(0, kClusterSlots - 1, 0);
}

Result<std::unique_ptr<RedisClient>> RedisClient::Open(RedisClientConfig config) {
  if (config.seeds.empty()) return InvalidArgument("options.remote.endpoints: empty");
  if (config.topology == RedisTopology::kStandalone) config.seeds.resize(1);
  std::unique_ptr<RedisClient> client(new RedisClient(std::move(config)));
  Status s;
  if (client->config_.topology == RedisTopology::kCluster) {
    s = client->RefreshSlots();
  } else {
    const RedisCommand ping{{"PING"}};
    const RedisCommand* commands[] = {&ping};
    RedisResult result;
    client->nodes_[0]->Pipeline(commands, {}, {&result, 1});
    s = result.status;
  }
  // A deployment that is down now may be up later; a refused password will not be.
  if (!s.ok() && s.code() != StatusCode::kUnavailable) return s;
  return client;
}

RedisNode* RedisClient::NodeAt(const RedisEndpoint& endpoint) {
  MutexLock lock(&mu_);
  for (const auto& n : nodes_) {
    if (n->endpoint() == endpoint) return n.get();
  }
  nodes_.push_back(std::make_unique<RedisNode>(endpoint, config_.connect));
  return nodes_.back().get();
}

RedisNode* RedisClient::Route(std::string_view key) {
  ReaderMutexLock lock(&mu_);
  const uint16_t n = slots_.NodeOf(KeySlot(key));
  return n == SlotMap::kNoNode ? nullptr : nodes_[n].get();
}

Status RedisClient::RefreshSlots() {
  std::vector<RedisNode*> nodes;
  {
    MutexLock lock(&mu_);
    last_refresh_ = std::chrono::steady_clock::now();
    for (const auto& n : nodes_) nodes.push_back(n.get());
  }
  refreshes_.fetch_add(1, std::memory_order_relaxed);
  const RedisCommand slots{{"CLUSTER", "SLOTS"}};
  Status last = Unavailable("redis cluster: no node known");
  for (RedisNode* node : nodes) {
    ReplyPtr reply;
    const Status s = node->Command(slots, &reply);
    std::vector<SlotRange> ranges;
    if (!s.ok()) {
      last = s;
      if (last.code() == StatusCode::kInvalidArgument) return last;  // AUTH refused
      continue;
    }
    if (!ParseClusterSlots(*reply, node->endpoint(), &ranges)) {
      last = Unavailable("redis " + node->endpoint().ToString() +
                         ": CLUSTER SLOTS gave no slot map (is it a cluster node?)");
      continue;
    }
    SlotMap map;
    for (const SlotRange& r : ranges) {
      RedisNode* master = NodeAt(r.master);
      MutexLock lock(&mu_);
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].get() == master)
          map.Assign(r.first, r.last, static_cast<uint16_t>(i));
      }
    }
    MutexLock lock(&mu_);
    slots_ = map;
    return Status::Ok();
  }
  return last;
}

void RedisClient::MaybeRefreshSlots() {
  {
    ReaderMutexLock lock(&mu_);
    if (std::chrono::steady_clock::now() - last_refresh_ < kRefreshInterval) return;
  }
  (void)RefreshSlots();  // a failed refresh keeps the old map
}

RedisNode* RedisClient::Redirect(const RespReply& reply, bool* asking, bool* refresh) {
  const std::string_view text = reply.text;
  const bool moved = text.starts_with("MOVED ");
  if (moved || text.starts_with("ASK ")) {
    uint32_t slot = 0;
    RedisEndpoint to;
    if (!ParseRedirect(text, config_.seeds.front(), &slot, &to)) return nullptr;
    RedisNode* node = NodeAt(to);
    *asking = !moved;
    if (moved) {
      moved_.fetch_add(1, std::memory_order_relaxed);
      *refresh = true;
      MutexLock lock(&mu_);
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].get() == node) slots_.Assign(slot, slot, static_cast<uint16_t>(i));
      }
    } else {
      asked_.fetch_add(1, std::memory_order_relaxed);
    }
    return node;
  }
  if (text.starts_with("CLUSTERDOWN")) *refresh = true;
  return nullptr;
}

bool RedisClient::Redirected(const RedisResult& result) const {
  if (config_.topology != RedisTopology::kCluster || !result.status.ok() ||
      result.reply.kind != RespReply::Kind::kError) {
    return false;
  }
  return result.reply.text.starts_with("MOVED ") || result.reply.text.starts_with("ASK ");
}

std::vector<RedisResult> RedisClient::Run(std::span<const RedisCommand> commands,
                                          std::span<const std::span<std::byte>> sinks,
                                          const FinalFn& on_final) {
  const bool cluster = config_.topology == RedisTopology::kCluster;
  std::vector<RedisResult> out(commands.size());
  std::vector<RedisNode*> target(commands.size());
  std::vector<bool> asking(commands.size());
  std::vector<size_t> pending;
  for (size_t i = 0; i < commands.size(); ++i) {
    target[i] = Route(commands[i].args.size() > 1 ? commands[i].args[1] : "");
    pending.push_back(i);
  }
  const RedisCommand asking_command{{"ASKING"}};
  std::vector<bool> reported(commands.size());  // on_final ran
  for (int round = 0; round <= kMaxRedirects && !pending.empty(); ++round) {
    bool refresh = false;
    // One pipeline per node; a command behind ASKING goes alone with it.
    std::vector<std::pair<RedisNode*, std::vector<size_t>>> groups;
    for (const size_t i : pending) {
      if (target[i] == nullptr) {
        out[i] =
            RedisResult{Unavailable("redis cluster: no node serves the key's slot"), {}};
        refresh = true;
        continue;
      }
      if (asking[i]) {
        groups.push_back({target[i], {i}});
        continue;
      }
      auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) {
        return x.first == target[i] && !asking[x.second[0]];
      });
      if (g == groups.end()) {
        groups.push_back({target[i], {i}});
      } else {
        g->second.push_back(i);
      }
    }
    for (const auto& [node, members] : groups) {
      std::vector<const RedisCommand*> batch;
      std::vector<std::span<std::byte>> batch_sinks;
      const bool ask = asking[members[0]];
      if (ask) {
        batch.push_back(&asking_command);
        batch_sinks.emplace_back();
      }
      for (const size_t i : members) {
        batch.push_back(&commands[i]);
        batch_sinks.push_back(sinks.empty() ? std::span<std::byte>() : sinks[i]);
      }
      std::vector<RedisResult> results(batch.size());
      const size_t skip = ask ? 1 : 0;
      node->Pipeline(batch, batch_sinks, results, [&](size_t j) {
        if (j < skip || !on_final || Redirected(results[j])) return;
        reported[members[j - skip]] = true;
        on_final(members[j - skip], results[j]);
      });
      for (size_t j = 0; j < members.size(); ++j) {
        out[members[j]] = std::move(results[j + (ask ? 1 : 0)]);
      }
    }
    std::vector<size_t> next;
    for (const size_t i : pending) {
      asking[i] = false;
      if (!out[i].status.ok()) {
        refresh = true;  // a node down: its slots may have moved
        continue;
      }
      if (!cluster || out[i].reply.kind != RespReply::Kind::kError) continue;
      bool ask = false;
      if (RedisNode* node = Redirect(out[i].reply, &ask, &refresh); node != nullptr) {
        target[i] = node;
        asking[i] = ask;
        next.push_back(i);
      }
    }
    if (refresh && cluster) MaybeRefreshSlots();
    pending = std::move(next);
  }
  for (size_t i = 0; on_final && i < out.size(); ++i) {
    if (!reported[i]) on_final(i, out[i]);  // failed, or out of redirects
  }
  return out;
}

RedisClientCounters RedisClient::counters() const {
  RedisClientCounters c;
  c.moved = moved_.load(std::memory_order_relaxed);
  c.asked = asked_.load(std::memory_order_relaxed);
  c.slot_refreshes = refreshes_.load(std::memory_order_relaxed);
  ReaderMutexLock lock(&mu_);
  c.nodes = static_cast<uint32_t>(nodes_.size());
  for (const auto& n : nodes_) {
    c.reconnects += n->reconnects();
    c.node_failures += n->failures();
  }
  return c;
}

}  // namespace kvtier::internal
