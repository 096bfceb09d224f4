// The remote tier on a real 3-master Redis Cluster on 127.0.0.1: blocks go to
// the master of their key's slot; a dead master costs its slots as misses,
// never wrong bytes; its slots serve again when it returns; resharded slots
// are followed through MOVED.
#include <catch2/catch.hpp>

#include <cstdio>
#include <thread>

#include "kvtier/kvtier.h"
#include "lib/stored_block.h"
#include "tests/redis_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;
using testing::OpenOrDie;
using testing::RedisCluster;
using testing::RedisText;
using testing::RemoteKey;

Options ClusterOptions(const RedisCluster& cluster) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "cluster-model@1";
  o.host.capacity_bytes =
      256 * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  o.remote.kind = RemoteKind::kRedisCluster;
  o.remote.endpoints = cluster.endpoints();
  o.remote.exists_cache_ms = 0;
  o.remote.reconnect_backoff_ms = 50;
  o.remote.connect_timeout_ms = 200;
  return o;
}

// `n` one-block prompts: each block is its own chain, so each lands on the
// master of its own slot and loads (or misses) alone.
std::vector<BlockHash> OneBlockChains(const Store& store, size_t n, uint32_t seed) {
  std::vector<BlockHash> blocks;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t> tokens(store.layout().block_tokens);
    for (size_t t = 0; t < tokens.size(); ++t) tokens[t] = seed * 7919u + i * 31u + t;
    blocks.push_back(store.hasher().Chain(tokens)[0]);
  }
  return blocks;
}

void SaveEach(Store& store, std::span<const BlockHash> blocks) {
  EngineBuffers src(store.layout(), 1);
  for (const BlockHash& h : blocks) {
    src.FillFrom({&h, 1});
    REQUIRE(store.Save({&h, 1}, src.all()).ok());
  }
  store.Flush();
}

// Loads each one-block chain; returns how many loaded (every byte checked).
size_t LoadEach(Store& store, std::span<const BlockHash> blocks) {
  EngineBuffers dst(store.layout(), 1);
  size_t loaded = 0;
  for (const BlockHash& h : blocks) {
    dst.Clear();
    auto r = store.Load({&h, 1}, dst.all());
    REQUIRE(r.ok());
    if (r->blocks == 1) {
      CHECK(dst.Matches(0, h));
      ++loaded;
    }
  }
  return loaded;
}

TEST_CASE(
    "remote tier on a 3-master cluster: blocks spread over every master and load back",
    "[remote][cluster]") {
  auto cluster = RedisCluster::Start();
  if (!cluster)
    KVTIER_SKIP("redis-server/redis-cli are not installed or no cluster formed");
  const Options o = ClusterOptions(*cluster);
  auto writer = OpenOrDie(o);
  const auto blocks = OneBlockChains(*writer, 60, 1);
  SaveEach(*writer, blocks);
  CHECK(writer->Stats().remote.write_blocks == 60);
  for (int i = 0; i < 3; ++i) {
    CHECK(std::stoi(RedisText(cluster->node(i).port(), {"DBSIZE"})) > 0);
  }
  auto reader = OpenOrDie(o);
  CHECK(LoadEach(*reader, blocks) == 60);
  CHECK(reader->Stats().tier(Tier::kRemote).hits == 60);
}

TEST_CASE(
    "a killed master costs its slots as misses and counters, no wrong bytes, and they "
    "serve again when it returns",
    "[remote][cluster]") {
  auto cluster = RedisCluster::Start();
  if (!cluster)
    KVTIER_SKIP("redis-server/redis-cli are not installed or no cluster formed");
  const Options o = ClusterOptions(*cluster);
  auto writer = OpenOrDie(o);
  const auto blocks = OneBlockChains(*writer, 60, 2);
  SaveEach(*writer, blocks);
  size_t on_victim = 0;
  for (const BlockHash& h : blocks) {
    on_victim += RedisText(cluster->node(0).port(), {"EXISTS", RemoteKey(o, h)}) == "1";
  }
  REQUIRE(on_victim > 0);
  REQUIRE(on_victim < blocks.size());

  auto reader = OpenOrDie(o);
  cluster->node(0).Kill();
  CHECK(LoadEach(*reader, blocks) == blocks.size() - on_victim);
  StoreStats s = reader->Stats();
  CHECK(s.remote.node_failures >= 1);
  CHECK(s.tier(Tier::kRemote).checksum_errors == 0);

  cluster->node(0).Restart();  // back empty, with its slots (nodes.conf)
  REQUIRE(cluster->WaitOk());
  auto writer2 = OpenOrDie(o);
  const auto fresh = OneBlockChains(*writer2, 60, 3);
  SaveEach(*writer2, fresh);
  REQUIRE(writer2->Stats().remote.write_blocks == 60);
  // The reader that saw the master die reconnects and remaps on its own.
  size_t loaded = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (loaded < fresh.size() && std::chrono::steady_clock::now() < deadline) {
    loaded = LoadEach(*reader, fresh);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(loaded == fresh.size());
  CHECK(reader->Stats().tier(Tier::kRemote).checksum_errors == 0);
}

TEST_CASE("slots resharded under a running store are followed through MOVED",
          "[remote][cluster]") {
  auto cluster = RedisCluster::Start();
  if (!cluster)
    KVTIER_SKIP("redis-server/redis-cli are not installed or no cluster formed");
  const Options o = ClusterOptions(*cluster);
  auto store = OpenOrDie(o);  // its slot map is read now
  const std::string from = RedisText(cluster->node(0).port(), {"CLUSTER", "MYID"});
  const std::string to = RedisText(cluster->node(1).port(), {"CLUSTER", "MYID"});
  const std::string reshard = "redis-cli --cluster reshard " +
                              cluster->node(0).endpoint() + " --cluster-from " + from +
                              " --cluster-to " + to +
                              " --cluster-slots 2000 --cluster-yes > /dev/null 2>&1";
  REQUIRE(std::system(reshard.c_str()) == 0);
  REQUIRE(cluster->WaitOk());
  auto writer = OpenOrDie(o);
  const auto blocks = OneBlockChains(*writer, 80, 4);
  SaveEach(*writer, blocks);
  CHECK(LoadEach(*store, blocks) == 80);
  CHECK(store->Stats().remote.moved >= 1);
}

}  // namespace
}  // namespace kvtier
