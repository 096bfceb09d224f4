// SessionOrder and the engine's hints (kvtier/request_context.h): a closed
// session's own blocks go first, tails first; blocks another session used
// and a session's opening blocks stay; priority protects; without a context it is SLRU.
// And the sessions reader's contexts: each session closed on its last request.
#include <catch2/catch.hpp>

#include <vector>

#include "lib/index/block_index.h"
#include "lib/index/session_order.h"
#include "lib/index/slru_order.h"
#include "tests/replay_support.h"

namespace kvtier::internal {
namespace {

using kvtier::testing::TempDir;

BlockHash H(uint64_t n) { return BlockHash{n * 0x9E3779B97F4A7C15ull + 1, n}; }

std::array<TierBudget, kNumTiers> Host(uint64_t blocks) {
  std::array<TierBudget, kNumTiers> b{};
  b[static_cast<int>(Tier::kHost)] = TierBudget{true, blocks};
  return b;
}

// The Store's save sequence, then the context.
void Save(BlockIndex& index, const std::vector<BlockHash>& chain,
          const RequestContext& context) {
  std::vector<BlockHash> added;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (index.IsPresent(chain[i], Tier::kHost)) continue;
    REQUIRE(index.MakeRoom(Tier::kHost, 1, i > 0 ? &chain[i - 1] : nullptr));
    index.AddPending(Tier::kHost, chain[i], i > 0 ? &chain[i - 1] : nullptr, 0);
    added.push_back(chain[i]);
  }
  for (const BlockHash& h : added) index.MarkReady(Tier::kHost, h);
  index.TouchChain(chain, /*hit=*/false, context);
}

RequestContext Session(uint64_t id, SessionState state) {
  RequestContext c;
  c.session_id = id;
  c.session = state;
  return c;
}

TEST_CASE("session: a closed session's later blocks are evicted first, shared ones stay",
          "[policy][session]") {
  BlockIndex index(Host(6), EvictionPolicy::kSession);
  // Session 1: system prompt 1, its opening block 2. Session 2: 1, then 4.
  Save(index, {H(1), H(2)}, Session(1, SessionState::kOpen));
  Save(index, {H(1), H(4)}, Session(2, SessionState::kOpen));
  // Session 1 ends, adding 3: 3 goes to the cold end; 1 is shared and 2 is
  // session 1's opening block, both stay where LRU has them.
  Save(index, {H(1), H(2), H(3)}, Session(1, SessionState::kClosed));
  Save(index, {H(5), H(6)}, Session(3, SessionState::kOpen));  // fills the tier
  Save(index, {H(7)}, Session(4, SessionState::kOpen));        // one must go
  CHECK_FALSE(index.IsPresent(H(3), Tier::kHost));             // demoted: first
  for (const uint64_t kept : {1, 2, 4, 5, 6, 7}) {
    INFO(kept);
    CHECK(index.IsReady(H(kept), Tier::kHost));
  }
}

TEST_CASE("session: a session of one request leaves its blocks in LRU order",
          "[policy][session]") {
  // A document read by one session so far: the next reader may come soon,
  // so closing the session does not push it out ahead of LRU's choice.
  BlockIndex index(Host(4), EvictionPolicy::kSession);
  Save(index, {H(3), H(4)}, Session(2, SessionState::kOpen));
  Save(index, {H(1), H(2)}, Session(1, SessionState::kClosed));
  Save(index, {H(5)}, Session(3, SessionState::kOpen));  // one must go
  CHECK_FALSE(index.IsPresent(H(4), Tier::kHost));       // LRU's coldest
  for (const uint64_t kept : {1, 2, 3, 5}) {
    INFO(kept);
    CHECK(index.IsReady(H(kept), Tier::kHost));
  }
}

TEST_CASE("session: a closed session's opening block goes before an older live block",
          "[policy][session]") {
  BlockIndex index(Host(3), EvictionPolicy::kSession);
  Save(index, {H(2)}, Session(2, SessionState::kOpen));    // live, the oldest
  Save(index, {H(1)}, Session(1, SessionState::kClosed));  // opening, closed
  Save(index, {H(3)}, Session(3, SessionState::kOpen));    // fills the tier
  // 1 was closed less than half as long ago as 2 was used: weighted
  // (kOpeningAgeWeight), it is the older, and goes although LRU keeps it.
  Save(index, {H(4)}, Session(4, SessionState::kOpen));
  CHECK_FALSE(index.IsPresent(H(1), Tier::kHost));
  for (const uint64_t kept : {2, 3, 4}) {
    INFO(kept);
    CHECK(index.IsReady(H(kept), Tier::kHost));
  }
}

TEST_CASE("session: without a context the order is SLRU's", "[policy][session]") {
  SessionOrder session;
  SlruOrder slru;
  const auto any = [](EntryId) { return true; };
  for (EntryId id = 0; id < 20; ++id) {
    session.Insert(id);
    slru.Insert(id);
  }
  for (const EntryId id : {3u, 7u, 3u, 11u}) {
    session.Hit(id);
    slru.Hit(id);
  }
  session.Touch(5);
  slru.Touch(5);
  for (int i = 0; i < 20; ++i) {
    const EntryId v = slru.FindVictim(any);
    REQUIRE(session.FindVictim(any) == v);
    session.Remove(v);
    slru.Remove(v);
  }
}

TEST_CASE("session: priority protects a block like a hit", "[policy][session]") {
  SessionOrder order;
  const auto any = [](EntryId) { return true; };
  for (EntryId id = 0; id < 10; ++id) order.Insert(id);
  RequestContext urgent;
  urgent.priority = 1;
  order.Used(0, urgent);  // the coldest, now protected
  CHECK(order.FindVictim(any) == 1);
}

TEST_CASE("sessions reader: each session's last request carries a closed context",
          "[policy][session][replay]") {
  TempDir dir;
  replay::testing::WriteFile(dir, "a.json", R"({"block_size": 4, "requests": [
      {"hash_ids": [1], "timestamp": 0}, {"hash_ids": [1, 2], "timestamp": 20}]})");
  replay::testing::WriteFile(dir, "b.json", R"({"block_size": 4, "requests": [
      {"hash_ids": [1], "timestamp": 10}]})");
  const replay::Trace t =
      replay::testing::ReadOk(dir.path().string(), replay::TraceFormat::kSessions);
  REQUIRE(t.requests() == 3);
  CHECK(t.ContextOf(0).session_id == 1);
  CHECK(t.ContextOf(0).session == SessionState::kOpen);
  CHECK(t.ContextOf(1).session_id == 2);
  CHECK(t.ContextOf(1).session == SessionState::kClosed);
  CHECK(t.ContextOf(2).session_id == 1);
  CHECK(t.ContextOf(2).session == SessionState::kClosed);
}

}  // namespace
}  // namespace kvtier::internal
