// RedisClient: routing by slot, pipelines per node, redirects, slot map
// refreshes.
#include "backends/remote/redis_client.h"

#include <algorithm>
#include <charconv>
#include <thread>
#include <utility>

namespace kvtier::internal {
namespace {

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
bool ParseClusterSlots(const RespReply& r, const RedisEndpoint& asked,
                       std::vector<SlotRange>* out) {
  using Kind = RespReply::Kind;
  if (r.kind != Kind::kArray) return false;
  for (const RespReply& range : r.elements) {
    if (range.kind != Kind::kArray || range.elements.size() < 3) return false;
    const RespReply& master = range.elements[2];
    if (range.elements[0].kind != Kind::kInteger ||
        range.elements[1].kind != Kind::kInteger || master.kind != Kind::kArray ||
        master.elements.size() < 2 || master.elements[0].kind != Kind::kBulk ||
        master.elements[1].kind != Kind::kInteger) {
      return false;
    }
    std::string host = master.elements[0].text;
    if (host.empty() || host == "?") host = asked.host;
    out->push_back(
        SlotRange{static_cast<uint32_t>(range.elements[0].integer),
                  static_cast<uint32_t>(range.elements[1].integer),
                  RedisEndpoint{host, static_cast<int>(master.elements[1].integer)}});
  }
  return true;
}

}  // namespace

RedisClient::RedisClient(RedisClientConfig config,
                         std::unique_ptr<RedisConnector> connector)
    : config_(std::move(config)), connector_(std::move(connector)) {
  MutexLock lock(&mu_);
  for (const RedisEndpoint& e : config_.seeds) {
    nodes_.push_back(std::make_unique<RedisNode>(e, config_.connect, *connector_));
  }
  if (config_.topology == RedisTopology::kStandalone)
    slots_.Assign(0, kClusterSlots - 1, 0);
}

Result<std::unique_ptr<RedisClient>> RedisClient::Open(RedisClientConfig config) {
  if (config.seeds.empty()) return InvalidArgument("options.remote.endpoints: empty");
  if (config.topology == RedisTopology::kStandalone) config.seeds.resize(1);
  Result<std::unique_ptr<RedisConnector>> connector = MakeRedisConnector(config.tls);
  if (!connector.ok()) return connector.status();
  std::unique_ptr<RedisClient> client(
      new RedisClient(std::move(config), std::move(connector).value()));
  Status s;
  if (client->config_.topology == RedisTopology::kCluster) {
    s = client->RefreshSlots();
  } else {
    const RedisCommand ping{{"PING"}};
    const RedisCommand* commands[] = {&ping};
    RedisResult result;
    RedisNode* first = nullptr;
    {
      ReaderMutexLock lock(&client->mu_);  // clang's thread-safety analysis asks
      first = client->nodes_[0].get();
    }
    first->Pipeline(commands, {}, {&result, 1});
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
  nodes_.push_back(std::make_unique<RedisNode>(endpoint, config_.connect, *connector_));
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
  const RedisCommand* commands[] = {&slots};
  for (RedisNode* node : nodes) {
    RedisResult result;
    node->Pipeline(commands, {}, {&result, 1});
    std::vector<SlotRange> ranges;
    if (!result.status.ok()) {
      last = result.status;
      // AUTH or a TLS certificate refused: no other node will differ.
      if (last.code() == StatusCode::kInvalidArgument) return last;
      continue;
    }
    if (!ParseClusterSlots(result.reply, node->endpoint(), &ranges)) {
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

// One Run: every command's target node, whether it goes behind ASKING, its
// result, and whether the caller has been given it.
struct RedisClient::RunState {
  std::span<const RedisCommand> commands;
  std::span<const std::span<std::byte>> sinks;
  const FinalFn& on_final;
  std::vector<RedisResult> out;
  std::vector<RedisNode*> target;
  std::vector<bool> asking;
  std::vector<bool> reported;  // on_final ran

  std::span<std::byte> SinkOf(size_t i) const {
    return sinks.empty() ? std::span<std::byte>() : sinks[i];
  }
  void Report(size_t i, const RedisResult& result) {
    reported[i] = true;
    if (on_final) on_final(i, result);
  }
};

// One pipeline per node; a command behind ASKING goes alone with it.
std::vector<RedisClient::Group> RedisClient::GroupByNode(RunState& run,
                                                         std::span<const size_t> pending,
                                                         bool* refresh) const {
  std::vector<Group> groups;
  for (const size_t i : pending) {
    if (run.target[i] == nullptr) {
      run.out[i] =
          RedisResult{Unavailable("redis cluster: no node serves the key's slot"), {}};
      *refresh = true;
      continue;
    }
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) {
      return !run.asking[i] && x.node == run.target[i] && !run.asking[x.members[0]];
    });
    if (g == groups.end()) {
      groups.push_back(Group{run.target[i], {i}});
    } else {
      g->members.push_back(i);
    }
  }
  return groups;
}

// Sends one group's pipeline; each final reply goes to the caller as it lands.
void RedisClient::Send(RunState& run, const Group& group) const {
  static const RedisCommand kAsking{{"ASKING"}};
  const size_t skip = run.asking[group.members[0]] ? 1 : 0;
  std::vector<const RedisCommand*> batch;
  std::vector<std::span<std::byte>> sinks;
  if (skip == 1) {
    batch.push_back(&kAsking);
    sinks.emplace_back();
  }
  for (const size_t i : group.members) {
    batch.push_back(&run.commands[i]);
    sinks.push_back(run.SinkOf(i));
  }
  std::vector<RedisResult> results(batch.size());
  group.node->Pipeline(batch, sinks, results, [&](size_t j) {
    if (j >= skip && !Redirected(results[j]))
      run.Report(group.members[j - skip], results[j]);
  });
  for (size_t j = 0; j < group.members.size(); ++j) {
    run.out[group.members[j]] = std::move(results[j + skip]);
  }
}

// The commands to send again (MOVED, ASK), with their new targets.
std::vector<size_t> RedisClient::FollowRedirects(RunState& run,
                                                 std::span<const size_t> pending,
                                                 bool* refresh) {
  std::vector<size_t> next;
  for (const size_t i : pending) {
    run.asking[i] = false;
    if (!run.out[i].status.ok()) {
      *refresh = true;  // a node down: its slots may have moved
      continue;
    }
    if (config_.topology != RedisTopology::kCluster ||
        run.out[i].reply.kind != RespReply::Kind::kError) {
      continue;
    }
    bool ask = false;  // Redirect also asks for a refresh on CLUSTERDOWN
    if (RedisNode* node = Redirect(run.out[i].reply, &ask, refresh); node != nullptr) {
      run.target[i] = node;
      run.asking[i] = ask;
      next.push_back(i);
    }
  }
  return next;
}

std::vector<RedisResult> RedisClient::Run(std::span<const RedisCommand> commands,
                                          std::span<const std::span<std::byte>> sinks,
                                          const FinalFn& on_final) {
  const size_t n = commands.size();
  RunState run{commands,
               sinks,
               on_final,
               std::vector<RedisResult>(n),
               std::vector<RedisNode*>(n),
               std::vector<bool>(n),
               std::vector<bool>(n)};
  std::vector<size_t> pending(n);
  for (size_t i = 0; i < n; ++i) {
    run.target[i] = Route(commands[i].args.size() > 1 ? commands[i].args[1] : "");
    pending[i] = i;
  }
  for (int round = 0; round <= kMaxRedirects && !pending.empty(); ++round) {
    bool refresh = false;
    for (const Group& g : GroupByNode(run, pending, &refresh)) Send(run, g);
    pending = FollowRedirects(run, pending, &refresh);
    if (refresh && config_.topology == RedisTopology::kCluster) MaybeRefreshSlots();
  }
  for (size_t i = 0; i < n; ++i) {
    if (!run.reported[i]) run.Report(i, run.out[i]);  // failed, or out of redirects
  }
  return std::move(run.out);
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
