// The C API's leases and asynchronous transfers: a save and a load started,
// waited on per layer and whole, with per-block outcomes; a lease that keeps
// its prefix through a load; cancel; null arguments named.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "tests/c_api_test_support.h"

namespace {

using kvtier::testing::CChain;

struct CTransferStore {
  CTransferStore() {
    kvtier_options o;
    kvtier_options_init(&o);
    o.num_layers = 3;
    o.kv_heads = 2;
    o.head_dim = 8;
    o.block_tokens = 4;
    o.model_id = "c-transfer-model@1";
    o.host_capacity_bytes = 1 << 20;
    o.host_lock_memory = 0;
    REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  }
  ~CTransferStore() { kvtier_close(store); }
  std::vector<kvtier_block_hash> Chain(size_t blocks, uint32_t seed) {
    return CChain(store, blocks, seed);
  }
  std::vector<kvtier_segment> Segments(std::vector<uint8_t>& bytes, size_t blocks) {
    const size_t per_block = kvtier_segments_per_block(store);
    const size_t seg_bytes = kvtier_segment_bytes(store);
    bytes.resize(blocks * per_block * seg_bytes);
    std::vector<kvtier_segment> segs;
    for (size_t i = 0; i < blocks * per_block; ++i) {
      segs.push_back({bytes.data() + i * seg_bytes, seg_bytes, 0});
    }
    return segs;
  }
  kvtier_store* store = nullptr;
  kvtier_error err{};
};

TEST_CASE("c api: an async save then an async load, layer by layer, byte-exact",
          "[c_api][transfer]") {
  CTransferStore s;
  const std::vector<kvtier_block_hash> chain = s.Chain(3, 1);
  std::vector<uint8_t> src, dst;
  std::vector<kvtier_segment> src_segs = s.Segments(src, 3);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 29 + 5);
  std::vector<kvtier_segment> dst_segs = s.Segments(dst, 3);

  kvtier_transfer* save = nullptr;
  REQUIRE(kvtier_save_start(s.store, chain.data(), 3, 0, src_segs.data(), src_segs.size(),
                            &save, &s.err) == KVTIER_OK);
  src_segs.clear();  // the handle keeps its own segment list
  CHECK(kvtier_transfer_wait(save) == 3);
  CHECK(kvtier_transfer_done(save) == 1);
  CHECK(kvtier_transfer_block_count(save) == 3);
  CHECK(kvtier_transfer_outcome(save, 2) == KVTIER_BLOCK_DONE);
  CHECK(kvtier_transfer_outcome(save, 3) == KVTIER_BLOCK_PENDING);  // out of range
  kvtier_transfer_release(save);

  kvtier_transfer* load = nullptr;
  REQUIRE(kvtier_load_start(s.store, chain.data(), 3, dst_segs.data(), dst_segs.size(), 0,
                            &load, &s.err) == KVTIER_OK);
  for (uint32_t layer = 0; layer < 3; ++layer) {
    CHECK(kvtier_transfer_wait_layer(load, layer) == 3);
    CHECK(kvtier_transfer_layer_done(load, layer) == 1);
  }
  CHECK(kvtier_transfer_wait(load) == 3);
  CHECK(kvtier_transfer_outcome(load, 0) == KVTIER_BLOCK_DONE);
  kvtier_transfer_release(load);
  CHECK(dst == src);

  kvtier_call_stats calls{};
  calls.struct_size = sizeof(calls);
  REQUIRE(kvtier_call_stats_get(s.store, &calls, &s.err) == KVTIER_OK);
  CHECK(calls.transfers_started == 2);
}

TEST_CASE("c api: a lease serves its prefix to the load that names it",
          "[c_api][lease]") {
  CTransferStore s;
  const std::vector<kvtier_block_hash> chain = s.Chain(2, 2);
  std::vector<uint8_t> src, dst;
  std::vector<kvtier_segment> src_segs = s.Segments(src, 2);
  std::vector<kvtier_segment> dst_segs = s.Segments(dst, 2);
  REQUIRE(kvtier_save(s.store, chain.data(), 2, 0, src_segs.data(), src_segs.size(),
                      nullptr, &s.err) == KVTIER_OK);
  size_t hit = 0, loaded = 0;
  uint64_t lease = 0;
  REQUIRE(kvtier_lookup_and_lease(s.store, chain.data(), 2, 5000, &hit, &lease, &s.err) ==
          KVTIER_OK);
  CHECK(hit == 2);
  CHECK(lease != 0);
  REQUIRE(kvtier_load_leased(s.store, chain.data(), 2, dst_segs.data(), dst_segs.size(),
                             lease, &loaded, &s.err) == KVTIER_OK);
  CHECK(loaded == 2);
  int released = 1;
  REQUIRE(kvtier_release_lease(s.store, lease, &released, &s.err) == KVTIER_OK);
  CHECK(released == 0);  // the load ended it

  REQUIRE(kvtier_lookup_and_lease(s.store, chain.data(), 2, 5000, &hit, &lease, &s.err) ==
          KVTIER_OK);
  REQUIRE(kvtier_release_lease(s.store, lease, &released, &s.err) == KVTIER_OK);
  CHECK(released == 1);
  CHECK(kvtier_lookup_and_lease(s.store, chain.data(), 2, 0, &hit, &lease, &s.err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK(std::string(s.err.message).find("lease_ms") != std::string::npos);
}

TEST_CASE("c api: transfer calls name null arguments and take null handles",
          "[c_api][transfer]") {
  CTransferStore s;
  const std::vector<kvtier_block_hash> chain = s.Chain(1, 3);
  std::vector<uint8_t> bytes;
  std::vector<kvtier_segment> segs = s.Segments(bytes, 1);
  kvtier_transfer* t = nullptr;
  CHECK(kvtier_load_start(s.store, chain.data(), 1, segs.data(), segs.size(), 0, nullptr,
                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CHECK(std::string(s.err.message).find("out") != std::string::npos);
  CHECK(kvtier_save_start(s.store, chain.data(), 1, 2, segs.data(), segs.size(), &t,
                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CHECK(std::string(s.err.message).find("first_block") != std::string::npos);
  CHECK(kvtier_load_start(s.store, chain.data(), 1, segs.data(), segs.size() - 1, 0, &t,
                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CHECK(t == nullptr);
  size_t hit = 0;
  uint64_t lease = 0;
  CHECK(kvtier_lookup_and_lease(s.store, chain.data(), 1, 10, &hit, nullptr, &s.err) ==
        KVTIER_INVALID_ARGUMENT);
  CHECK(kvtier_transfer_done(nullptr) == 1);
  CHECK(kvtier_transfer_wait(nullptr) == 0);
  kvtier_transfer_cancel(nullptr);
  kvtier_transfer_release(nullptr);
  (void)lease;
  (void)hit;
}

TEST_CASE("c api: a cancelled load reports cancelled or done blocks, never pending",
          "[c_api][transfer]") {
  CTransferStore s;
  const std::vector<kvtier_block_hash> chain = s.Chain(4, 4);
  std::vector<uint8_t> src, dst;
  std::vector<kvtier_segment> src_segs = s.Segments(src, 4);
  std::vector<kvtier_segment> dst_segs = s.Segments(dst, 4);
  REQUIRE(kvtier_save(s.store, chain.data(), 4, 0, src_segs.data(), src_segs.size(),
                      nullptr, &s.err) == KVTIER_OK);
  kvtier_transfer* load = nullptr;
  REQUIRE(kvtier_load_start(s.store, chain.data(), 4, dst_segs.data(), dst_segs.size(), 0,
                            &load, &s.err) == KVTIER_OK);
  kvtier_transfer_cancel(load);
  kvtier_transfer_wait(load);
  for (size_t b = 0; b < 4; ++b) {
    const kvtier_block_outcome o = kvtier_transfer_outcome(load, b);
    CHECK((o == KVTIER_BLOCK_DONE || o == KVTIER_BLOCK_CANCELLED));
  }
  kvtier_transfer_release(load);
  size_t hit = 0;
  REQUIRE(kvtier_lookup(s.store, chain.data(), 4, &hit, &s.err) == KVTIER_OK);
  CHECK(hit == 4);  // cancelling gave the pins back; nothing was lost
}

}  // namespace
