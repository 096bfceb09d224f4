// A Store with the shared remote tier over a real redis-server on 127.0.0.1:
// stores in two processes share blocks; everything Redis does on its own
// (forget, lose, hold garbage) is a miss, never wrong bytes or a failed call.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "kvtier/kvtier.h"
#include "kvtier/metrics.h"
#include "lib/stored_block.h"
#include "tests/redis_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;
using testing::OpenOrDie;
using testing::RedisServer;
using testing::RedisText;
using testing::RemoteKey;

Options RemoteOptions(const std::string& endpoint, size_t host_blocks = 64) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "remote-model@1";
  o.host.capacity_bytes =
      host_blocks * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  o.remote.endpoints = {endpoint};
  o.remote.reconnect_backoff_ms = 50;
  return o;
}

std::vector<uint32_t> Tokens(size_t n, uint32_t seed) {
  return testing::SeededTokens(n, seed);
}

// The documented key: <key_prefix>:<namespace root lo, 16 hex>:<hash, 32 hex>.

// Saves `chain` and waits until its write-throughs reached Redis.
void SaveAndFlush(Store& store, std::span<const BlockHash> chain) {
  EngineBuffers src(store.layout(), chain.size());
  src.FillFrom(chain);
  auto saved = store.Save(chain, src.all());
  REQUIRE(saved.ok());
  REQUIRE(saved->stored == chain.size());
  store.Flush();
}

size_t LoadAndCheck(Store& store, std::span<const BlockHash> chain) {
  EngineBuffers dst(store.layout(), chain.size());
  auto loaded = store.Load(chain, dst.all());
  REQUIRE(loaded.ok());
  for (size_t b = 0; b < loaded->blocks; ++b) CHECK(dst.Matches(b, chain[b]));
  return loaded->blocks;
}

TEST_CASE(
    "a prefix saved by one process loads in another through redis (prefill writes, "
    "decode reads)",
    "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  const Options o = RemoteOptions(server->endpoint());
  const std::vector<uint32_t> prompt = Tokens(48, 7);  // 12 blocks
  const pid_t prefill = fork();
  if (prefill == 0) {  // its own store, its own host tier
    auto opened = Store::Open(o);
    if (!opened.ok()) _exit(2);
    std::unique_ptr<Store> store = std::move(opened).value();
    const auto chain = store->hasher().Chain(prompt);
    EngineBuffers src(store->layout(), chain.size());
    src.FillFrom(chain);
    auto saved = store->Save(chain, src.all());
    store->Flush();
    _exit(saved.ok() && store->Stats().remote.write_blocks == chain.size() ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(prefill, &status, 0) == prefill);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  auto decode = OpenOrDie(o);
  const auto chain = decode->hasher().Chain(prompt);
  const LookupResult hit = decode->Lookup(chain);
  CHECK(hit.blocks == 12);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kRemote)] == 12);
  CHECK(LoadAndCheck(*decode, chain) == 12);
  StoreStats s = decode->Stats();
  CHECK(s.tier(Tier::kRemote).hits == 12);
  CHECK(s.nvme.promotions == 12);  // promoted into host
  // Now host serves it, and nothing was written back to Redis.
  CHECK(decode->Lookup(chain).blocks_per_tier[static_cast<int>(Tier::kHost)] == 12);
  CHECK(LoadAndCheck(*decode, chain) == 12);
  decode->Flush();
  s = decode->Stats();
  CHECK(s.tier(Tier::kHost).hits == 12);
  CHECK(s.remote.write_blocks == 0);
  CHECK(s.tier(Tier::kRemote).checksum_errors == 0);
  const std::string metrics = PrometheusText(s);
  CHECK_THAT(metrics,
             Catch::Contains("kvtier_tier_hit_blocks_total{tier=\"remote\"} 12"));
  CHECK_THAT(metrics, Catch::Contains("kvtier_remote_exists_found_blocks_total 12"));
}

TEST_CASE("a local prefix is extended by the remote blocks that follow it, up to a gap",
          "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  Options o = RemoteOptions(server->endpoint());
  o.remote.exists_cache_ms = 0;
  auto writer = OpenOrDie(o);
  const auto chain = writer->hasher().Chain(Tokens(40, 3));  // 10 blocks
  SaveAndFlush(*writer, chain);
  // Block 6 vanishes from Redis (evicted there): the remote run ends at 6.
  REQUIRE(RedisText(server->port(), {"DEL", RemoteKey(o, chain[6])}) == "1");
  auto reader = OpenOrDie(o);
  SaveAndFlush(*reader, std::span(chain).first(2));  // blocks 0, 1 local
  const LookupResult hit = reader->Lookup(chain);
  CHECK(hit.blocks == 6);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kHost)] == 2);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kRemote)] == 4);
  CHECK(LoadAndCheck(*reader, chain) == 6);
}

TEST_CASE("a block redis no longer holds is a miss, never an error", "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  Options o = RemoteOptions(server->endpoint());
  o.remote.exists_cache_ms = 60'000;  // the Load trusts the Lookup's answer
  auto writer = OpenOrDie(o);
  const auto chain = writer->hasher().Chain(Tokens(32, 5));
  SaveAndFlush(*writer, chain);
  auto reader = OpenOrDie(o);
  REQUIRE(reader->Lookup(chain).blocks == 8);
  // Gone between the Lookup and the Load (the cached answer is stale).
  REQUIRE(RedisText(server->port(), {"FLUSHALL"}) == "OK");
  CHECK(LoadAndCheck(*reader, chain) == 0);
  const StoreStats s = reader->Stats();
  CHECK(s.remote.gone == 8);  // each read found nothing; the prefix ends at block 0
  CHECK(s.tier(Tier::kRemote).checksum_errors == 0);
  CHECK(s.tier(Tier::kRemote).io_errors == 0);

  // A server restarted empty: lookups find nothing.
  const auto other = writer->hasher().Chain(Tokens(32, 6));
  SaveAndFlush(*writer, other);
  o.remote.exists_cache_ms = 0;
  REQUIRE(OpenOrDie(o)->Lookup(other).blocks == 8);
  server->Restart();
  auto fresh = OpenOrDie(o);
  CHECK(fresh->Lookup(other).blocks == 0);
  CHECK(LoadAndCheck(*fresh, other) == 0);
}

TEST_CASE(
    "a value a foreign writer overwrote with garbage is a miss and a checksum error",
    "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  Options o = RemoteOptions(server->endpoint());
  o.remote.exists_cache_ms = 0;
  auto writer = OpenOrDie(o);
  const auto chain = writer->hasher().Chain(Tokens(24, 9));  // 6 blocks
  SaveAndFlush(*writer, chain);
  const std::string key = RemoteKey(o, chain[3]);
  const std::string good = RedisText(server->port(), {"GET", key});
  REQUIRE(good.size() == internal::StoredBlockBytes(o.layout.BlockBytes()));
  std::string garbage = good;
  garbage[100] ^= 0x5A;  // same size, one payload byte off
  REQUIRE(RedisText(server->port(), {"SET", key, garbage}) == "OK");
  REQUIRE(RedisText(server->port(), {"SET", RemoteKey(o, chain[5]), "not a block"}) ==
          "OK");
  auto reader = OpenOrDie(o);
  CHECK(LoadAndCheck(*reader, chain) == 3);
  const StoreStats s = reader->Stats();
  // The batch reads the whole chain: both bad values are seen and counted.
  CHECK(s.tier(Tier::kRemote).checksum_errors == 2);
  CHECK(s.tier(Tier::kRemote).hits == 3);
}

TEST_CASE(
    "write-throughs beyond the remote queue are dropped and counted, never waited for",
    "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  Options o = RemoteOptions(server->endpoint(), 128);
  o.remote.queue_blocks = 1;
  o.remote.batch_blocks = 1;
  auto store = OpenOrDie(o);
  const auto chain = store->hasher().Chain(Tokens(4 * 100, 11));  // 100 blocks
  SaveAndFlush(*store, chain);
  const StoreStats s = store->Stats();
  CHECK(s.remote.write_dropped > 0);
  CHECK(s.remote.write_blocks + s.remote.write_dropped == 100);
  CHECK(s.save_new_blocks == 100);
}

TEST_CASE("a redis that is down costs misses and counters, not failed calls",
          "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  Options o = RemoteOptions(server->endpoint());
  o.remote.exists_cache_ms = 0;
  server->Kill();
  auto store = OpenOrDie(o);  // Open does not need it
  const auto chain = store->hasher().Chain(Tokens(16, 13));
  SaveAndFlush(*store, chain);
  CHECK(LoadAndCheck(*store, chain) == 4);  // from host
  const auto other = store->hasher().Chain(Tokens(16, 14));
  CHECK(store->Lookup(other).blocks == 0);
  const StoreStats s = store->Stats();
  CHECK(s.remote.write_dropped == 4);
  CHECK(s.remote.node_failures >= 1);
}

TEST_CASE("remote options are checked at Open, each error naming its field", "[remote]") {
  Options o = RemoteOptions("127.0.0.1:1");
  const auto fails = [](Options bad, StatusCode code, const char* field) {
    auto s = Store::Open(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == code);
    CHECK_THAT(s.status().message(), Catch::Contains(field));
  };
  Options bad = o;
  bad.remote.endpoints = {"127.0.0.1:6379", "nohostport"};
  fails(bad, StatusCode::kInvalidArgument, "options.remote.endpoints[1]");
  bad = o;
  bad.remote.endpoints = {"localhost:99999"};
  fails(bad, StatusCode::kInvalidArgument, "options.remote.endpoints[0]");
  bad = o;
  bad.remote.tls_ca_file = "/nonexistent/ca.pem";
  fails(bad, StatusCode::kInvalidArgument, "options.remote.tls_ca_file");
  bad = o;
  bad.remote.checksum_key = "short";
  fails(bad, StatusCode::kInvalidArgument, "options.remote.checksum_key");
  bad = o;
  bad.remote.key_prefix = "a{b}";
  fails(bad, StatusCode::kInvalidArgument, "options.remote.key_prefix");
  bad = o;
  bad.remote.queue_blocks = 0;
  fails(bad, StatusCode::kInvalidArgument, "options.remote.queue_blocks");
  bad = o;
  bad.layout.layer_windows.assign(bad.layout.num_layers, 0);
  bad.layout.layer_windows[0] = 64;
  fails(bad, StatusCode::kNotSupported, "layer_windows");
}

}  // namespace
}  // namespace kvtier
