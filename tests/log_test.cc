// Logs (Options::logging, lib/log.h): levels filter, the user-data pointer
// reaches the sink, the legacy Options::log still works, KVTIER_LOG sets the
// default sink's level, repeated failures are rate-limited, and a store
// reports a fallback (no O_DIRECT) through the sink.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/testing/memory_tier.h"
#include "kvtier/store.h"
#include "lib/log.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

struct Lines {
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;
};

void Collect(void* user, LogLevel level, const char* message) {
  auto* l = static_cast<Lines*>(user);
  std::lock_guard lock(l->mu);
  l->lines.emplace_back(level, message);
}

std::string g_legacy;
void Legacy(const char* message) { g_legacy += message; }

// Sets an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  const char* name_;
  bool had_ = false;
  std::string old_;
};

TEST_CASE("logs: the sink gets its user data and only messages at its level or above",
          "[log]") {
  Lines lines;
  Options o;
  o.logging = {Collect, &lines, LogLevel::kWarning};
  const internal::Logger log = internal::Logger::For(o);
  log.Debug("d");
  log.Info("i");
  log.Warning("w");
  log.Error("e");
  REQUIRE(lines.lines.size() == 2);
  CHECK(lines.lines[0] == std::pair<LogLevel, std::string>{LogLevel::kWarning, "w"});
  CHECK(lines.lines[1] == std::pair<LogLevel, std::string>{LogLevel::kError, "e"});
  o.logging.level = LogLevel::kOff;
  internal::Logger::For(o).Error("never");
  CHECK(lines.lines.size() == 2);
}

TEST_CASE("logs: Options::log still receives warnings when no sink is set", "[log]") {
  g_legacy.clear();
  Options o;
  o.log = Legacy;
  const internal::Logger log = internal::Logger::For(o);
  log.Info("not this");
  log.Warning("this");
  CHECK(g_legacy == "this");
  Lines lines;
  o.logging = {Collect, &lines, LogLevel::kInfo};  // the sink supersedes it
  internal::Logger::For(o).Warning("to the sink");
  CHECK(g_legacy == "this");
  CHECK(lines.lines.size() == 1);
}

TEST_CASE("logs: KVTIER_LOG sets the default stderr sink's level", "[log]") {
  {
    ScopedEnv env("KVTIER_LOG", "debug");
    CHECK(internal::Logger().Enabled(LogLevel::kDebug));
  }
  {
    ScopedEnv env("KVTIER_LOG", "ERROR");
    CHECK_FALSE(internal::Logger().Enabled(LogLevel::kWarning));
    CHECK(internal::Logger().Enabled(LogLevel::kError));
  }
  {
    ScopedEnv env("KVTIER_LOG", "off");
    CHECK_FALSE(internal::Logger().Enabled(LogLevel::kError));
  }
  {
    ScopedEnv env("KVTIER_LOG", "nonsense");  // unrecognized: the default
    CHECK(internal::Logger().Enabled(LogLevel::kWarning));
    CHECK_FALSE(internal::Logger().Enabled(LogLevel::kInfo));
  }
}

TEST_CASE(
    "logs: a burst of failures is rate-limited and the next says how many were "
    "suppressed",
    "[log]") {
  Lines lines;
  const internal::Logger log(Collect, &lines, LogLevel::kDebug);
  internal::RateLimitedLog limited(/*burst=*/3, /*period_ms=*/50);
  for (int i = 0; i < 100; ++i) limited.Log(log, LogLevel::kWarning, "checksum failed");
  CHECK(lines.lines.size() == 3);
  CHECK(limited.suppressed() == 97);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  limited.Log(log, LogLevel::kWarning, "checksum failed");
  REQUIRE(lines.lines.size() == 4);
  CHECK_THAT(lines.lines[3].second, Catch::Contains("97 similar messages suppressed"));
}

TEST_CASE("logs: a corrupt slot is reported through the tier's logger as a warning",
          "[log]") {
  Lines lines;
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "log-model@1";
  o.host.capacity_bytes = 1;  // unused: the tier below is passed in
  o.host.lock_memory = false;
  const size_t slot_bytes = internal::StoredBlockBytes(o.layout.BlockBytes());
  auto tier_owner = std::make_unique<testing::MemoryTier>(8, slot_bytes);
  testing::MemoryTier* tier = tier_owner.get();
  tier->set_logger(internal::Logger(Collect, &lines, LogLevel::kWarning));
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(tier_owner);
  auto store = internal::OpenStoreWithTiers(o, std::move(backends));
  REQUIRE(store.ok());
  const std::vector<BlockHash> chain =
      (*store)->hasher().Chain(std::vector<uint32_t>(8, 3));
  testing::EngineBuffers src((*store)->layout(), chain.size());
  src.FillFrom(chain);
  REQUIRE((*store)->Save(chain, src.all()).ok());
  for (uint32_t s = 0; s < 8; ++s) tier->CorruptSlot(s, internal::kStoredHeaderBytes + 5);
  testing::EngineBuffers dst((*store)->layout(), chain.size());
  REQUIRE((*store)->Load(chain, dst.all()).ok());
  std::lock_guard lock(lines.mu);
  REQUIRE_FALSE(lines.lines.empty());
  for (const auto& [level, line] : lines.lines) {
    CHECK(level == LogLevel::kWarning);
    CHECK_THAT(line, Catch::Contains("tier host: read failed") &&
                         Catch::Contains("Corruption") &&
                         Catch::Contains("served as a miss"));
  }
}

}  // namespace
}  // namespace kvtier
