// The remote tier's keyed checksum over a real redis-server: stores sharing
// the secret share blocks; a value written without it (or under another
// block's key) never loads, whatever its stored-block checksum says.
#include <catch2/catch.hpp>

#include <cstdio>

#include "kvtier/kvtier.h"
#include "lib/stored_block.h"
#include "tests/redis_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;
using testing::OpenOrDie;
using testing::RedisServer;
using testing::RedisText;
using testing::RemoteKey;

constexpr const char* kSecret = "a-secret-of-the-deployment-0123456789";

Options KeyedOptions(const std::string& endpoint, std::string secret) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "keyed-model@1";
  o.host.capacity_bytes =
      64 * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  o.remote.endpoints = {endpoint};
  o.remote.exists_cache_ms = 0;
  o.remote.checksum_key = std::move(secret);
  return o;
}

std::vector<BlockHash> ChainOf(const Store& store, uint32_t seed, size_t blocks) {
  std::vector<uint32_t> tokens(blocks * store.layout().block_tokens);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = seed * 104729u + i;
  return store.hasher().Chain(tokens);
}

void SaveAndFlush(Store& store, std::span<const BlockHash> chain) {
  EngineBuffers src(store.layout(), chain.size());
  src.FillFrom(chain);
  REQUIRE(store.Save(chain, src.all()).ok());
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
    "with a keyed checksum, stores sharing the secret share blocks and nobody else can "
    "plant one",
    "[remote]") {
  auto server = RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  const Options keyed = KeyedOptions(server->endpoint(), kSecret);
  auto prefill = OpenOrDie(keyed);
  const auto shared = ChainOf(*prefill, 1, 4);
  SaveAndFlush(*prefill, shared);
  auto decode = OpenOrDie(keyed);
  CHECK(LoadAndCheck(*decode, shared) == 4);

  // Written by a store without the key: a valid stored block with no tag.
  auto unkeyed = OpenOrDie(KeyedOptions(server->endpoint(), ""));
  const auto planted = ChainOf(*unkeyed, 2, 4);
  SaveAndFlush(*unkeyed, planted);
  CHECK(LoadAndCheck(*decode, planted) == 0);
  // ... and with a made-up tag appended, or a tag made with another secret.
  const std::string value =
      RedisText(server->port(), {"GET", RemoteKey(keyed, planted[0])});
  REQUIRE(RedisText(server->port(), {"SET", RemoteKey(keyed, planted[0]),
                                     value + std::string(32, '\x42')}) == "OK");
  CHECK(LoadAndCheck(*decode, planted) == 0);
  auto other_secret =
      OpenOrDie(KeyedOptions(server->endpoint(), "another-secret-entirely!"));
  const auto wrong = ChainOf(*other_secret, 3, 4);
  SaveAndFlush(*other_secret, wrong);
  CHECK(LoadAndCheck(*decode, wrong) == 0);
  // A genuine value copied under another block's key.
  const std::string genuine =
      RedisText(server->port(), {"GET", RemoteKey(keyed, shared[0])});
  const auto victim = ChainOf(*decode, 4, 1);
  REQUIRE(RedisText(server->port(), {"SET", RemoteKey(keyed, victim[0]), genuine}) ==
          "OK");
  CHECK(LoadAndCheck(*decode, victim) == 0);

  const StoreStats s = decode->Stats();
  // Each load reads its whole chain: forged = the made-up tag (1), the other
  // secret's chain (4), the copy (1); checksum errors add the untagged
  // values: 4 at first, then the 3 left untagged beside the made-up tag.
  CHECK(s.remote.forged == 6);
  CHECK(s.tier(Tier::kRemote).checksum_errors == 13);
  CHECK(s.tier(Tier::kRemote).hits == 4);
}

}  // namespace
}  // namespace kvtier
