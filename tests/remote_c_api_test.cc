// The remote tier through the C API, over a real redis-server: options set
// with kvtier_options_init + remote_* fields; two stores share blocks.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "tests/redis_support.h"

namespace {

TEST_CASE("c api: stores opened with remote_endpoints share blocks through redis",
          "[remote][c_api]") {
  auto server = kvtier::testing::RedisServer::Start();
  if (!server)
    KVTIER_SKIP("redis-server is not installed (scripts/setup.sh installs it)");
  const std::string endpoint = server->endpoint();
  const char* endpoints[] = {endpoint.c_str()};
  kvtier_options o;
  kvtier_options_init(&o);
  CHECK(o.remote_queue_blocks == 256);
  o.num_layers = 2;
  o.kv_heads = 2;
  o.head_dim = 8;
  o.block_tokens = 4;
  o.model_id = "c-remote@1";
  o.host_capacity_bytes = 1 << 20;
  o.host_lock_memory = 0;
  o.remote_endpoints = endpoints;
  o.remote_endpoint_count = 1;
  o.remote_checksum_key = "c-api-shared-secret-0123";
  kvtier_error err{};
  kvtier_store* writer = nullptr;
  kvtier_store* reader = nullptr;
  REQUIRE(kvtier_open(&o, &writer, &err) == KVTIER_OK);
  REQUIRE(kvtier_open(&o, &reader, &err) == KVTIER_OK);

  const size_t per_block = kvtier_segments_per_block(writer);
  const size_t seg_bytes = kvtier_segment_bytes(writer);
  std::vector<uint32_t> tokens(12);
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<uint32_t>(i * 17 + 5);
  kvtier_block_hash chain[3];
  REQUIRE(kvtier_hash_chain(writer, tokens.data(), tokens.size(), chain, 3, &err) ==
          KVTIER_OK);
  std::vector<unsigned char> src(3 * per_block * seg_bytes), dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 13 + 1);
  std::vector<kvtier_segment> src_segs, dst_segs;
  for (size_t i = 0; i < 3 * per_block; ++i) {
    src_segs.push_back({src.data() + i * seg_bytes, seg_bytes, 0});
    dst_segs.push_back({dst.data() + i * seg_bytes, seg_bytes, 0});
  }
  size_t stored = 0;
  REQUIRE(kvtier_save(writer, chain, 3, 0, src_segs.data(), src_segs.size(), &stored,
                      &err) == KVTIER_OK);
  REQUIRE(kvtier_flush(writer, &err) == KVTIER_OK);
  size_t loaded = 0;
  REQUIRE(kvtier_load(reader, chain, 3, dst_segs.data(), dst_segs.size(), &loaded,
                      &err) == KVTIER_OK);
  CHECK(loaded == 3);
  CHECK(dst == src);
  kvtier_tier_stats remote;
  remote.struct_size = sizeof(remote);
  REQUIRE(kvtier_tier_stats_get(reader, KVTIER_TIER_REMOTE, &remote, &err) == KVTIER_OK);
  CHECK(remote.enabled == 1);
  CHECK(remote.hits == 3);
  kvtier_close(reader);
  kvtier_close(writer);

  o.remote_endpoints = nullptr;  // a count without endpoints names the field
  kvtier_store* bad = nullptr;
  CHECK(kvtier_open(&o, &bad, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK(std::string(err.message).find("options.remote_endpoints") != std::string::npos);
}

TEST_CASE("c api: remote_tls_* reach the store; a TLS file that is not there is named",
          "[c_api][remote]") {
  kvtier_options o;
  kvtier_options_init(&o);
  CHECK(o.remote_tls_ca_file == nullptr);  // TLS off by default
  o.num_layers = 2;
  o.kv_heads = 2;
  o.head_dim = 8;
  o.block_tokens = 4;
  o.model_id = "c-tls-model@1";
  o.host_capacity_bytes = 1 << 20;
  o.host_lock_memory = 0;
  const char* endpoints[] = {"127.0.0.1:1"};
  o.remote_endpoints = endpoints;
  o.remote_endpoint_count = 1;
  o.remote_tls_ca_file = "/nonexistent/kvtier-ca.pem";
  kvtier_store* store = nullptr;
  kvtier_error err{};
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK(std::string(err.message).find("options.remote.tls_ca_file") != std::string::npos);
  // A caller whose struct ends before the TLS fields has TLS off.
  o.struct_size = offsetof(kvtier_options, remote_tls_ca_file);
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  kvtier_close(store);
  o.struct_size = sizeof(o);
  o.remote_tls_ca_file = nullptr;
  o.remote_tls_server_name = "redis.internal";  // TLS settings without a CA
  CHECK(kvtier_open(&o, &store, &err) == KVTIER_INVALID_ARGUMENT);
  CHECK(std::string(err.message).find("options.remote.tls_server_name") !=
        std::string::npos);
}

}  // namespace
