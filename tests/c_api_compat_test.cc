// The C API beyond the happy path: struct_size compatibility (older and
// partial sizes accepted, newer refused), overflowing counts, every option
// reaching the store (NVMe directories, codecs, policies), per-tier and NVMe
// stats, prefetch, flush and the leveled log callback.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "tests/c_api_test_support.h"
#include "tests/test_support.h"

namespace {

using kvtier::testing::CChain;

kvtier_options Small() {
  kvtier_options o;
  kvtier_options_init(&o);
  o.num_layers = 2;
  o.kv_heads = 2;
  o.head_dim = 8;
  o.block_tokens = 4;
  o.model_id = "c-compat-model@1";
  o.host_capacity_bytes = 1 << 20;
  o.host_lock_memory = 0;
  return o;
}

std::string Message(const kvtier_error& err) { return err.message; }

// Blocks of one chain and their segments over one buffer.
struct Chain {
  Chain(kvtier_store* store, size_t blocks, uint32_t seed)
      : hashes(CChain(store, blocks, seed)) {
    const size_t per_block = kvtier_segments_per_block(store);
    const size_t seg_bytes = kvtier_segment_bytes(store);
    bytes.resize(blocks * per_block * seg_bytes);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 13 + seed);
    for (size_t i = 0; i < blocks * per_block; ++i) {
      segments.push_back({bytes.data() + i * seg_bytes, seg_bytes, 0});
    }
  }
  std::vector<kvtier_block_hash> hashes;
  std::vector<uint8_t> bytes;
  std::vector<kvtier_segment> segments;
};

TEST_CASE("c api: a struct_size between 0.1's and today's opens with the rest defaulted",
          "[c_api]") {
  kvtier_options o = Small();
  // A caller built when the struct ended before nvme_queue_depth: the later
  // fields hold garbage the library must not read.
  o.struct_size = offsetof(kvtier_options, nvme_queue_depth);
  o.nvme_queue_depth = 0;
  o.eviction = static_cast<kvtier_eviction>(77);
  o.log_level = static_cast<kvtier_log_level>(99);
  kvtier_store* store = nullptr;
  kvtier_error err{};
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  kvtier_close(store);

  o.struct_size = KVTIER_OPTIONS_SIZE_V1;
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  kvtier_close(store);
}

TEST_CASE("c api: a struct_size larger than this library knows is refused naming it",
          "[c_api]") {
  kvtier_options o = Small();
  o.struct_size = sizeof(kvtier_options) + 8;
  kvtier_store* store = nullptr;
  kvtier_error err{};
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("options.struct_size: " +
                                           std::to_string(sizeof(kvtier_options) + 8)) &&
                               Catch::Contains("newer"));
  CHECK(store == nullptr);
  o.struct_size = KVTIER_OPTIONS_SIZE_V1 - 8;
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("options.struct_size"));
}

TEST_CASE("c api: unknown enum values and null directories are refused by name",
          "[c_api]") {
  kvtier_store* store = nullptr;
  kvtier_error err{};
  kvtier_options o = Small();
  o.eviction = static_cast<kvtier_eviction>(7);
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("options.eviction"));
  o = Small();
  o.nvme_directory_count = 1;
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("options.nvme_directories"));
  o = Small();
  o.nvme_codec = static_cast<kvtier_codec>(9);
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("options.nvme_codec"));
}

TEST_CASE("c api: counts that overflow when multiplied are errors, not crashes",
          "[c_api]") {
  kvtier_options o = Small();
  kvtier_store* store = nullptr;
  kvtier_error err{};
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  uint32_t tokens[8] = {};
  kvtier_block_hash out[2];
  // 2^62 blocks of 4 tokens wrap to 0 tokens needed.
  CHECK(kvtier_hash_chain(store, tokens, 8, out, size_t{1} << 62, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("hash_chain.n_blocks"));
  // 2^63 blocks x 4 segments wrap to 0 segments.
  size_t loaded = 7;
  CHECK(kvtier_load(store, out, size_t{1} << 63, nullptr, 0, &loaded, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err),
             Catch::Contains("load.n_blocks") && Catch::Contains("overflow"));
  CHECK(loaded == 0);
  CHECK(kvtier_save(store, out, size_t{1} << 63, 0, nullptr, 0, nullptr, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err),
             Catch::Contains("save.n_blocks") && Catch::Contains("overflow"));
  CHECK(kvtier_save(store, out, 1, 2, nullptr, 0, nullptr, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("save.first_block"));
  // The store is still usable.
  Chain c(store, 2, 1);
  size_t stored = 0;
  CHECK(kvtier_save(store, c.hashes.data(), 2, 0, c.segments.data(), c.segments.size(),
                    &stored, &err) == KVTIER_OK);
  CHECK(stored == 2);
  kvtier_close(store);
}

TEST_CASE("c api: stats structs check struct_size and report every tier", "[c_api]") {
  kvtier_options o = Small();
  o.host_codec = KVTIER_CODEC_INT8;
  o.eviction = KVTIER_EVICTION_LRU;
  kvtier_store* store = nullptr;
  kvtier_error err{};
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  Chain c(store, 3, 2);
  REQUIRE(kvtier_save(store, c.hashes.data(), 3, 0, c.segments.data(), c.segments.size(),
                      nullptr, &err) == KVTIER_OK);
  kvtier_tier_stats host{};
  host.struct_size = sizeof(host);
  REQUIRE(kvtier_tier_stats_get(store, KVTIER_TIER_HOST, &host, &err) == KVTIER_OK);
  CHECK(host.enabled == 1);
  CHECK(host.codec == KVTIER_CODEC_INT8);
  CHECK(host.blocks == 3);
  CHECK(host.inserts == 3);
  CHECK(host.logical_bytes_written > host.bytes_written);  // int8 halves fp16
  kvtier_tier_stats nvme{};
  nvme.struct_size = sizeof(nvme);
  REQUIRE(kvtier_tier_stats_get(store, KVTIER_TIER_NVME, &nvme, &err) == KVTIER_OK);
  CHECK(nvme.enabled == 0);
  kvtier_call_stats calls{};
  calls.struct_size = sizeof(calls);
  REQUIRE(kvtier_call_stats_get(store, &calls, &err) == KVTIER_OK);
  CHECK(calls.saves == 1);
  CHECK(calls.save_blocks == 3);
  CHECK(calls.save_new_blocks == 3);
  CHECK(calls.leases_granted == 0);
  // A caller built before the lease counters passes the older, smaller
  // struct: it gets the fields it knows, nothing is written past them.
  kvtier_call_stats older{};
  older.struct_size = offsetof(kvtier_call_stats, erased_blocks);
  older.leases_granted = 777;  // past the older size
  REQUIRE(kvtier_call_stats_get(store, &older, &err) == KVTIER_OK);
  CHECK(older.saves == 1);
  CHECK(older.leases_granted == 777);
  calls.struct_size = offsetof(kvtier_call_stats, erased_blocks) - 8;
  CHECK(kvtier_call_stats_get(store, &calls, &err) == KVTIER_INVALID_ARGUMENT);

  kvtier_nvme_stats n{};
  n.struct_size = sizeof(n) + 8;
  CHECK(kvtier_nvme_stats_get(store, &n, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("nvme_stats.struct_size"));
  CHECK(kvtier_tier_stats_get(store, static_cast<kvtier_tier>(5), &host, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("tier: 5"));
  kvtier_close(store);
}

struct LogLines {
  std::mutex mu;
  std::vector<std::pair<kvtier_log_level, std::string>> lines;
};

void Collect(void* user, kvtier_log_level level, const char* message) {
  auto* log = static_cast<LogLines*>(user);
  std::lock_guard lock(log->mu);
  log->lines.emplace_back(level, message);
}

TEST_CASE("c api: NVMe directories, prefetch, flush, NVMe stats and the log callback",
          "[c_api][nvme]") {
  kvtier::testing::TempDir dir;
  const std::string path = dir.path().string();
  const char* dirs[1] = {path.c_str()};
  LogLines log;
  kvtier_options o = Small();
  o.nvme_capacity_bytes = 64 * 4096;
  o.nvme_directories = dirs;
  o.nvme_directory_count = 1;
  o.nvme_queue_depth = 4;
  o.nvme_write_policy = KVTIER_WRITE_THROUGH;
  o.log = Collect;
  o.log_user_data = &log;
  o.log_level = KVTIER_LOG_DEBUG;
  kvtier_store* store = nullptr;
  kvtier_error err{};
  const kvtier_code opened = kvtier_open(&o, &store, &err);
  if (opened == KVTIER_NOT_SUPPORTED) KVTIER_SKIP("no NVMe tier in this build");
  REQUIRE(opened == KVTIER_OK);
  Chain c(store, 8, 3);
  REQUIRE(kvtier_save(store, c.hashes.data(), 8, 0, c.segments.data(), c.segments.size(),
                      nullptr, &err) == KVTIER_OK);
  REQUIRE(kvtier_flush(store, &err) == KVTIER_OK);
  kvtier_nvme_stats n{};
  n.struct_size = sizeof(n);
  REQUIRE(kvtier_nvme_stats_get(store, &n, &err) == KVTIER_OK);
  CHECK(n.copy_down_blocks == 8);
  kvtier_close(store);

  // Reopened: host is empty, NVMe has the chain; prefetch moves it up.
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  REQUIRE(kvtier_nvme_stats_get(store, &n, &err) == KVTIER_OK);
  CHECK(n.recovered_blocks == 8);
  kvtier_prefetch* p = nullptr;
  REQUIRE(kvtier_prefetch_start(store, c.hashes.data(), 8, &p, &err) == KVTIER_OK);
  CHECK(kvtier_prefetch_wait(p) == 8);
  CHECK(kvtier_prefetch_done(p) == 1);
  kvtier_prefetch_release(p);
  REQUIRE(kvtier_nvme_stats_get(store, &n, &err) == KVTIER_OK);
  CHECK(n.promotions == 8);
  kvtier_tier_stats nvme{};
  nvme.struct_size = sizeof(nvme);
  REQUIRE(kvtier_tier_stats_get(store, KVTIER_TIER_NVME, &nvme, &err) == KVTIER_OK);
  CHECK(nvme.enabled == 1);
  CHECK(nvme.blocks == 8);
  kvtier_close(store);

  // Each Open logged its recovery result at info, to our user data.
  std::lock_guard lock(log.mu);
  int recoveries = 0;
  for (const auto& [level, line] : log.lines) {
    if (line.find("recovered 8 blocks") != std::string::npos &&
        level == KVTIER_LOG_INFO) {
      ++recoveries;
    }
  }
  CHECK(recoveries == 1);
}

TEST_CASE("c api: the version is the project's", "[c_api]") {
  CHECK(std::string(kvtier_version()) == KVTIER_VERSION_STRING);
  CHECK(KVTIER_VERSION ==
        KVTIER_VERSION_MAJOR * 10000 + KVTIER_VERSION_MINOR * 100 + KVTIER_VERSION_PATCH);
}

TEST_CASE("c api: kvtier_options_init writes nothing past the caller's struct",
          "[c_api]") {
  // A caller built against 0.1's header: its struct ends at 104 bytes.
  struct {
    kvtier_options o;
    unsigned char guard[64];
  } padded;
  std::memset(&padded, 0xAB, sizeof(padded));
  kvtier_options_init_sized(&padded.o, KVTIER_OPTIONS_SIZE_V1);
  CHECK(padded.o.struct_size == KVTIER_OPTIONS_SIZE_V1);
  CHECK(padded.o.block_tokens == kvtier::Options{}.layout.block_tokens);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&padded);
  size_t written_past = 0;
  for (size_t i = KVTIER_OPTIONS_SIZE_V1; i < sizeof(padded); ++i) {
    written_past += bytes[i] != 0xAB;
  }
  CHECK(written_past == 0);
  // The exported function of the old name (what such a caller links to).
  std::memset(&padded, 0xAB, sizeof(padded));
  (kvtier_options_init)(&padded.o);
  for (size_t i = KVTIER_OPTIONS_SIZE_V1; i < sizeof(padded); ++i) {
    written_past += bytes[i] != 0xAB;
  }
  CHECK(written_past == 0);
  CHECK(padded.o.struct_size == KVTIER_OPTIONS_SIZE_V1);
  // Today's callers get every field through the macro.
  kvtier_options today;
  kvtier_options_init(&today);
  CHECK(today.struct_size == sizeof(kvtier_options));
  CHECK(today.nvme_queue_depth == kvtier::Options{}.nvme.queue_depth);
}

TEST_CASE("c api: every eviction policy opens, an unknown one is named", "[c_api]") {
  for (const kvtier_eviction e : {KVTIER_EVICTION_LRU, KVTIER_EVICTION_SLRU,
                                  KVTIER_EVICTION_FREQUENCY, KVTIER_EVICTION_SESSION}) {
    kvtier_options o = Small();
    o.eviction = e;
    kvtier_store* store = nullptr;
    kvtier_error err{};
    INFO(static_cast<int>(e));
    REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
    kvtier_close(store);
  }
  kvtier_options o = Small();
  const int unknown = 4;
  std::memcpy(&o.eviction, &unknown, sizeof(unknown));
  kvtier_store* store = nullptr;
  kvtier_error err{};
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK_THAT(Message(err), Catch::Contains("options.eviction"));
}

}  // namespace
