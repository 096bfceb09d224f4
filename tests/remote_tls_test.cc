// The remote tier over TLS against a real redis-server (tls-port) on
// 127.0.0.1, with certificates made at test time (redis_tls_support.h):
// bytes round-trip exactly; a server certificate another CA signed, or one
// for another name, fails Open naming the option to fix; a server that
// requires mutual TLS refuses a client without a certificate, clearly; bad
// TLS files are refused naming their field; a TLS cluster serves too.
#include <catch2/catch.hpp>

#include <cstring>

#include "backends/remote/redis_client.h"
#include "kvtier/kvtier.h"
#include "lib/stored_block.h"
#include "tests/redis_tls_support.h"

namespace kvtier {
namespace {

using internal::RedisClient;
using internal::RedisClientConfig;
using internal::RedisCommand;
using internal::RedisEndpoint;
using internal::RedisResult;
using testing::EngineBuffers;
using testing::OpenOrDie;
using testing::RedisServer;
using testing::TlsFiles;

// A TLS server (plain port too, for the helpers) and the files it uses; the
// test skips, saying why, when a piece is missing here.
struct TlsServer {
  std::unique_ptr<TlsFiles> files;
  std::unique_ptr<RedisServer> server;
  int tls_port = 0;
  std::string skip;  // why it could not start
  std::string endpoint(const char* host = "127.0.0.1") const {
    return std::string(host) + ":" + std::to_string(tls_port);
  }
};

TlsServer StartTlsServer(TlsFiles::ClientCerts clients) {
  TlsServer t;
  t.files = TlsFiles::Make();
  if (!t.files) {
    t.skip = "the openssl command line is not installed (scripts/deps.sh installs it)";
    return t;
  }
  t.tls_port = testing::FreePort();
  t.server = RedisServer::Start(t.files->ServerConfig(t.tls_port, clients));
  if (!t.server) {
    t.skip = "redis-server is not installed (scripts/setup.sh installs it)";
  } else if (!t.server->alive()) {
    t.skip = "this redis-server refused the tls-port configuration: built without TLS";
  }
  return t;
}

Options TlsOptions(const TlsServer& t) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "tls-model@1";
  o.host.capacity_bytes =
      64 * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  o.remote.endpoints = {t.endpoint()};
  o.remote.tls_ca_file = t.files->ca();
  o.remote.reconnect_backoff_ms = 50;
  o.remote.exists_cache_ms = 0;
  return o;
}

std::vector<uint32_t> Tokens(size_t n, uint32_t seed) {
  return testing::SeededTokens(n, seed);
}

// Saves `tokens` through one store, then loads them through a second one
// (its own host tier, empty): every block must come from the remote tier,
// byte-exact. Returns the blocks loaded.
size_t RoundTrip(const Options& o, const std::vector<uint32_t>& tokens) {
  auto writer = OpenOrDie(o);
  const auto chain = writer->hasher().Chain(tokens);
  EngineBuffers src(writer->layout(), chain.size());
  src.FillFrom(chain);
  REQUIRE(writer->Save(chain, src.all()).ok());
  writer->Flush();
  REQUIRE(writer->Stats().remote.write_blocks == chain.size());
  auto reader = OpenOrDie(o);
  EngineBuffers dst(reader->layout(), chain.size());
  auto loaded = reader->Load(chain, dst.all());
  REQUIRE(loaded.ok());
  for (size_t b = 0; b < loaded->blocks; ++b) CHECK(dst.Matches(b, chain[b]));
  return loaded->blocks;
}

void OpenFails(const Options& o, const char* field, const char* words) {
  auto s = Store::Open(o);
  REQUIRE_FALSE(s.ok());
  INFO(s.status().ToString());
  CHECK(s.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(s.status().message(), Catch::Contains(field) && Catch::Contains(words));
}

TEST_CASE("remote tier over TLS: blocks round-trip byte-exact through a verified server",
          "[remote][tls]") {
  const TlsServer t = StartTlsServer(TlsFiles::ClientCerts::kOptional);
  if (!t.skip.empty()) KVTIER_SKIP(t.skip);
  const Options o = TlsOptions(t);
  CHECK(RoundTrip(o, Tokens(4 * 12, 1)) == 12);
  // The same server by name: the certificate's DNS SAN, and SNI.
  Options by_name = o;
  by_name.remote.endpoints = {t.endpoint("localhost")};
  CHECK(RoundTrip(by_name, Tokens(4 * 3, 2)) == 3);
  // The keys are there (seen through the server's plain port).
  CHECK(testing::RedisText(t.server->port(), {"DBSIZE"}) == "15");
}

TEST_CASE("redis client over TLS: a 3 MiB value goes out and comes back byte-exact",
          "[remote][tls]") {
  const TlsServer t = StartTlsServer(TlsFiles::ClientCerts::kOptional);
  if (!t.skip.empty()) KVTIER_SKIP(t.skip);
  RedisClientConfig config;
  config.seeds.push_back(RedisEndpoint{"127.0.0.1", t.tls_port});
  config.tls.ca_file = t.files->ca();
  auto client = RedisClient::Open(config);
  REQUIRE(client.ok());
  std::string big(3 << 20, '\0');  // many TLS records, larger than the reader's buffer
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + (i >> 12));
  const RedisCommand set{{"SET", "big", big}};
  const RedisResult stored = std::move((*client)->Run({&set, 1})[0]);
  REQUIRE(stored.status.ok());
  CHECK(stored.reply.text == "OK");
  std::vector<std::byte> sink(big.size());
  const RedisCommand gets[] = {RedisCommand{{"GET", "big"}},
                               RedisCommand{{"GET", "big"}}};
  const std::span<std::byte> sinks[] = {sink, {}};
  const std::vector<RedisResult> got = (*client)->Run(gets, sinks);
  REQUIRE(got[0].status.ok());
  CHECK(got[0].reply.in_sink);
  CHECK(std::memcmp(sink.data(), big.data(), big.size()) == 0);
  CHECK(got[1].reply.text == big);
}

TEST_CASE("remote tier over TLS: a server certificate another CA signed fails Open",
          "[remote][tls]") {
  const TlsServer t = StartTlsServer(TlsFiles::ClientCerts::kOptional);
  if (!t.skip.empty()) KVTIER_SKIP(t.skip);
  Options o = TlsOptions(t);
  o.remote.tls_ca_file = t.files->other_ca();
  OpenFails(o, "options.remote.tls_ca_file", "does not verify");
}

TEST_CASE("remote tier over TLS: a certificate for another name is refused",
          "[remote][tls]") {
  const TlsServer t = StartTlsServer(TlsFiles::ClientCerts::kOptional);
  if (!t.skip.empty()) KVTIER_SKIP(t.skip);
  Options o = TlsOptions(t);
  o.remote.tls_server_name = "redis.example.com";
  OpenFails(o, "options.remote.tls_server_name", "redis.example.com");
  o.remote.tls_server_name = "127.0.0.2";  // an IP address the certificate lacks
  OpenFails(o, "options.remote.tls_server_name", "127.0.0.2");
  o.remote.tls_server_name = "localhost";  // a name it carries, for an IP endpoint
  CHECK(RoundTrip(o, Tokens(4, 3)) == 1);
}

TEST_CASE(
    "remote tier over mutual TLS: no client certificate is refused naming "
    "tls_cert_file; ours is accepted",
    "[remote][tls]") {
  const TlsServer t = StartTlsServer(TlsFiles::ClientCerts::kRequired);
  if (!t.skip.empty()) KVTIER_SKIP(t.skip);
  Options o = TlsOptions(t);
  OpenFails(o, "options.remote.tls_cert_file", "mutual TLS");
  o.remote.tls_cert_file = t.files->client_cert();
  o.remote.tls_key_file = t.files->client_key();
  CHECK(RoundTrip(o, Tokens(4 * 2, 4)) == 2);
}

TEST_CASE("remote tier TLS files are checked at Open, each error naming its field",
          "[remote][tls]") {
  auto files = TlsFiles::Make();
  if (!files)
    KVTIER_SKIP(
        "the openssl command line is not installed (scripts/deps.sh installs it)");
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "tls-model@1";
  o.host.capacity_bytes = 1 << 20;
  o.host.lock_memory = false;
  o.remote.endpoints = {"127.0.0.1:1"};  // never reached: the files fail first
  o.remote.tls_ca_file = files->ca();
  const auto fails = [](Options bad, const char* field, const char* words) {
    auto s = Store::Open(bad);
    REQUIRE_FALSE(s.ok());
    INFO(s.status().ToString());
    CHECK(s.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(s.status().message(), Catch::Contains(field) && Catch::Contains(words));
  };
  Options bad = o;
  bad.remote.tls_ca_file = files->path("absent.crt");
  fails(bad, "options.remote.tls_ca_file", "absent.crt");
  bad.remote.tls_ca_file = files->path("client.key");  // a file, but no certificate
  fails(bad, "options.remote.tls_ca_file", "no usable PEM CA certificate");
  bad = o;
  bad.remote.tls_ca_file.clear();
  bad.remote.tls_ca_dir = files->ca();  // a file, not a directory
  fails(bad, "options.remote.tls_ca_dir", "not a directory");
  bad = o;
  bad.remote.tls_cert_file = files->client_cert();
  fails(bad, "options.remote.tls_key_file", "needs both");
  bad.remote.tls_key_file = files->path("server.key");  // another certificate's key
  fails(bad, "options.remote.tls_key_file", "is not the key");
  bad = o;
  bad.remote.tls_ca_file.clear();
  bad.remote.tls_server_name = "localhost";  // TLS is off without a CA
  fails(bad, "options.remote.tls_server_name", "TLS is off");
  // Every file right: Open succeeds (the server is down: misses, not an error).
  o.remote.tls_cert_file = files->client_cert();
  o.remote.tls_key_file = files->client_key();
  CHECK(Store::Open(o).ok());
}

TEST_CASE("remote tier over TLS on a 3-master cluster: blocks round-trip byte-exact",
          "[remote][tls]") {
  auto files = TlsFiles::Make();
  if (!files)
    KVTIER_SKIP(
        "the openssl command line is not installed (scripts/deps.sh installs it)");
  std::vector<int> tls_ports;
  auto cluster = testing::StartTlsCluster(*files, &tls_ports);
  if (!cluster) KVTIER_SKIP("redis-server/redis-cli missing, without TLS, or no cluster");
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "tls-cluster-model@1";
  o.host.capacity_bytes =
      256 * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  o.remote.kind = RemoteKind::kRedisCluster;
  o.remote.endpoints = {"127.0.0.1:" + std::to_string(tls_ports[0])};  // one seed
  o.remote.tls_ca_file = files->ca();
  o.remote.exists_cache_ms = 0;
  // One-block chains, so blocks land on every master's slots.
  auto writer = OpenOrDie(o);
  auto reader = OpenOrDie(o);
  EngineBuffers buf(writer->layout(), 1);
  std::vector<BlockHash> blocks;
  for (uint32_t i = 0; i < 30; ++i) {
    blocks.push_back(writer->hasher().Chain(Tokens(4, 100 + i))[0]);
    buf.FillFrom({&blocks.back(), 1});
    REQUIRE(writer->Save({&blocks.back(), 1}, buf.all()).ok());
  }
  writer->Flush();
  size_t loaded = 0;
  for (const BlockHash& h : blocks) {
    auto r = reader->Load({&h, 1}, buf.all());
    REQUIRE(r.ok());
    if (r->blocks == 1 && buf.Matches(0, h)) ++loaded;
  }
  CHECK(loaded == blocks.size());
  const StoreStats s = reader->Stats();
  CHECK(s.remote.nodes == 3);  // the slot map named every master, reached over TLS
  for (int i = 0; i < 3; ++i) {
    CHECK(std::stoll("0" + testing::RedisText(cluster->node(i).port(), {"DBSIZE"})) > 0);
  }
}

}  // namespace
}  // namespace kvtier
