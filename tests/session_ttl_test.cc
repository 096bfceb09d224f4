// SessionOrder's time hints (RequestContext::ttl_s): an open session's own
// later blocks wait for its expected return; the one returning furthest
// goes before the block the other rules pick when it returns later than
// that block has been idle; opening and shared blocks never wait; a block
// used again, or whose return time passes, is live again; demoted blocks
// still go first. And the replay side: AddTtlHints (ttl_hints.h) and the
// simulator with hints keeping the index's invariants.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "bench/replay/bounds.h"
#include "bench/replay/simulator.h"
#include "bench/replay/trace_gen.h"
#include "bench/replay/trace_gen_writer.h"
#include "bench/replay/ttl_hints.h"
#include "lib/index/block_index.h"
#include "lib/index/session_order.h"
#include "tests/replay_support.h"

namespace kvtier::internal {
namespace {

using kvtier::testing::TempDir;

BlockHash H(uint64_t n) { return BlockHash{n * 0x9E3779B97F4A7C15ull + 1, n}; }

// One host tier of `blocks`, the session policy, and the Store's save
// sequence at a time of the test's choosing.
class Tier1 {
 public:
  explicit Tier1(uint64_t blocks) : index_(Budget(blocks), EvictionPolicy::kSession) {}

  void Save(double now_s, const std::vector<uint64_t>& ids, const RequestContext& c) {
    index_.SetTime(now_s);
    std::vector<BlockHash> chain, added;
    for (const uint64_t id : ids) chain.push_back(H(id));
    for (size_t i = 0; i < chain.size(); ++i) {
      if (index_.IsPresent(chain[i], Tier::kHost)) continue;
      const BlockHash* parent = i > 0 ? &chain[i - 1] : nullptr;
      REQUIRE(index_.MakeRoom(Tier::kHost, 1, parent));
      index_.AddPending(Tier::kHost, chain[i], parent, 0);
      added.push_back(chain[i]);
    }
    for (const BlockHash& h : added) index_.MarkReady(Tier::kHost, h);
    index_.TouchChain(chain, /*hit=*/false, c);
  }
  bool Holds(uint64_t id) const { return index_.IsReady(H(id), Tier::kHost); }

 private:
  static std::array<TierBudget, kNumTiers> Budget(uint64_t blocks) {
    std::array<TierBudget, kNumTiers> b{};
    b[static_cast<int>(Tier::kHost)] = TierBudget{true, blocks};
    return b;
  }
  BlockIndex index_;
};

RequestContext Open(uint64_t session, double ttl_s = 0) {
  RequestContext c;
  c.session_id = session;
  c.session = SessionState::kOpen;
  c.ttl_s = ttl_s;
  return c;
}

RequestContext Closed(uint64_t session) {
  RequestContext c = Open(session);
  c.session = SessionState::kClosed;
  return c;
}

// Session 2's block 3 at t=0; session 1 opens with block 1 at t=1, then
// adds block 2 with `ttl_s`; at t=2 block 4 needs room (capacity 3; block 1
// holds its child 2, so the choice is 2 or 3).
void SaveTwoCandidates(Tier1& t, double ttl_s) {
  t.Save(0, {3}, Open(2));
  t.Save(1, {1}, Open(1));
  t.Save(1, {1, 2}, Open(1, ttl_s));
  t.Save(2, {4}, Open(3));
}

TEST_CASE(
    "session ttl: a block whose session returns later than the coldest block has "
    "been idle goes first",
    "[policy][session][ttl]") {
  Tier1 t(3);
  SaveTwoCandidates(t, /*ttl_s=*/100);  // back at 101; 3 idle 2 s
  CHECK_FALSE(t.Holds(2));
  CHECK(t.Holds(3));
  CHECK(t.Holds(1));
  CHECK(t.Holds(4));
}

TEST_CASE("session ttl: a block whose session returns sooner than that stays",
          "[policy][session][ttl]") {
  Tier1 t(3);
  SaveTwoCandidates(t, /*ttl_s=*/1.5);  // back at 2.5: in 0.5 s
  CHECK(t.Holds(2));
  CHECK_FALSE(t.Holds(3));  // LRU's coldest
}

TEST_CASE("session ttl: without a hint the order is as before (the coldest goes)",
          "[policy][session][ttl]") {
  Tier1 t(3);
  SaveTwoCandidates(t, /*ttl_s=*/0);
  CHECK(t.Holds(2));
  CHECK_FALSE(t.Holds(3));
}

TEST_CASE("session ttl: a session's opening blocks never wait (others may read them)",
          "[policy][session][ttl]") {
  Tier1 t(3);
  t.Save(0, {3}, Open(2));
  t.Save(1, {1, 2}, Open(1, 100));  // its first chain: both opening
  t.Save(2, {4}, Open(3));
  CHECK(t.Holds(2));
  CHECK_FALSE(t.Holds(3));
}

TEST_CASE("session ttl: a waiting block used again without a hint is live again",
          "[policy][session][ttl]") {
  Tier1 t(3);
  t.Save(0, {3}, Open(2));
  t.Save(1, {1}, Open(1));
  t.Save(1, {1, 2}, Open(1, 100));
  t.Save(1.5, {1, 2}, Open(1));  // back early, no hint this time
  t.Save(2, {4}, Open(3));
  CHECK(t.Holds(2));
  CHECK_FALSE(t.Holds(3));
}

TEST_CASE("session ttl: a block whose return time passed is live again, by recency",
          "[policy][session][ttl]") {
  Tier1 t(4);
  t.Save(0, {1}, Open(1));
  t.Save(0, {1, 2}, Open(1, 1));  // expected back at 1: never comes
  t.Save(0.5, {3}, Open(2));
  t.Save(5, {4}, Open(3));  // 2 is live again since t=5 (hot); tier full now
  t.Save(6, {5}, Open(4));  // 3 is the coldest: goes
  CHECK_FALSE(t.Holds(3));
  t.Save(7, {6}, Open(5));  // then 2 (1 holds it), before the newer 4 and 5
  CHECK_FALSE(t.Holds(2));
  CHECK(t.Holds(4));
  CHECK(t.Holds(5));
}

TEST_CASE("session ttl: a closed session's demoted blocks still go before waiting ones",
          "[policy][session][ttl]") {
  Tier1 t(4);
  t.Save(0, {5}, Open(9));
  t.Save(0, {5, 6}, Closed(9));  // 6: a later block of a closed session
  t.Save(1, {1}, Open(1));
  t.Save(1, {1, 2}, Open(1, 1000));
  t.Save(2, {4}, Open(3));
  CHECK_FALSE(t.Holds(6));
  CHECK(t.Holds(2));
}

TEST_CASE("session ttl: a closed session's opening block competes by its weighted age",
          "[policy][session][ttl]") {
  // Block 9: all of a one-request session, closed at t=0 (the closed list).
  // Block 2 is expected back in 9 s; 9 has been idle 2 s, which weighs as
  // 2 x kOpeningAgeWeight = 128 s: 9 goes first.
  static_assert(SessionOrder::kOpeningAgeWeight > 9.0 / 2);
  Tier1 t(3);
  t.Save(0, {9}, Closed(5));
  t.Save(1, {1}, Open(1));
  t.Save(1, {1, 2}, Open(1, 10));
  t.Save(2, {4}, Open(3));
  CHECK_FALSE(t.Holds(9));
  CHECK(t.Holds(2));
}

TEST_CASE("session ttl: removing a waiting block forgets it; memory counts the times",
          "[policy][session][ttl]") {
  SessionOrder order;
  for (EntryId id = 0; id < 4; ++id) order.Insert(id);
  const size_t before = order.memory_bytes();
  order.SetTime(10);
  order.BeginUse(Open(1));
  order.Used(0, Open(1));  // the session's opening block
  order.BeginUse(Open(1, 50));
  order.Used(1, Open(1, 50));  // waits until 60
  CHECK(order.size() == 4);
  CHECK(order.memory_bytes() > before);
  const auto any = [](EntryId) { return true; };
  const auto not_three = [](EntryId id) { return id != 3; };
  // 1 returns in 50 s; the coldest live block (2, idle 0 s: used "now")
  // goes after it.
  CHECK(order.FindVictim(any) == 1);
  order.Remove(1);
  CHECK(order.size() == 3);
  for (int i = 0; i < 2; ++i) {  // 0 and 2
    const EntryId v = order.FindVictim(not_three);
    REQUIRE(v != kNoEntry);
    CHECK(v != 1);
    order.Remove(v);
  }
  CHECK(order.FindVictim(not_three) == kNoEntry);
  CHECK(order.size() == 1);
  order.SetTime(100);  // 1's return time passes: nothing left to revive
  CHECK(order.FindVictim(any) == 3);
}

}  // namespace
}  // namespace kvtier::internal

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;

Trace ChatTrace(const TempDir& dir) {
  GenOptions o;
  o.kind = GenKind::kChat;
  o.sessions = 300;
  o.session_gap_s = 1;
  o.chat_think_s = 120;
  const std::string folder = (dir.path() / "chat").string();
  REQUIRE(WriteSessionsFolder(Generate(o), folder).ok());
  return testing::ReadOk(folder, TraceFormat::kSessions);
}

TEST_CASE("ttl hints: exact hints are the time to the session's next request",
          "[replay][ttl]") {
  TempDir dir;
  Trace t = ChatTrace(dir);
  REQUIRE(AddTtlHints(t, 0).ok());
  REQUIRE(t.ttl_hints.size() == t.requests());
  size_t hinted = 0, closed = 0;
  for (size_t r = 0; r < t.requests(); ++r) {
    const RequestContext c = t.ContextOf(r);
    if (c.session == SessionState::kClosed) {
      ++closed;
      CHECK(c.ttl_s == 0);
      continue;
    }
    // The session's next request, found the slow way.
    size_t next = r + 1;
    while (t.session_ids[next] != t.session_ids[r]) ++next;
    const double gap = std::max(t.TimeOf(next) - t.TimeOf(r), 1e-3);
    CHECK(c.ttl_s == Approx(gap).epsilon(1e-6));
    ++hinted;
  }
  CHECK(hinted > 0);
  CHECK(closed == 300);
}

TEST_CASE("ttl hints: noisy hints are off by about e^sigma, the same for a seed",
          "[replay][ttl]") {
  TempDir dir;
  Trace exact = ChatTrace(dir), noisy = exact, again = exact;
  REQUIRE(AddTtlHints(exact, 0).ok());
  REQUIRE(AddTtlHints(noisy, 1).ok());
  REQUIRE(AddTtlHints(again, 1).ok());
  CHECK(noisy.ttl_hints == again.ttl_hints);
  double sum = 0, sum2 = 0;
  size_t n = 0;
  for (size_t r = 0; r < exact.requests(); ++r) {
    if (exact.ttl_hints[r] == 0) continue;
    const double z = std::log(noisy.ttl_hints[r] / exact.ttl_hints[r]);
    sum += z;
    sum2 += z * z;
    ++n;
  }
  REQUIRE(n > 500);
  const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  CHECK(std::abs(mean) < 0.15);
  CHECK(sd == Approx(1).margin(0.1));
}

TEST_CASE("ttl hints: a trace without sessions and times, or a bad sigma, is refused",
          "[replay][ttl]") {
  TempDir dir;
  Trace mooncake =
      testing::ReadOk(testing::WriteFile(dir, "hand.jsonl", testing::kHandTrace),
                      TraceFormat::kMooncake, 4);
  const Status s = AddTtlHints(mooncake, 1);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("timestamp") != std::string::npos);
  CHECK(mooncake.ttl_hints.empty());
  Trace chat = ChatTrace(dir);
  for (const double sigma : {-1.0, 11.0, std::nan("")}) {
    INFO(sigma);
    const Status bad = AddTtlHints(chat, sigma);
    CHECK(bad.code() == StatusCode::kInvalidArgument);
    CHECK(bad.message().find("sigma") != std::string::npos);
  }
}

TEST_CASE(
    "ttl hints: the session policy with hints keeps capacity, prefixes and "
    "Belady's bound, and uses them",
    "[replay][ttl][policy]") {
  TempDir dir;
  Trace plain = ChatTrace(dir), hinted = plain;
  REQUIRE(AddTtlHints(hinted, 0.5).ok());
  for (const uint64_t capacity : {100u, 400u}) {
    INFO(capacity);
    const SimConfig config{capacity, 0, EvictionPolicy::kSession};
    const SimResult without = Simulate(plain, config);
    const SimResult with = Simulate(hinted, config);
    CHECK(with.hit_blocks <= BeladyHits(hinted, capacity).hits);
    CHECK(with.hit_blocks > without.hit_blocks);  // the hints matter here
    // Other policies ignore them.
    CHECK(Simulate(hinted, SimConfig{capacity, 0, EvictionPolicy::kSlru}).hit_blocks ==
          Simulate(plain, SimConfig{capacity, 0, EvictionPolicy::kSlru}).hit_blocks);
  }
  // The index's rules under hints: capacity and prefixes (as
  // policy_invariants_test.cc checks without them).
  std::array<internal::TierBudget, kNumTiers> budgets{};
  constexpr uint64_t kCapacity = 150;
  budgets[static_cast<int>(Tier::kHost)] = internal::TierBudget{true, kCapacity};
  internal::BlockIndex index(budgets, EvictionPolicy::kSession);
  size_t over = 0, broken = 0;
  for (size_t q = 0; q < hinted.requests(); ++q) {
    index.SetTime(hinted.TimeOf(q));
    const auto chain = hinted.chain(q);
    testing::IndexRequest(index, chain, hinted.ContextOf(q));
    over += index.used_units(Tier::kHost) > kCapacity;
    for (size_t i = 1; i < chain.size(); ++i) {
      broken += index.IsReady(chain[i], Tier::kHost) &&
                !index.IsReady(chain[i - 1], Tier::kHost);
    }
  }
  CHECK(over == 0);
  CHECK(broken == 0);
  CHECK(index.blocks_in(Tier::kHost) == kCapacity);
}

}  // namespace
}  // namespace kvtier::replay
