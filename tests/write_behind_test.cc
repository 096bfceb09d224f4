// The background writers: batches taken in push order, several batches on
// the device at once, a bounded queue, Drain waiting for the writers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/write_behind.h"

namespace kvtier::internal {
namespace {

WriteDownJob JobNumber(uint64_t n) {
  WriteDownJob job;
  job.hash = BlockHash{n, 0};
  return job;
}

// Holds every copy until `want` of them run at once (or a timeout), so a
// test sees how many batches the writers keep in flight.
struct ConcurrencyProbe {
  explicit ConcurrencyProbe(int want) : want(want) {}
  void Copy() {
    std::unique_lock lock(mu);
    ++running;
    most = std::max(most, running);
    changed.notify_all();
    changed.wait_for(lock, std::chrono::seconds(2), [this] { return most >= want; });
    --running;
  }
  const int want;
  std::mutex mu;
  std::condition_variable changed;
  int running = 0;
  int most = 0;
};

TEST_CASE("write-behind: two writers keep two batches in flight at once",
          "[write_behind][concurrency]") {
  ConcurrencyProbe probe(2);
  {
    WriteBehind writer({.capacity = 64, .batch = 4, .writers = 2},
                       [&](std::span<const WriteDownJob>) { probe.Copy(); });
    for (uint64_t n = 0; n < 8; ++n) REQUIRE(writer.Push(JobNumber(n)));
    writer.Drain();
  }
  CHECK(probe.most == 2);
}

TEST_CASE("write-behind: batches are taken in push order and hold at most the batch size",
          "[write_behind]") {
  std::mutex mu;
  std::vector<std::vector<uint64_t>> batches;
  std::mutex gate;  // holds the writer until every job is queued
  std::unique_lock hold(gate);
  WriteBehind writer({.capacity = 64, .batch = 3, .writers = 1},
                     [&](std::span<const WriteDownJob> jobs) {
                       std::lock_guard wait_for_pushes(gate);
                       std::lock_guard lock(mu);
                       batches.emplace_back();
                       for (const WriteDownJob& j : jobs)
                         batches.back().push_back(j.hash.lo);
                     });
  for (uint64_t n = 0; n < 7; ++n) REQUIRE(writer.Push(JobNumber(n)));
  hold.unlock();
  writer.Drain();
  std::vector<uint64_t> all;
  for (const auto& b : batches) {
    CHECK(b.size() <= 3);
    all.insert(all.end(), b.begin(), b.end());
  }
  CHECK(all == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6});
}

TEST_CASE("write-behind: a push beyond the capacity is refused, not waited for",
          "[write_behind]") {
  std::mutex gate;
  std::unique_lock hold(gate);
  std::atomic<int> copied{0};
  WriteBehind writer({.capacity = 2, .batch = 1, .writers = 1},
                     [&](std::span<const WriteDownJob> jobs) {
                       std::lock_guard wait(gate);
                       copied += static_cast<int>(jobs.size());
                     });
  REQUIRE(writer.Push(JobNumber(0)));
  // The writer takes job 0 and blocks on the gate; two more fit the queue.
  while (!writer.Push(JobNumber(1))) {
  }
  int accepted = 2;
  while (writer.Push(JobNumber(100 + accepted))) ++accepted;
  CHECK(accepted <= 3);  // job 0 on the writer + at most 2 waiting
  hold.unlock();
  writer.Drain();
  CHECK(copied == accepted);
}

TEST_CASE("write-behind: Drain returns only after the running batches finished",
          "[write_behind][concurrency]") {
  std::atomic<int> finished{0};
  WriteBehind writer({.capacity = 64, .batch = 2, .writers = 2},
                     [&](std::span<const WriteDownJob> jobs) {
                       std::this_thread::sleep_for(std::chrono::milliseconds(20));
                       finished += static_cast<int>(jobs.size());
                     });
  for (uint64_t n = 0; n < 6; ++n) REQUIRE(writer.Push(JobNumber(n)));
  writer.Drain();
  CHECK(finished == 6);
}

}  // namespace
}  // namespace kvtier::internal
