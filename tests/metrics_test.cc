// Metrics (kvtier/metrics.h): the Prometheus text names every counter per
// tier with its labels, histograms are cumulative and consistent, the
// recorder buckets by the documented bounds, and the HTTP endpoint serves
// values that move with the store's traffic.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>

#include "kvtier/metrics.h"
#include "kvtier/store.h"
#include "lib/metrics/latency_recorder.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

Options HostOptions() {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "metrics-model@1";
  o.host.capacity_bytes = 1 << 20;
  o.host.lock_memory = false;
  return o;
}

// The value of the sample line `name{labels}` (exact match), or -1.
double Sample(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// GET /metrics from 127.0.0.1:port; the whole response.
std::string Scrape(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST_CASE("metrics: the recorder buckets by the documented bounds", "[metrics]") {
  internal::LatencyRecorder r;
  r.Record(500);             // 0.5 us: first bucket (<= 1 us)
  r.Record(1000);            // exactly 1 us: still the first
  r.Record(3'000'000);       // 3 ms: (2.5 ms, 5 ms]
  r.Record(10'000'000'000);  // 10 s: above every bound
  const LatencyHistogram h = r.Snapshot();
  CHECK(h.count == 4);
  CHECK(h.counts[0] == 2);
  CHECK(h.counts[11] == 1);
  CHECK(LatencyHistogram::kBoundsSeconds[11] == 5e-3);
  CHECK(h.counts.back() == 1);
  CHECK(h.sum_seconds == Approx(10.0030015));
}

TEST_CASE("metrics: the text names each counter with units and tier/operation labels",
          "[metrics]") {
  StoreStats s;
  s.tiers[1].enabled = true;
  s.tiers[1].capacity_bytes = 1000;
  s.tiers[1].used_bytes = 200;
  s.tiers[1].hits = 7;
  s.tiers[1].bytes_read = 12345678901234;
  s.tiers[1].read_latency.counts[0] = 2;
  s.tiers[1].read_latency.counts[3] = 1;
  s.tiers[1].read_latency.count = 3;
  s.tiers[1].read_latency.sum_seconds = 0.5;
  s.lookups = 4;
  s.save_latency.counts.back() = 1;
  s.save_latency.count = 1;
  const std::string text = PrometheusText(s);
  CHECK(Sample(text, "kvtier_tier_capacity_bytes{tier=\"host\"}") == 1000);
  CHECK(Sample(text, "kvtier_tier_used_bytes{tier=\"host\"}") == 200);
  CHECK(Sample(text, "kvtier_tier_hit_blocks_total{tier=\"host\"}") == 7);
  CHECK_THAT(text, Catch::Contains(
                       "kvtier_tier_stored_bytes_total{tier=\"host\",operation=\"read\"} "
                       "12345678901234\n"));
  CHECK(Sample(text, "kvtier_calls_total{operation=\"lookup\"}") == 4);
  // Cumulative buckets, +Inf == count, sum.
  const std::string read =
      "kvtier_tier_io_duration_seconds_bucket{tier=\"host\",operation=\"read\",";
  CHECK(Sample(text, read + "le=\"1e-06\"}") == 2);
  CHECK(Sample(text, read + "le=\"5e-06\"}") == 2);
  CHECK(Sample(text, read + "le=\"1e-05\"}") == 3);
  CHECK(Sample(text, read + "le=\"+Inf\"}") == 3);
  CHECK(Sample(text,
               "kvtier_tier_io_duration_seconds_sum{tier=\"host\",operation=\"read\"}") ==
        0.5);
  CHECK(Sample(text,
               "kvtier_call_duration_seconds_bucket{operation=\"save\",le=\"2.5\"}") ==
        0);
  CHECK(Sample(text, "kvtier_call_duration_seconds_count{operation=\"save\"}") == 1);
  // Disabled tiers and the NVMe families are absent; every family is typed.
  CHECK_THAT(text, !Catch::Contains("tier=\"nvme\"") && !Catch::Contains("kvtier_nvme_"));
  const std::regex line(
      R"(^(# (HELP|TYPE) kvtier_[a-z_]+ .+|kvtier_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.e]+|)$)");
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string l = text.substr(start, end - start);
    INFO(l);
    CHECK(std::regex_match(l, line));
    start = end + 1;
  }
}

TEST_CASE("metrics: the HTTP endpoint serves values that move with the traffic",
          "[metrics]") {
  auto store = Store::Open(HostOptions());
  REQUIRE(store.ok());
  auto server = MetricsServer::Start(**store, 0);
  REQUIRE(server.ok());
  const uint16_t port = (*server)->port();
  REQUIRE(port != 0);

  std::string before = Scrape(port);
  CHECK_THAT(before, Catch::StartsWith("HTTP/1.1 200 OK\r\n") &&
                         Catch::Contains("Content-Type: text/plain; version=0.0.4"));
  CHECK(Sample(before, "kvtier_tier_inserted_blocks_total{tier=\"host\"}") == 0);

  const std::vector<BlockHash> chain =
      (*store)->hasher().Chain(std::vector<uint32_t>(3 * 4, 9));  // 3 blocks
  testing::EngineBuffers buf((*store)->layout(), chain.size());
  buf.FillFrom(chain);
  REQUIRE((*store)->Save(chain, buf.all()).ok());
  REQUIRE((*store)->Load(chain, buf.all()).ok());

  const std::string after = Scrape(port);
  CHECK(Sample(after, "kvtier_tier_inserted_blocks_total{tier=\"host\"}") == 3);
  CHECK(Sample(after, "kvtier_tier_hit_blocks_total{tier=\"host\"}") == 3);
  CHECK(Sample(after, "kvtier_tier_used_bytes{tier=\"host\"}") > 0);
  CHECK(Sample(after, "kvtier_calls_total{operation=\"save\"}") == 1);
  // The tier's own histograms are recorded by the tier front (3 writes, 3 reads
  // as singles or batches: at least one sample each).
  CHECK(Sample(
            after,
            "kvtier_tier_io_duration_seconds_count{tier=\"host\",operation=\"write\"}") >=
        1);
  CHECK(
      Sample(after,
             "kvtier_tier_io_duration_seconds_count{tier=\"host\",operation=\"read\"}") >=
      1);
  CHECK((*server)->scrapes() == 2);
}

TEST_CASE("metrics: a port in use is an error naming it, and stopping is prompt",
          "[metrics]") {
  auto store = Store::Open(HostOptions());
  REQUIRE(store.ok());
  auto first = MetricsServer::Start(**store, 0);
  REQUIRE(first.ok());
  auto second = MetricsServer::Start(**store, (*first)->port());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kIoError);
  CHECK_THAT(second.status().message(),
             Catch::Contains("127.0.0.1:" + std::to_string((*first)->port())));
  const auto start = std::chrono::steady_clock::now();
  first->reset();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

}  // namespace
}  // namespace kvtier
