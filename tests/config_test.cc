// Options from the environment and from JSON files (kvtier/config.h):
// every kind of value, the documented names, and errors that name the
// variable or key and leave the options unchanged.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <set>

#include "kvtier/config.h"
#include "kvtier/store.h"
#include "lib/config/option_fields.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

TEST_CASE("config: environment variables set every kind of option", "[config]") {
  Options o;
  REQUIRE(
      ApplyEnvironment({{"KVTIER_MODEL_ID", "llama@main"},
                        {"KVTIER_HOST_BYTES", "8GiB"},
                        {"KVTIER_HOST_CODEC", "int8"},
                        {"KVTIER_HOST_LOCK_MEMORY", "off"},
                        {"KVTIER_NVME_DIRS", "/mnt/a:/mnt/b"},
                        {"KVTIER_NVME_BYTES", "512MiB"},
                        {"KVTIER_NVME_WRITE_POLICY", "write_back"},
                        {"KVTIER_NUM_LAYERS", "32"},
                        {"KVTIER_DTYPE", "bf16"},
                        {"KVTIER_LAYER_WINDOWS", "1024,0"},
                        {"KVTIER_EVICTION", "LRU"},
                        {"KVTIER_LOG", "debug"},
                        {"PATH", "/usr/bin"},                    // not ours: ignored
                        {"KVTIER_LIBRARY", "/x/libkvtier.so"}},  // the Python package's
                       &o)
          .ok());
  CHECK(o.model_id == "llama@main");
  CHECK(o.host.capacity_bytes == (8ull << 30));
  CHECK(o.host.codec == Codec::kInt8);
  CHECK_FALSE(o.host.lock_memory);
  CHECK(o.nvme.directories == std::vector<std::string>{"/mnt/a", "/mnt/b"});
  CHECK(o.nvme.capacity_bytes == (512ull << 20));
  CHECK(o.nvme.write_policy == WritePolicy::kWriteBack);
  CHECK(o.layout.num_layers == 32);
  CHECK(o.layout.dtype == DType::kBf16);
  CHECK(o.layout.layer_windows == std::vector<uint32_t>{1024, 0});
  CHECK(o.eviction == EvictionPolicy::kLru);
  CHECK(o.logging.level == LogLevel::kDebug);
}

TEST_CASE("config: a bad variable or value is an error naming it, options unchanged",
          "[config]") {
  Options o;
  o.host.capacity_bytes = 123;
  Status s =
      ApplyEnvironment({{"KVTIER_HOST_BYTES", "8GB"}, {"KVTIER_HOST_CODEC", "int4"}}, &o);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message(),
             Catch::Contains("KVTIER_HOST_CODEC") && Catch::Contains("int4"));
  CHECK(o.host.capacity_bytes == 123);  // the valid first variable was not applied
  s = ApplyEnvironment({{"KVTIER_HOST_BYTE", "1"}}, &o);
  CHECK_THAT(s.message(), Catch::Contains("KVTIER_HOST_BYTE: unknown"));
  s = ApplyEnvironment({{"KVTIER_HOST_BYTES", "99999999999TiB"}}, &o);
  CHECK_THAT(s.message(),
             Catch::Contains("KVTIER_HOST_BYTES") && Catch::Contains("64 bits"));
  s = ApplyEnvironment({{"KVTIER_RANK", "-1"}}, &o);
  CHECK_THAT(s.message(), Catch::Contains("KVTIER_RANK"));
  s = ApplyEnvironment({{"KVTIER_NVME_DIRS", "/a::/b"}}, &o);
  CHECK_THAT(s.message(), Catch::Contains("KVTIER_NVME_DIRS"));
}

TEST_CASE("config: shadow and load-cost options from variables and JSON", "[config]") {
  Options o;
  REQUIRE(ApplyEnvironment({{"KVTIER_SHADOW_SAMPLE_RATE", "0.01"},
                            {"KVTIER_SHADOW_MAX_PENDING_BLOCKS", "128"},
                            {"KVTIER_PREFILL_TOKENS_PER_SECOND", "12000"}},
                           &o)
              .ok());
  CHECK(o.shadow.sample_rate == 0.01);
  CHECK(o.shadow.max_pending_blocks == 128);
  CHECK(o.load_cost.prefill_tokens_per_second == 12000);
  REQUIRE(ApplyConfigJson(R"({"shadow": {"sample_rate": 0.5},
                              "load_cost": {"prefill_tokens_per_second": 8000,
                                            "measurement_weight": 0.25}})",
                          &o)
              .ok());
  CHECK(o.shadow.sample_rate == 0.5);
  CHECK(o.load_cost.prefill_tokens_per_second == 8000);
  CHECK(o.load_cost.measurement_weight == 0.25);
  Status s = ApplyEnvironment({{"KVTIER_SHADOW_SAMPLE_RATE", "often"}}, &o);
  CHECK_THAT(s.message(),
             Catch::Contains("KVTIER_SHADOW_SAMPLE_RATE") && Catch::Contains("often"));
  s = ApplyConfigJson(R"({"load_cost": {"prefill_tokens_per_second": "fast"}})", &o);
  CHECK_THAT(s.message(), Catch::Contains("load_cost.prefill_tokens_per_second"));
}

TEST_CASE("config: sizes take binary suffixes", "[config]") {
  uint64_t v = 0;
  for (const auto& [text, bytes] : std::vector<std::pair<std::string, uint64_t>>{
           {"4096", 4096},
           {"1K", 1024},
           {"3KiB", 3072},
           {"2MB", 2 << 20},
           {"8GiB", 8ull << 30},
           {"1TiB", 1ull << 40},
           {"16777215TiB", 16777215ull << 40}}) {
    INFO(text);
    REQUIRE(internal::ParseBytes("x", text, &v).ok());
    CHECK(v == bytes);
  }
  CHECK_FALSE(internal::ParseBytes("x", "16777216TiB", &v).ok());  // 2^64
  CHECK_FALSE(internal::ParseBytes("x", "GiB", &v).ok());
  CHECK_FALSE(internal::ParseBytes("x", "1.5GiB", &v).ok());
}

TEST_CASE("config: a JSON file nests options as Options does", "[config]") {
  testing::TempDir dir;
  const std::string path = (dir.path() / "kvtier.json").string();
  std::ofstream(path) << R"({
    "model_id": "m@1", "rank": 3, "eviction": "slru", "swa_checkpoint_blocks": 8,
    "layout": {"num_layers": 4, "kv_heads": 2, "head_dim": 16, "block_tokens": 16,
               "layer_windows": [64, 0, 64, 0]},
    "host": {"capacity_bytes": "1MiB", "lock_memory": false, "codec": "fp8"},
    "nvme": {"capacity_bytes": 1048576, "directories": ["/d0", "/d1"], "queue_depth": 8,
             "allow_buffered_io": true},
    "log_level": "error"})";
  Options o;
  REQUIRE(ApplyConfigFile(path, &o).ok());
  CHECK(o.model_id == "m@1");
  CHECK(o.rank == 3);
  CHECK(o.swa_checkpoint_blocks == 8);
  CHECK(o.layout.layer_windows == std::vector<uint32_t>{64, 0, 64, 0});
  CHECK(o.host.capacity_bytes == (1u << 20));
  CHECK(o.host.codec == Codec::kFp8);
  CHECK(o.nvme.capacity_bytes == (1u << 20));
  CHECK(o.nvme.directories == std::vector<std::string>{"/d0", "/d1"});
  CHECK(o.nvme.queue_depth == 8);
  CHECK(o.nvme.allow_buffered_io);
  CHECK(o.logging.level == LogLevel::kError);
}

TEST_CASE("config: JSON errors name the file and the key", "[config]") {
  Options o;
  Status s = ApplyConfigJson(R"({"host": {"capacty_bytes": 1}})", &o);
  CHECK_THAT(s.message(), Catch::Contains("config.host.capacty_bytes: unknown key"));
  s = ApplyConfigJson(R"({"nvme": {"directories": "/one"}})", &o);
  CHECK_THAT(s.message(),
             Catch::Contains("config.nvme.directories") && Catch::Contains("not a list"));
  s = ApplyConfigJson(R"({"host": {"lock_memory": 3}})", &o);
  CHECK_THAT(s.message(), Catch::Contains("config.host.lock_memory"));
  s = ApplyConfigJson(R"({"layout": {"num_layers": 1.5}})", &o);
  CHECK_THAT(s.message(), Catch::Contains("config.layout.num_layers"));
  s = ApplyConfigJson(R"({"host": 5})", &o);
  CHECK_THAT(s.message(), Catch::Contains("config.host"));
  s = ApplyConfigJson("{not json", &o);
  CHECK_THAT(s.message(), Catch::Contains("not valid JSON"));
  s = ApplyConfigFile("/nonexistent/kvtier.json", &o);
  CHECK_THAT(s.message(), Catch::Contains("/nonexistent/kvtier.json"));
  testing::TempDir dir;
  const std::string path = (dir.path() / "bad.json").string();
  std::ofstream(path) << R"({"eviction": "fifo"})";
  s = ApplyConfigFile(path, &o);
  CHECK_THAT(s.message(), Catch::Contains(path) && Catch::Contains("config.eviction") &&
                              Catch::Contains("fifo"));
}

TEST_CASE("config: every option has a distinct variable and key, each documented",
          "[config]") {
  std::ifstream header(KVTIER_SOURCE_DIR "/include/kvtier/config.h");
  REQUIRE(header);
  const std::string doc((std::istreambuf_iterator<char>(header)), {});
  std::set<std::string> envs, keys;
  for (const internal::OptionField& f : internal::OptionFields()) {
    CHECK(envs.insert(f.env).second);
    CHECK(keys.insert(f.json).second);
    CHECK_THAT(doc, Catch::Contains(f.env) && Catch::Contains(f.json));
  }
  CHECK(envs.size() >= 27);
}

TEST_CASE("config: a store opens from a JSON file and the environment", "[config]") {
  Options o;
  REQUIRE(ApplyConfigJson(R"({"model_id": "cfg@1", "layout": {"num_layers": 2,
      "kv_heads": 1, "head_dim": 16}, "host": {"capacity_bytes": "1MiB",
      "lock_memory": false}})",
                          &o)
              .ok());
  REQUIRE(ApplyEnvironment({{"KVTIER_HOST_CODEC", "int8"}}, &o).ok());
  auto store = Store::Open(o);
  REQUIRE(store.ok());
  CHECK((*store)->Stats().tier(Tier::kHost).codec == Codec::kInt8);
}

}  // namespace
}  // namespace kvtier

namespace kvtier {
namespace {

TEST_CASE("config: the remote tier's options come from JSON and the environment",
          "[config][remote]") {
  Options o;
  REQUIRE(ApplyConfigJson(R"({"remote": {"endpoints": ["10.0.0.5:7000", "10.0.0.6:7000"],
      "kind": "redis_cluster", "checksum_key": "0123456789abcdef", "ttl_seconds": 600}})",
                          &o)
              .ok());
  CHECK(o.remote.endpoints == std::vector<std::string>{"10.0.0.5:7000", "10.0.0.6:7000"});
  CHECK(o.remote.kind == RemoteKind::kRedisCluster);
  CHECK(o.remote.checksum_key == "0123456789abcdef");
  CHECK(o.remote.ttl_seconds == 600);
  REQUIRE(ApplyEnvironment({{"KVTIER_REMOTE_ENDPOINTS", "127.0.0.1:6379,127.0.0.1:6380"},
                            {"KVTIER_REMOTE_KIND", "redis"},
                            {"KVTIER_REMOTE_QUEUE_BLOCKS", "32"}},
                           &o)
              .ok());
  CHECK(o.remote.endpoints ==
        std::vector<std::string>{"127.0.0.1:6379", "127.0.0.1:6380"});
  CHECK(o.remote.kind == RemoteKind::kRedis);
  CHECK(o.remote.queue_blocks == 32);
  REQUIRE(ApplyConfigJson(R"({"remote": {"tls_ca_file": "/etc/ca.pem",
      "tls_ca_dir": "/etc/ssl/certs", "tls_cert_file": "/etc/c.pem",
      "tls_key_file": "/etc/c.key"}})",
                          &o)
              .ok());
  CHECK(o.remote.tls_ca_file == "/etc/ca.pem");
  CHECK(o.remote.tls_ca_dir == "/etc/ssl/certs");
  CHECK(o.remote.tls_cert_file == "/etc/c.pem");
  CHECK(o.remote.tls_key_file == "/etc/c.key");
  REQUIRE(ApplyEnvironment({{"KVTIER_REMOTE_TLS_SERVER_NAME", "redis.internal"},
                            {"KVTIER_REMOTE_TLS_CA_FILE", "/run/ca.pem"}},
                           &o)
              .ok());
  CHECK(o.remote.tls_server_name == "redis.internal");
  CHECK(o.remote.tls_ca_file == "/run/ca.pem");
  const Status bad = ApplyEnvironment({{"KVTIER_REMOTE_KIND", "memcached"}}, &o);
  CHECK(bad.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(bad.message(), Catch::Contains("KVTIER_REMOTE_KIND"));
}

TEST_CASE("config: the NVMe tier's keyed checksum comes from JSON and the environment",
          "[config][keyed]") {
  Options o;
  REQUIRE(ApplyConfigJson(R"({"nvme": {"checksum_key_file": "/etc/kvtier/nvme.key",
      "create_checksum_key_file": true}})",
                          &o)
              .ok());
  CHECK(o.nvme.checksum_key_file == "/etc/kvtier/nvme.key");
  CHECK(o.nvme.create_checksum_key_file);
  CHECK(o.nvme.checksum_key.empty());
  REQUIRE(ApplyEnvironment({{"KVTIER_NVME_CHECKSUM_KEY", "0123456789abcdef"},
                            {"KVTIER_NVME_CHECKSUM_KEY_FILE", ""},
                            {"KVTIER_NVME_CREATE_CHECKSUM_KEY_FILE", "false"}},
                           &o)
              .ok());
  CHECK(o.nvme.checksum_key == "0123456789abcdef");
  CHECK(o.nvme.checksum_key_file.empty());
  CHECK_FALSE(o.nvme.create_checksum_key_file);
}

}  // namespace
}  // namespace kvtier
