// The C API's split calls the engines' glue uses on its own: engine keys
// named by the scheduler (the chains a rank-0 store names), a rank's result
// bytes read without the scheduler, and the freed blocks of a save plan;
// every null argument or bad input refused with a message naming the field.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "tests/c_api_test_support.h"

namespace {

using kvtier::testing::CheckNames;
using kvtier::testing::SmallCOptions;

struct CScheduler {
  explicit CScheduler(uint32_t rank = 0, uint32_t ranks = 1) {
    kvtier_options o = SmallCOptions();
    o.rank = rank;
    REQUIRE(kvtier_scheduler_open(&o, ranks, &scheduler, &err) == KVTIER_OK);
  }
  ~CScheduler() { kvtier_scheduler_close(scheduler); }
  CScheduler(const CScheduler&) = delete;
  CScheduler& operator=(const CScheduler&) = delete;
  kvtier_scheduler* scheduler = nullptr;
  kvtier_error err{};
};

struct CWorker {
  CWorker() {
    kvtier_options o = SmallCOptions();
    REQUIRE(kvtier_worker_open(&o, &worker, &err) == KVTIER_OK);
  }
  ~CWorker() { kvtier_worker_close(worker); }
  CWorker(const CWorker&) = delete;
  CWorker& operator=(const CWorker&) = delete;
  void Join(CScheduler& s) {
    kvtier_bytes hello{}, reply{};
    REQUIRE(kvtier_worker_hello(worker, &hello, &err) == KVTIER_OK);
    REQUIRE(kvtier_scheduler_join(s.scheduler, hello.data, hello.size, &reply, &err) ==
            KVTIER_OK);
    REQUIRE(kvtier_worker_apply_join(worker, reply.data, reply.size, &err) == KVTIER_OK);
    kvtier_bytes_free(&hello);
    kvtier_bytes_free(&reply);
  }
  std::vector<uint8_t> Execute(const kvtier_plan& plan,
                               std::vector<kvtier_segment>& segs) {
    kvtier_bytes out{};
    REQUIRE(kvtier_worker_execute(worker, plan.bytes.data, plan.bytes.size, segs.data(),
                                  segs.size(), &out, &err) == KVTIER_OK);
    std::vector<uint8_t> bytes(out.data, out.data + out.size);
    kvtier_bytes_free(&out);
    return bytes;
  }
  kvtier_worker* worker = nullptr;
  kvtier_error err{};
};

// `blocks` blocks of a chain (the tests' small layout) and host memory for
// them, every byte `fill`, as one segment list.
struct CEngineBlocks {
  CEngineBlocks(size_t blocks, uint32_t seed, unsigned char fill) {
    kvtier::testing::CStore probe;
    const size_t seg_bytes = kvtier_segment_bytes(probe.store);
    const size_t per_block = kvtier_segments_per_block(probe.store);
    chain = kvtier::testing::CChain(probe.store, blocks, seed);
    memory.assign(blocks * per_block * seg_bytes, fill);
    for (size_t i = 0; i < blocks * per_block; ++i)
      segs.push_back({memory.data() + i * seg_bytes, seg_bytes, 0});
  }
  std::vector<kvtier_block_hash> chain;
  std::vector<unsigned char> memory;
  std::vector<kvtier_segment> segs;
};

// Two vLLM block hashes (32 bytes each), end to end.
const std::string kVllmKeys = std::string(32, 'a') + std::string(32, 'b');
const std::vector<size_t> kVllmSizes = {32, 32};

kvtier_code SchedulerChain(CScheduler& s, std::vector<kvtier_block_hash>& out,
                           uint32_t group) {
  return kvtier_scheduler_engine_key_chain(
      s.scheduler, KVTIER_KEYS_VLLM, group,
      reinterpret_cast<const uint8_t*>(kVllmKeys.data()), kVllmKeys.size(),
      kVllmSizes.data(), kVllmSizes.size(), out.data(), out.size(), &s.err);
}

std::vector<kvtier_block_hash> StoreChain(uint32_t rank, uint32_t group) {
  kvtier_options o = SmallCOptions();
  o.rank = rank;
  kvtier_store* store = nullptr;
  kvtier_error err{};
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  std::vector<kvtier_block_hash> out(2);
  REQUIRE(kvtier_engine_key_chain(store, KVTIER_KEYS_VLLM, group,
                                  reinterpret_cast<const uint8_t*>(kVllmKeys.data()),
                                  kVllmKeys.size(), kVllmSizes.data(), kVllmSizes.size(),
                                  out.data(), out.size(), &err) == KVTIER_OK);
  kvtier_close(store);
  return out;
}

bool Same(const std::vector<kvtier_block_hash>& a,
          const std::vector<kvtier_block_hash>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].lo != b[i].lo || a[i].hi != b[i].hi) return false;
  }
  return true;
}

TEST_CASE("c api: the scheduler names engine keys as a rank-0 store does",
          "[c_api][split]") {
  CScheduler s(/*rank=*/1, /*ranks=*/2);  // its options' rank does not matter
  std::vector<kvtier_block_hash> got(2);
  REQUIRE(SchedulerChain(s, got, /*group=*/2) == KVTIER_OK);
  CHECK(Same(got, StoreChain(/*rank=*/0, /*group=*/2)));
  CHECK_FALSE(Same(got, StoreChain(/*rank=*/1, /*group=*/2)));
  CHECK_FALSE(Same(got, StoreChain(/*rank=*/0, /*group=*/1)));
}

TEST_CASE("c api: scheduler engine keys refuse null arguments and bad keys by field",
          "[c_api][split]") {
  CScheduler s;
  std::vector<kvtier_block_hash> out(2);
  const auto* keys = reinterpret_cast<const uint8_t*>(kVllmKeys.data());
  CHECK(kvtier_scheduler_engine_key_chain(nullptr, KVTIER_KEYS_VLLM, 0, keys, 64,
                                          kVllmSizes.data(), 2, out.data(), 2,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "scheduler");
  CHECK(kvtier_scheduler_engine_key_chain(s.scheduler, KVTIER_KEYS_VLLM, 0, nullptr, 64,
                                          kVllmSizes.data(), 2, out.data(), 2,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "key_bytes");
  CHECK(kvtier_scheduler_engine_key_chain(s.scheduler, KVTIER_KEYS_VLLM, 0, keys, 64,
                                          nullptr, 2, out.data(), 2,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "key_sizes");
  CHECK(kvtier_scheduler_engine_key_chain(s.scheduler, KVTIER_KEYS_VLLM, 0, keys, 64,
                                          kVllmSizes.data(), 2, nullptr, 2,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "out");
  CHECK(kvtier_scheduler_engine_key_chain(s.scheduler, KVTIER_KEYS_VLLM, 0, keys, 64,
                                          kVllmSizes.data(), 2, out.data(), 1,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_key_chain.n_out");
  const std::vector<size_t> uneven = {32, 31};
  CHECK(kvtier_scheduler_engine_key_chain(s.scheduler, KVTIER_KEYS_VLLM, 0, keys, 64,
                                          uneven.data(), 2, out.data(), 2,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_key_chain.key_bytes_len");
  const std::vector<size_t> short_key = {8, 56};  // not a vLLM block hash
  CHECK(kvtier_scheduler_engine_key_chain(s.scheduler, KVTIER_KEYS_VLLM, 0, keys, 64,
                                          short_key.data(), 2, out.data(), 2,
                                          &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_keys.keys[0]");
  // Still usable.
  CHECK(SchedulerChain(s, out, 0) == KVTIER_OK);
}

TEST_CASE("c api: a rank reads its own result bytes without the scheduler",
          "[c_api][split]") {
  CScheduler s;
  CWorker w;
  w.Join(s);
  CEngineBlocks engine(3, 4, 0x5a);
  const std::vector<kvtier_block_hash>& chain = engine.chain;
  std::vector<kvtier_segment>& segs = engine.segs;

  kvtier_plan save{};
  REQUIRE(kvtier_scheduler_plan_save(s.scheduler, chain.data(), 3, 0, nullptr, 0, &save,
                                     &s.err) == KVTIER_OK);
  const std::vector<uint8_t> saved = w.Execute(save, segs);
  size_t moves = 0, failed = 0;
  REQUIRE(kvtier_worker_result_moves(saved.data(), saved.size(), &moves, &failed,
                                     &s.err) == KVTIER_OK);
  CHECK(moves == 3);
  CHECK(failed == 0);
  const uint8_t* results[] = {saved.data()};
  const size_t sizes[] = {saved.size()};
  size_t blocks = 0;
  REQUIRE(kvtier_scheduler_commit(s.scheduler, save.ticket, results, sizes, 1, &blocks,
                                  nullptr, &s.err) == KVTIER_OK);
  CHECK(blocks == 3);
  kvtier_bytes_free(&save.bytes);

  // The same load plan on this worker and on a fresh one of the same rank
  // (a restart: its host tier is empty): the fresh one failed every move.
  kvtier_plan load{};
  REQUIRE(kvtier_scheduler_plan_load(s.scheduler, chain.data(), 3, &load, &s.err) ==
          KVTIER_OK);
  const std::vector<uint8_t> loaded = w.Execute(load, segs);
  REQUIRE(kvtier_worker_result_moves(loaded.data(), loaded.size(), &moves, &failed,
                                     &s.err) == KVTIER_OK);
  CHECK(moves >= 3);
  CHECK(failed == 0);
  CWorker restarted;
  const std::vector<uint8_t> lost = restarted.Execute(load, segs);
  REQUIRE(kvtier_worker_result_moves(lost.data(), lost.size(), &moves, &failed, &s.err) ==
          KVTIER_OK);
  CHECK(failed == 3);
  kvtier_bytes_free(&load.bytes);
}

TEST_CASE("c api: result bytes that are null damaged or cut are refused by field",
          "[c_api][split]") {
  kvtier_error err{};
  size_t moves = 0, failed = 0;
  CHECK(kvtier_worker_result_moves(nullptr, 4, &moves, &failed, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "result");
  const std::vector<uint8_t> junk(40, 0x11);
  CHECK(kvtier_worker_result_moves(junk.data(), junk.size(), nullptr, &failed, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "moves");
  CHECK(kvtier_worker_result_moves(junk.data(), junk.size(), &moves, nullptr, &err) ==
        KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "failed");
  CHECK(kvtier_worker_result_moves(junk.data(), junk.size(), &moves, &failed, &err) ==
        KVTIER_CORRUPTION);
  CHECK(kvtier_worker_result_moves(nullptr, 0, &moves, &failed, &err) ==
        KVTIER_CORRUPTION);
}

TEST_CASE("c api: every cut of good result bytes is Corruption never a read past them",
          "[c_api][split]") {
  CScheduler s;
  CWorker w;
  w.Join(s);
  CEngineBlocks engine(2, 5, 0x33);
  const std::vector<kvtier_block_hash>& chain = engine.chain;
  std::vector<kvtier_segment>& segs = engine.segs;
  kvtier_plan save{};
  REQUIRE(kvtier_scheduler_plan_save(s.scheduler, chain.data(), 2, 0, nullptr, 0, &save,
                                     &s.err) == KVTIER_OK);
  const std::vector<uint8_t> result = w.Execute(save, segs);
  size_t moves = 0, failed = 0;
  for (size_t n = 0; n < result.size(); ++n) {
    INFO("cut to " << n);
    // A heap copy of exactly n bytes: ASAN sees any read past them.
    std::vector<uint8_t> cut(result.begin(), result.begin() + static_cast<long>(n));
    CHECK(kvtier_worker_result_moves(cut.data(), cut.size(), &moves, &failed, &s.err) ==
          KVTIER_CORRUPTION);
  }
  REQUIRE(kvtier_scheduler_commit(s.scheduler, save.ticket, nullptr, nullptr, 0, nullptr,
                                  nullptr, &s.err) != KVTIER_OK);  // blocks is required
  CheckNames(s.err, "blocks");
  size_t blocks = 0;
  REQUIRE(kvtier_scheduler_commit(s.scheduler, save.ticket, nullptr, nullptr, 0, &blocks,
                                  nullptr, &s.err) == KVTIER_OK);
  kvtier_bytes_free(&save.bytes);
}

TEST_CASE("c api: a save plan's freed blocks are checked by field", "[c_api][split]") {
  CScheduler s;
  CWorker w;
  w.Join(s);
  kvtier::testing::CStore probe;
  const std::vector<kvtier_block_hash> chain = kvtier::testing::CChain(probe.store, 2, 6);
  kvtier_plan plan{};
  CHECK(kvtier_scheduler_plan_save(s.scheduler, chain.data(), 2, 0, nullptr, 2, &plan,
                                   &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "freed");
  const uint8_t freed[] = {1, 1};
  // This layout has no sliding-window layers: nothing to free.
  CHECK(kvtier_scheduler_plan_save(s.scheduler, chain.data(), 2, 0, freed, 2, &plan,
                                   &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "freed[0]");
  CHECK(kvtier_scheduler_plan_save(s.scheduler, chain.data(), 2, 0, freed, 1, &plan,
                                   &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "freed");
}

}  // namespace
