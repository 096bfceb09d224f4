// kvtier-replay --real with a remote tier on a real redis-server: a second
// replay (another process, another Store) is served from what the first
// left in Redis.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli_support.h"
#include "tests/redis_support.h"
#include "tests/replay_support.h"

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;

TEST_CASE(
    "cli: a real replay with --redis is served from what an earlier replay left there",
    "[remote][replay][cli]") {
  auto server = kvtier::testing::RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  TempDir dir;
  const std::string trace = testing::WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const std::string args = "--trace " + trace +
                           " --format mooncake --block-tokens 4 --capacity-blocks 4"
                           " --policy lru --real --json --redis " +
                           server->endpoint();
  const auto first = kvtier::testing::RunCli(KVTIER_REPLAY_BIN, dir, args);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const nlohmann::json one = kvtier::testing::LastLineJson(first.out);
  CHECK(one["hit_blocks"] == 5);  // 1,2 and 3 again, then 1,2 of the last request
  // Blocks 1, 2, 3 written through (block 4 is the last request's partial
  // block: never stored).
  CHECK(one["tiers"]["remote"]["inserts"] == 3);

  const auto second = kvtier::testing::RunCli(KVTIER_REPLAY_BIN, dir, args);
  INFO(second.err);
  REQUIRE(second.exit_code == 0);
  const nlohmann::json two = kvtier::testing::LastLineJson(second.out);
  CHECK(two["hit_blocks"] == 8);               // every full block's reference
  CHECK(two["tiers"]["remote"]["hits"] == 3);  // first sight of 1, 2, 3
  CHECK(two["tiers"]["host"]["hits"] == 5);    // promoted there
}

}  // namespace
}  // namespace kvtier::replay
