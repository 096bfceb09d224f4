// The engine's request context through the Store (LoadOptions and
// SaveOptions, kvtier/request_context.h): with EvictionPolicy::kSession a
// closed session's own blocks leave first, in the Store as in replay; bad
// fields are InvalidArgument naming them, and the store stays usable.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "kvtier/kvtier.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;

Options SessionOptions(size_t capacity_blocks) {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "test-model@1";
  o.host.capacity_bytes = testing::HostBytesFor(o.layout, capacity_blocks);
  o.host.lock_memory = false;
  o.eviction = EvictionPolicy::kSession;
  return o;
}

std::vector<uint32_t> Tokens(size_t n, uint32_t seed) {
  return testing::SeededTokens(n, seed);
}

RequestContext Session(uint64_t id, SessionState state) {
  RequestContext c;
  c.session_id = id;
  c.session = state;
  return c;
}

// Session 1 saves chain a (in two requests), session 2 chain b (after a).
// Session 1's last request closes it: its later blocks go to the cold end although they
// are now the most recent. One more block evicts a's tail, not b's, which the order alone
// would pick (b was used longer ago).
enum class CloseBy { kLoad, kSave };

void CloseAndEvict(CloseBy close_by) {
  auto opened = Store::Open(SessionOptions(8));
  REQUIRE(opened.ok());
  Store& store = **opened;
  const auto a = store.hasher().Chain(Tokens(16, 1));  // 4 blocks
  const auto b = store.hasher().Chain(Tokens(16, 2));
  EngineBuffers ba(store.layout(), 4), bb(store.layout(), 4);
  ba.FillFrom(a);
  bb.FillFrom(b);
  // Session 1's first request saves a's first two blocks (its opening
  // blocks, kept as any other), the next one its last two.
  const auto a_opening = store.hasher().Chain(Tokens(8, 1));
  EngineBuffers bo(store.layout(), 2);
  bo.FillFrom(a_opening);
  REQUIRE(store.Save(a_opening, bo.all(), 0, SaveOptions{Session(1, SessionState::kOpen)})
              .ok());
  REQUIRE(store.Save(a, ba.all(), 0, SaveOptions{Session(1, SessionState::kOpen)}).ok());
  REQUIRE(store.Save(b, bb.all(), 0, SaveOptions{Session(2, SessionState::kOpen)}).ok());
  const RequestContext last = Session(1, SessionState::kClosed);
  if (close_by == CloseBy::kLoad) {
    REQUIRE(store.Load(a, ba.all(), LoadOptions{0, last})->blocks == 4);
  } else {
    REQUIRE(store.Save(a, ba.all(), 0, SaveOptions{last})->refreshed == 4);
  }
  const auto c = store.hasher().Chain(Tokens(4, 3));
  EngineBuffers bc(store.layout(), 1);
  bc.FillFrom(c);
  REQUIRE(store.Save(c, bc.all())->stored == 1);
  CHECK(store.Lookup(a).blocks == 3);
  CHECK(store.Lookup(b).blocks == 4);
}

TEST_CASE("store: a session closed by its last Load has its own blocks evicted first",
          "[store][session]") {
  CloseAndEvict(CloseBy::kLoad);
}

TEST_CASE("store: a session closed by its last Save has its own blocks evicted first",
          "[store][session]") {
  CloseAndEvict(CloseBy::kSave);
}

TEST_CASE("store: a bad request context is InvalidArgument naming the field",
          "[store][session]") {
  auto opened = Store::Open(SessionOptions(8));
  REQUIRE(opened.ok());
  Store& store = **opened;
  const auto a = store.hasher().Chain(Tokens(8, 1));
  EngineBuffers buf(store.layout(), 2);
  buf.FillFrom(a);

  RequestContext bad_ttl;
  bad_ttl.ttl_s = -1;
  auto saved = store.Save(a, buf.all(), 0, SaveOptions{bad_ttl});
  REQUIRE_FALSE(saved.ok());
  CHECK(saved.status().code() == StatusCode::kInvalidArgument);
  CHECK(saved.status().message().find("save.context.ttl_s") != std::string::npos);
  bad_ttl.ttl_s = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(store.Save(a, buf.all(), 0, SaveOptions{bad_ttl}).ok());

  RequestContext bad_state;
  bad_state.session = static_cast<SessionState>(7);
  auto loaded = store.Load(a, buf.all(), LoadOptions{0, bad_state});
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message().find("load.context.session") != std::string::npos);

  // Still usable, and nothing was stored by the refused save.
  CHECK(store.Lookup(a).blocks == 0);
  REQUIRE(store.Save(a, buf.all())->stored == 2);
  CHECK(store.Load(a, buf.all())->blocks == 2);
  CHECK(store.Stats().invalid_calls == 3);
}

// The TTL hint through the Store (its clock: the steady clock). Session 2's
// block b goes in first; session 1 opens with a's first block, then saves
// a's second with `ttl_s`; a third session's block needs room (capacity 3;
// a's first block holds its child, so the choice is a's tail or b).
// Expected back in an hour, a's tail goes before b, idle for milliseconds;
// without a hint b, the coldest, goes.
// `pause`: between the hinted save and the last one.
void SaveWithTtl(double ttl_s, std::chrono::milliseconds pause, bool* a_tail_kept,
                 bool* b_kept) {
  auto opened = Store::Open(SessionOptions(3));
  REQUIRE(opened.ok());
  Store& store = **opened;
  const auto b = store.hasher().Chain(Tokens(4, 2));
  const auto a = store.hasher().Chain(Tokens(8, 1));
  const auto c = store.hasher().Chain(Tokens(4, 3));
  EngineBuffers bb(store.layout(), 1), ba(store.layout(), 2), bc(store.layout(), 1);
  bb.FillFrom(b);
  ba.FillFrom(a);
  bc.FillFrom(c);
  REQUIRE(store.Save(b, bb.all(), 0, SaveOptions{Session(2, SessionState::kOpen)}).ok());
  const auto a_opening = store.hasher().Chain(Tokens(4, 1));  // a's first block
  EngineBuffers bo(store.layout(), 1);
  bo.FillFrom(a_opening);
  REQUIRE(
      store.Save(a_opening, bo.all(), 0, SaveOptions{Session(1, SessionState::kOpen)})
          ->stored == 1);
  RequestContext hinted = Session(1, SessionState::kOpen);
  hinted.ttl_s = ttl_s;
  REQUIRE(store.Save(a, ba.all(), 0, SaveOptions{hinted})->stored == 1);
  std::this_thread::sleep_for(pause);
  REQUIRE(
      store.Save(c, bc.all(), 0, SaveOptions{Session(3, SessionState::kOpen)})->stored ==
      1);
  *a_tail_kept = store.Lookup(a).blocks == 2;
  *b_kept = store.Lookup(b).blocks == 1;
  CHECK(store.Lookup(c).blocks == 1);
}

TEST_CASE(
    "store: a block whose session is expected back in an hour goes before an "
    "older one",
    "[store][session][ttl]") {
  using std::chrono::milliseconds;
  bool a_tail = true, b = false;
  SaveWithTtl(3600, milliseconds(0), &a_tail, &b);
  CHECK_FALSE(a_tail);
  CHECK(b);
  SaveWithTtl(0, milliseconds(0), &a_tail, &b);  // no hint: the coldest block goes
  CHECK(a_tail);
  CHECK_FALSE(b);
  // Expected back in 50 ms, not back after 300: live again (the Store's
  // clock moved), and more recent than b.
  SaveWithTtl(0.05, milliseconds(300), &a_tail, &b);
  CHECK(a_tail);
  CHECK_FALSE(b);
}

}  // namespace
}  // namespace kvtier
