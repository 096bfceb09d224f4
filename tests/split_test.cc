// The scheduler/worker split's contract in one process (host tiers only):
// bad input refused with the field named, damaged or stale bytes turned
// into failed moves, never into wrong bytes. The multi-process runs are in
// split_process_test.cc.
#include <catch2/catch.hpp>

#include "lib/split/messages.h"
#include "tests/split_support.h"
#include "tests/trim_support.h"

namespace kvtier::testing {
namespace {

Options HostOptions(size_t host_blocks = 8) {
  Options o;
  o.layout = SmallLayout();
  o.model_id = "split-unit@1";
  o.host.capacity_bytes = host_blocks * 4096;
  o.host.lock_memory = false;
  return o;
}

std::vector<BlockHash> Chain(uint64_t seed, size_t n) {
  std::vector<BlockHash> c;
  for (size_t i = 0; i < n; ++i) c.push_back(BlockHash{seed * 1000 + i + 1, seed});
  return c;
}

template <typename T>
T Must(Result<T> r) {
  REQUIRE(r.ok());
  return std::move(r).value();
}

struct InProcess {
  explicit InProcess(uint32_t ranks = 2, const Options& o = HostOptions()) {
    scheduler = std::move(Scheduler::Open(o, ranks)).value();
    for (uint32_t r = 0; r < ranks; ++r) {
      Options ro = o;
      ro.rank = r;
      workers.push_back(std::move(Worker::Open(ro)).value());
      auto reply = scheduler->Join(workers.back()->Hello());
      REQUIRE(reply.ok());
      REQUIRE(workers.back()->ApplyJoin(*reply).ok());
    }
  }
  size_t Save(std::span<const BlockHash> chain) {
    auto t = scheduler->PlanSave(chain, 0);
    REQUIRE(t.ok());
    if (t->ticket == 0) return 0;  // nothing new to write
    std::vector<std::vector<std::byte>> results;
    for (auto& w : workers) {
      EngineBuffers src(SmallLayout(), chain.size());
      src.FillFrom(RankChain(chain, w->rank()));
      auto r = w->Execute(t->bytes, src.all());
      REQUIRE(r.ok());
      results.push_back(*r);
    }
    return scheduler->Commit(t->ticket, results)->blocks;
  }
  std::unique_ptr<Scheduler> scheduler;
  std::vector<std::unique_ptr<Worker>> workers;
};

TEST_CASE("split: Open refuses bad ranks and tiers the split does not have") {
  CHECK(Scheduler::Open(HostOptions(), 0).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(Scheduler::Open(HostOptions(), 65).status().message().find("ranks") !=
        std::string::npos);
  Options gpu = HostOptions();
  gpu.gpu.capacity_bytes = 1 << 20;
  CHECK(Scheduler::Open(gpu, 2).status().code() == StatusCode::kNotSupported);
  CHECK(Worker::Open(gpu).status().code() == StatusCode::kNotSupported);
  Options no_model = HostOptions();
  no_model.model_id.clear();
  CHECK(Scheduler::Open(no_model, 2).status().message().find("model_id") !=
        std::string::npos);
}

TEST_CASE("split: nothing is planned until every rank joined") {
  auto scheduler = std::move(Scheduler::Open(HostOptions(), 2)).value();
  Options o = HostOptions();
  auto w0 = std::move(Worker::Open(o)).value();
  REQUIRE(scheduler->Join(w0->Hello()).ok());
  CHECK_FALSE(scheduler->Ready());
  CHECK(scheduler->PlanSave(Chain(1, 2), 0).status().code() == StatusCode::kUnavailable);
  CHECK(scheduler->PlanLoad(Chain(1, 2)).status().code() == StatusCode::kUnavailable);
  CHECK(scheduler->Lookup(Chain(1, 2)).blocks == 0);
  o.rank = 1;
  auto w1 = std::move(Worker::Open(o)).value();
  REQUIRE(scheduler->Join(w1->Hello()).ok());
  CHECK(scheduler->Ready());
}

TEST_CASE("split: Join refuses damaged hellos and workers of another shape") {
  auto scheduler = std::move(Scheduler::Open(HostOptions(), 2)).value();
  Options o = HostOptions();
  o.rank = 2;
  auto out_of_range = std::move(Worker::Open(o)).value();
  CHECK(scheduler->Join(out_of_range->Hello()).status().message().find("hello.rank") !=
        std::string::npos);
  Options other_layout = HostOptions();
  other_layout.layout = SmallLayout(/*layers=*/3);
  auto w = std::move(Worker::Open(other_layout)).value();
  CHECK(scheduler->Join(w->Hello()).status().message().find("hello.layout") !=
        std::string::npos);
  // Rank 0 with 8 host blocks joins; rank 1 with 16 has another slot layout.
  auto w0 = std::move(Worker::Open(HostOptions())).value();
  REQUIRE(scheduler->Join(w0->Hello()).ok());
  Options bigger = HostOptions(16);
  bigger.rank = 1;
  auto w1 = std::move(Worker::Open(bigger)).value();
  CHECK(scheduler->Join(w1->Hello()).status().message().find("hello.stack") !=
        std::string::npos);
  // Every truncation of a good hello is refused, never read past its end.
  const std::vector<std::byte> hello = w0->Hello();
  for (size_t n = 0; n < hello.size(); ++n) {
    INFO("truncated to " << n);
    CHECK(scheduler->Join(std::span(hello).first(n)).status().code() ==
          StatusCode::kInvalidArgument);
  }
}

TEST_CASE("split: a block counts only when every rank stored and verified it") {
  InProcess p;
  const std::vector<BlockHash> a = Chain(1, 4);
  CHECK(p.Save(a) == 4);
  auto t = p.scheduler->PlanLoad(a);
  REQUIRE(t.ok());
  CHECK(t->blocks == 4);
  std::vector<std::vector<std::byte>> results;
  std::vector<std::unique_ptr<EngineBuffers>> dst;
  for (auto& w : p.workers) {
    dst.push_back(std::make_unique<EngineBuffers>(SmallLayout(), a.size()));
    results.push_back(Must(w->Execute(t->bytes, dst.back()->all())));
  }
  auto out = p.scheduler->Commit(t->ticket, results);
  REQUIRE(out.ok());
  CHECK(out->blocks == 4);
  CHECK(out->ranks_failed == 0);
  for (uint32_t r = 0; r < 2; ++r) {
    for (size_t b = 0; b < a.size(); ++b) CHECK(dst[r]->Matches(b, RankContent(a[b], r)));
  }
  // Committed once only.
  CHECK(p.scheduler->Commit(t->ticket, results).status().code() == StatusCode::kNotFound);
}

TEST_CASE("split: a rank whose result is missing damaged or stale fails the whole job") {
  InProcess p;
  const std::vector<BlockHash> a = Chain(1, 3);
  REQUIRE(p.Save(a) == 3);
  auto load = [&](auto&& mangle) {
    auto t = p.scheduler->PlanLoad(a);
    REQUIRE(t.ok());
    std::vector<std::vector<std::byte>> results;
    for (auto& w : p.workers) {
      EngineBuffers dst(SmallLayout(), a.size());
      results.push_back(Must(w->Execute(t->bytes, dst.all())));
    }
    mangle(results);
    return Must(p.scheduler->Commit(t->ticket, results));
  };
  // Rank 1 did not answer (its worker is gone).
  CommitOutcome out = load([](auto& r) { r.pop_back(); });
  CHECK(out.blocks == 0);
  CHECK(out.ranks_failed == 1);
  // Rank 1's bytes damaged.
  out = load([](auto& r) { r[1][r[1].size() - 1] = std::byte{0x77}; });
  CHECK(out.blocks == 0);
  CHECK(out.ranks_failed == 1);
  // Rank 0 answered twice, rank 1 not at all.
  out = load([](auto& r) { r[1] = r[0]; });
  CHECK(out.ranks_failed == 1);
  CHECK(out.blocks == 0);
  // A cancelled or missing rank says nothing about the slots: still there.
  CHECK(p.scheduler->Lookup(a).blocks == 3);
  out = load([](auto&) {});
  CHECK(out.blocks == 3);
}

TEST_CASE("split: results from a worker's earlier incarnation count as failed") {
  InProcess p;
  const std::vector<BlockHash> a = Chain(1, 2);
  REQUIRE(p.Save(a) == 2);
  auto t = p.scheduler->PlanLoad(a);
  REQUIRE(t.ok());
  std::vector<std::vector<std::byte>> results;
  for (auto& w : p.workers) {
    EngineBuffers dst(SmallLayout(), a.size());
    results.push_back(Must(w->Execute(t->bytes, dst.all())));
  }
  // Rank 1 restarts before the commit: its host arena is new and empty.
  Options o = HostOptions();
  o.rank = 1;
  p.workers[1] = std::move(Worker::Open(o)).value();
  auto reply = p.scheduler->Join(p.workers[1]->Hello());
  REQUIRE(reply.ok());
  REQUIRE(p.workers[1]->ApplyJoin(*reply).ok());
  auto out = p.scheduler->Commit(t->ticket, results);
  REQUIRE(out.ok());
  CHECK(out->blocks == 0);
  CHECK(out->ranks_failed == 1);
  // Rank 1 lost its host copies: the index no longer offers them.
  CHECK(p.scheduler->Lookup(a).blocks == 0);
  CHECK(p.Save(a) == 2);
  CHECK(p.scheduler->Lookup(a).blocks == 2);
}

TEST_CASE("split: a worker refuses damaged plans and plans that do not fit it") {
  InProcess p;
  const std::vector<BlockHash> a = Chain(1, 2);
  auto t = p.scheduler->PlanSave(a, 0);
  REQUIRE(t.ok());
  Worker& w = *p.workers[0];
  EngineBuffers src(SmallLayout(), a.size());
  // Every truncation is Corruption.
  for (size_t n = 0; n < t->bytes.size(); ++n) {
    INFO("truncated to " << n);
    CHECK(w.Execute(std::span(t->bytes).first(n), src.all()).status().code() ==
          StatusCode::kCorruption);
  }
  // Too few engine segments.
  EngineBuffers short_src(SmallLayout(), 1);
  CHECK(w.Execute(t->bytes, short_src.all()).status().message().find("engine") !=
        std::string::npos);
  // A slot past the worker's tier.
  auto e = internal::DecodeEnvelope(t->bytes);
  REQUIRE(e.ok());
  e->plan.moves[0].to.slot = 1'000'000;
  CHECK(w.Execute(internal::EncodeEnvelope(*e), src.all()).status().code() ==
        StatusCode::kCorruption);
  // The same slot written twice.
  e = internal::DecodeEnvelope(t->bytes);
  e->plan.moves[1].to = e->plan.moves[0].to;
  CHECK(w.Execute(internal::EncodeEnvelope(*e), src.all())
            .status()
            .message()
            .find("twice") != std::string::npos);
  // The job still commits (every rank failed): nothing stored.
  auto out = p.scheduler->Commit(t->ticket, {});
  REQUIRE(out.ok());
  CHECK(out->blocks == 0);
  CHECK(out->ranks_failed == 2);
  CHECK(p.scheduler->Outstanding() == 0);
}

TEST_CASE("split: a slot one rank cannot verify is a miss and leaves the index") {
  InProcess p;
  const std::vector<BlockHash> a = Chain(1, 3);
  REQUIRE(p.Save(a) == 3);
  // Rank 1 is handed a plan made for other blocks in the same slots: what
  // its slots hold is not what the plan names, so the read fails there.
  auto t = p.scheduler->PlanLoad(a);
  REQUIRE(t.ok());
  auto e = internal::DecodeEnvelope(t->bytes);
  REQUIRE(e.ok());
  e->plan.chain[0].lo ^= 1;
  std::vector<std::vector<std::byte>> results;
  EngineBuffers d0(SmallLayout(), a.size()), d1(SmallLayout(), a.size());
  results.push_back(Must(p.workers[0]->Execute(t->bytes, d0.all())));
  results.push_back(Must(p.workers[1]->Execute(internal::EncodeEnvelope(*e), d1.all())));
  auto out = p.scheduler->Commit(t->ticket, results);
  REQUIRE(out.ok());
  CHECK(out->blocks == 0);
  CHECK(out->ranks_failed == 0);
  CHECK(p.scheduler->Lookup(a).blocks == 0);
}

// The engine's segments of `chain` with the sliding-window segments of the
// blocks in `freed` null (the engine let them go).
std::vector<Segment> WithFreed(const KvLayout& layout, const EngineBuffers& src,
                               const std::vector<uint8_t>& freed) {
  std::vector<Segment> segs(src.all().begin(), src.all().end());
  const size_t per_block = layout.SegmentsPerBlock();
  for (size_t b = 0; b < freed.size(); ++b) {
    for (size_t s = 0; s < per_block; ++s) {
      if (freed[b] != 0 && layout.WindowOf(s / layout.parts_per_layer) > 0) {
        segs[b * per_block + s].data = nullptr;
      }
    }
  }
  return segs;
}

TEST_CASE(
    "split: a save of blocks the engine freed keeps them trimmed as Store::Save does") {
  // Gemma-style layers, checkpoints every 2 blocks: blocks 0-1 and 2-3 are
  // saved whole unless freed; the engine freed the sliding layers of 2-3.
  const KvLayout layout = GemmaStyleLayout();
  const Options o = TrimOptions(layout, /*checkpoint_blocks=*/2);
  InProcess p(2, o);
  const std::vector<BlockHash> a = Chain(7, 4);
  const std::vector<uint8_t> freed = {0, 0, 1, 1};
  auto t = p.scheduler->PlanSave(a, 0, freed);
  REQUIRE(t.ok());
  std::vector<std::vector<std::byte>> results;
  for (auto& w : p.workers) {
    EngineBuffers src(layout, a.size());
    src.FillFrom(RankChain(a, w->rank()));
    results.push_back(Must(w->Execute(t->bytes, WithFreed(layout, src, freed))));
  }
  CHECK(Must(p.scheduler->Commit(t->ticket, results)).blocks == 4);
  // The single-process Store given the same segments answers the same.
  auto store = Must(Store::Open(o));
  EngineBuffers src(layout, a.size());
  src.FillFrom(a);
  REQUIRE(store->Save(a, WithFreed(layout, src, freed)).ok());
  for (size_t n = 1; n <= a.size(); ++n) {
    INFO("prefix " << n);
    CHECK(p.scheduler->Lookup(std::span(a).first(n)).blocks ==
          store->Lookup(std::span(a).first(n)).blocks);
  }
  CHECK(p.scheduler->Lookup(a).blocks == 2);  // 2-3 lack their window
  // What is offered loads byte for byte on every rank.
  auto load = p.scheduler->PlanLoad(std::span(a).first(2));
  REQUIRE(load.ok());
  REQUIRE(load->blocks == 2);
  results.clear();
  std::vector<std::unique_ptr<EngineBuffers>> dst;
  for (auto& w : p.workers) {
    dst.push_back(std::make_unique<EngineBuffers>(layout, 2));
    results.push_back(Must(w->Execute(load->bytes, dst.back()->all())));
  }
  CHECK(Must(p.scheduler->Commit(load->ticket, results)).blocks == 2);
  for (uint32_t r = 0; r < 2; ++r) {
    for (size_t b = 0; b < 2; ++b) CHECK(dst[r]->Matches(b, RankContent(a[b], r)));
  }
}

TEST_CASE("split: a null segment the plan saves whole is refused naming the block") {
  const KvLayout layout = MistralStyleLayout();
  InProcess p(2, TrimOptions(layout, 0));
  const std::vector<BlockHash> a = Chain(8, 2);
  const std::vector<uint8_t> freed = {1, 1};
  EngineBuffers src(layout, a.size());
  // Not told the engine freed them: both blocks (the chain's last window)
  // are planned whole, and the worker refuses their null segments.
  auto whole = Must(p.scheduler->PlanSave(a, 0));
  Result<std::vector<std::byte>> r =
      p.workers[0]->Execute(whole.bytes, WithFreed(layout, src, freed));
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("engine[0]") != std::string::npos);
  CHECK(r.status().message().find("freed") != std::string::npos);
  CHECK(Must(p.scheduler->Commit(whole.ticket, {})).blocks == 0);
  // Told: every layer slides, so the blocks are index entries without
  // bytes, and a lookup misses them rather than serve anything.
  auto trimmed = Must(p.scheduler->PlanSave(a, 0, freed));
  std::vector<std::vector<std::byte>> results;
  for (auto& w : p.workers) {
    results.push_back(Must(w->Execute(trimmed.bytes, WithFreed(layout, src, freed))));
  }
  CHECK(Must(p.scheduler->Commit(trimmed.ticket, results)).blocks == 2);
  CHECK(p.scheduler->Lookup(a).blocks == 0);
  // Nothing of them to load.
  auto load = p.scheduler->PlanLoad(a);
  REQUIRE(load.ok());
  CHECK(load->ticket == 0);
  // `freed` of the wrong size, or on a layout without sliding layers.
  CHECK(p.scheduler->PlanSave(a, 0, std::vector<uint8_t>{1})
            .status()
            .message()
            .find("freed") != std::string::npos);
  InProcess full;
  CHECK(full.scheduler->PlanSave(a, 0, freed).status().message().find("freed[0]") !=
        std::string::npos);
}

}  // namespace
}  // namespace kvtier::testing
