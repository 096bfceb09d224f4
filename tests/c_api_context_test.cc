// The C API's request context (kvtier_request_context with
// kvtier_load_in_context and kvtier_save_in_context): a session closed by its
// last load has its own blocks evicted first, as through the C++ Store; a
// bad field is KVTIER_INVALID_ARGUMENT naming it; NULL is no context.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "tests/c_api_test_support.h"

namespace {

using kvtier::testing::CChain;
using kvtier::testing::CheckNames;
using kvtier::testing::SmallCOptions;

// A session-ordered store that holds exactly `blocks` blocks.
struct SessionStore {
  explicit SessionStore(size_t blocks) {
    kvtier_options o = SmallCOptions("c-context-model@1");
    kvtier_store* probe = nullptr;
    REQUIRE(kvtier_open(&o, &probe, &err) == KVTIER_OK);
    const size_t block = kvtier_segments_per_block(probe) * kvtier_segment_bytes(probe);
    kvtier_close(probe);
    o.host_capacity_bytes = blocks * ((64 + block + 63) / 64 * 64);  // header + block
    o.eviction = KVTIER_EVICTION_SESSION;
    REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
    per_block = kvtier_segments_per_block(store);
    bytes.resize(4 * per_block * kvtier_segment_bytes(store));
    for (size_t s = 0; s < 4 * per_block; ++s) {
      segs.push_back(kvtier_segment{bytes.data() + s * kvtier_segment_bytes(store),
                                    kvtier_segment_bytes(store), 0});
    }
  }
  ~SessionStore() { kvtier_close(store); }
  std::vector<kvtier_block_hash> Chain(size_t blocks, uint32_t seed) {
    return CChain(store, blocks, seed);
  }
  size_t Lookup(const std::vector<kvtier_block_hash>& chain) {
    size_t hit = 0;
    REQUIRE(kvtier_lookup(store, chain.data(), chain.size(), &hit, &err) == KVTIER_OK);
    return hit;
  }
  kvtier_code Save(const std::vector<kvtier_block_hash>& chain,
                   const kvtier_request_context* context) {
    return kvtier_save_in_context(store, chain.data(), chain.size(), 0, segs.data(),
                                  chain.size() * per_block, context, nullptr, &err);
  }
  kvtier_store* store = nullptr;
  kvtier_error err{};
  size_t per_block = 0;
  std::vector<uint8_t> bytes;
  std::vector<kvtier_segment> segs;
};

kvtier_request_context Session(uint64_t id, kvtier_session_state state) {
  kvtier_request_context c;
  kvtier_request_context_init(&c);
  c.session_id = id;
  c.session_state = state;
  return c;
}

TEST_CASE("c api: a session closed by its last load has its own blocks evicted first",
          "[c_api][session]") {
  SessionStore s(8);
  const auto a = s.Chain(4, 1), b = s.Chain(4, 2), c = s.Chain(1, 3);
  const kvtier_request_context open1 = Session(1, KVTIER_SESSION_OPEN);
  const kvtier_request_context open2 = Session(2, KVTIER_SESSION_OPEN);
  // Session 1's first request saves a's first two blocks (its opening
  // blocks, kept as any other), the next one its last two.
  REQUIRE(s.Save(s.Chain(2, 1), &open1) == KVTIER_OK);
  REQUIRE(s.Save(a, &open1) == KVTIER_OK);
  REQUIRE(s.Save(b, &open2) == KVTIER_OK);
  const kvtier_request_context closed = Session(1, KVTIER_SESSION_CLOSED);
  size_t loaded = 0;
  REQUIRE(kvtier_load_in_context(s.store, a.data(), a.size(), s.segs.data(),
                                 a.size() * s.per_block, 0, &closed, &loaded,
                                 &s.err) == KVTIER_OK);
  REQUIRE(loaded == 4);
  REQUIRE(s.Save(c, nullptr) == KVTIER_OK);  // NULL: no context
  CHECK(s.Lookup(a) == 3);
  CHECK(s.Lookup(b) == 4);
}

// ttl_s through the C API (as request_context_test.cc through C++): b is
// saved first; session 1 opens with a's first block, then saves a's second
// with `ttl_s`; c needs room (3 blocks; a's first holds its child).
void SaveWithTtl(double ttl_s, size_t* a_hit, size_t* b_hit) {
  SessionStore s(3);
  const auto a = s.Chain(2, 1), b = s.Chain(1, 2), c = s.Chain(1, 3);
  const kvtier_request_context open1 = Session(1, KVTIER_SESSION_OPEN);
  REQUIRE(s.Save(b, nullptr) == KVTIER_OK);
  REQUIRE(s.Save(s.Chain(1, 1), &open1) == KVTIER_OK);
  kvtier_request_context hinted = open1;
  hinted.ttl_s = ttl_s;
  REQUIRE(s.Save(a, &hinted) == KVTIER_OK);
  REQUIRE(s.Save(c, nullptr) == KVTIER_OK);
  *a_hit = s.Lookup(a);
  *b_hit = s.Lookup(b);
}

TEST_CASE("c api: a block whose session is expected back in an hour goes first",
          "[c_api][session][ttl]") {
  size_t a = 0, b = 0;
  SaveWithTtl(3600, &a, &b);
  CHECK(a == 1);  // its tail went
  CHECK(b == 1);
  SaveWithTtl(0, &a, &b);  // no hint: b, the coldest, went
  CHECK(a == 2);
  CHECK(b == 0);
}

TEST_CASE("c api: a bad request context is invalid argument naming its field",
          "[c_api][session]") {
  SessionStore s(8);
  const auto a = s.Chain(2, 1);
  kvtier_request_context c = Session(1, KVTIER_SESSION_OPEN);
  c.struct_size = 3;
  CHECK(s.Save(a, &c) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "context.struct_size");
  c = Session(1, KVTIER_SESSION_OPEN);
  c.session_state = 9;
  CHECK(s.Save(a, &c) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "context.session_state");
  c = Session(1, KVTIER_SESSION_OPEN);
  c.ttl_s = -5;
  size_t loaded = 7;
  CHECK(kvtier_load_in_context(s.store, a.data(), a.size(), s.segs.data(),
                               a.size() * s.per_block, 0, &c, &loaded,
                               &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "load.context.ttl_s");
  CHECK(loaded == 0);
  // Nothing stored by the refused calls; the store still works.
  CHECK(s.Lookup(a) == 0);
  REQUIRE(s.Save(a, nullptr) == KVTIER_OK);
  CHECK(s.Lookup(a) == 2);
}

}  // namespace
