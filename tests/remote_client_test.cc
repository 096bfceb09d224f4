// The remote tier's Redis client against a real redis-server on 127.0.0.1:
// pipelines, reconnects, AUTH, and the cluster's key slots.
#include <catch2/catch.hpp>

#include <cstring>

#include "backends/remote/redis_client.h"
#include "tests/redis_support.h"

namespace kvtier::internal {
namespace {

using testing::RedisServer;

RedisClientConfig StandaloneConfig(const RedisServer& server) {
  RedisClientConfig c;
  c.seeds.push_back(RedisEndpoint{"127.0.0.1", server.port()});
  c.connect.reconnect_backoff_ms = 50;
  return c;
}

std::string Text(const RedisResult& r) { return r.status.ok() ? r.reply.text : ""; }

TEST_CASE("redis client: a pipelined batch of SET, GET and EXISTS keeps order and bytes",
          "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  auto client = RedisClient::Open(StandaloneConfig(*server));
  REQUIRE(client.ok());
  std::vector<std::string> keys, values;
  for (int i = 0; i < 20; ++i) {
    keys.push_back("k" + std::to_string(i));
    std::string v(1000 + i, '\0');
    for (size_t j = 0; j < v.size(); ++j)
      v[j] = static_cast<char>(j * 31 + i);  // NULs too
    values.push_back(v);
  }
  std::vector<RedisCommand> sets;
  for (int i = 0; i < 20; ++i) sets.push_back(RedisCommand{{"SET", keys[i], values[i]}});
  for (const RedisResult& r : (*client)->Run(sets)) CHECK(Text(r) == "OK");
  std::vector<RedisCommand> gets;
  for (int i = 19; i >= 0; --i) gets.push_back(RedisCommand{{"GET", keys[i]}});
  gets.push_back(RedisCommand{{"GET", "absent"}});
  gets.push_back(RedisCommand{{"EXISTS", keys[3]}});
  const std::vector<RedisResult> got = (*client)->Run(gets);
  for (int i = 0; i < 20; ++i) CHECK(Text(got[i]) == values[19 - i]);
  CHECK(got[20].reply.kind == RespReply::Kind::kNil);
  CHECK(got[21].reply.integer == 1);
}

TEST_CASE("redis client: a bulk reply lands in the buffer named for it when it fits",
          "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  auto client = RedisClient::Open(StandaloneConfig(*server));
  REQUIRE(client.ok());
  std::string big(3 << 20, '\0');  // larger than the reader's buffer
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + (i >> 12));
  const RedisCommand set{{"SET", "big", big}};
  REQUIRE(Text((*client)->Run({&set, 1})[0]) == "OK");
  std::vector<std::byte> fits(big.size()), small(16);
  const RedisCommand gets[] = {RedisCommand{{"GET", "big"}},
                               RedisCommand{{"GET", "big"}}};
  const std::span<std::byte> sinks[] = {fits, small};
  const std::vector<RedisResult> got = (*client)->Run(gets, sinks);
  REQUIRE(got[0].status.ok());
  CHECK(got[0].reply.in_sink);
  CHECK(got[0].reply.bulk_bytes == big.size());
  CHECK(std::memcmp(fits.data(), big.data(), big.size()) == 0);
  CHECK_FALSE(got[1].reply.in_sink);  // too long for its sink: kept in text
  CHECK(got[1].reply.text == big);
}

TEST_CASE("redis client: a server that went away fails its commands, then is reconnected",
          "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  auto client = RedisClient::Open(StandaloneConfig(*server));
  REQUIRE(client.ok());
  const RedisCommand set{{"SET", "a", "1"}};
  REQUIRE(Text((*client)->Run({&set, 1})[0]) == "OK");
  server->Kill();
  const RedisCommand get{{"GET", "a"}};
  const RedisResult down = std::move((*client)->Run({&get, 1})[0]);
  CHECK(down.status.code() == StatusCode::kUnavailable);
  server->Restart();                                           // empty: no persistence
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // past the back-off
  const RedisResult back = std::move((*client)->Run({&get, 1})[0]);
  REQUIRE(back.status.ok());
  CHECK(back.reply.kind == RespReply::Kind::kNil);
  CHECK((*client)->counters().reconnects >= 1);
  CHECK((*client)->counters().node_failures >= 1);
}

TEST_CASE(
    "redis client: a refused or missing password fails Open naming "
    "options.remote.password",
    "[remote]") {
  auto server = RedisServer::Start({"requirepass s3cret-pass"});
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  RedisClientConfig config = StandaloneConfig(*server);
  auto without = RedisClient::Open(config);  // no password at all: NOAUTH to PING
  REQUIRE_FALSE(without.ok());
  CHECK(without.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(without.status().message(),
             Catch::Contains("options.remote.password") && Catch::Contains("NOAUTH"));
  config.connect.password = "wrong";
  auto refused = RedisClient::Open(config);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("options.remote.password"));
  config.connect.password = "s3cret-pass";
  auto client = RedisClient::Open(config);
  REQUIRE(client.ok());
  const RedisCommand ping{{"PING"}};
  CHECK(Text((*client)->Run({&ping, 1})[0]) == "PONG");
}

TEST_CASE("redis client: a server down at Open is not an error and serves once it is up",
          "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  server->Kill();
  auto client = RedisClient::Open(StandaloneConfig(*server));
  REQUIRE(client.ok());
  server->Restart();
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  const RedisCommand ping{{"PING"}};
  CHECK(Text((*client)->Run({&ping, 1})[0]) == "PONG");
}

TEST_CASE("cluster key slots are the server's: CRC16/XMODEM with hash tags", "[remote]") {
  CHECK(Crc16("123456789") == 0x31C3);  // the XMODEM check value
  CHECK(KeySlot("{user1000}.following") == KeySlot("{user1000}.followers"));
  CHECK(KeySlot("foo{}{bar}") ==
        Crc16("foo{}{bar}") % kClusterSlots);  // empty tag: whole key
  CHECK(KeySlot("foo{{bar}}zap") == Crc16("{bar") % kClusterSlots);
  auto cluster = testing::RedisCluster::Start();
  if (!cluster)
    KVTIER_SKIP("redis-server/redis-cli are not installed or no cluster formed");
  for (const std::string key : {"a", "kvtier:0123:abcd", "{tag}x", "zzzzzzzz", ""}) {
    CHECK(std::to_string(KeySlot(key)) ==
          testing::RedisText(cluster->node(0).port(), {"CLUSTER", "KEYSLOT", key}));
  }
}

}  // namespace
}  // namespace kvtier::internal
