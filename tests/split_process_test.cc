// The scheduler/worker split across real processes: this process is the
// engine's scheduler, two forked worker processes are tensor-parallel ranks
// 0 and 1, each with its own host arena and NVMe directory (real files,
// real io_uring). Plans and results travel over socketpairs. Every byte a
// load delivers is checked on both ranks against the rank's own shard.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tests/nvme_skip.h"
#include "tests/nvme_support.h"
#include "tests/split_support.h"

namespace kvtier::testing {
namespace {

constexpr uint32_t kRanks = 2;

struct Cluster {
  explicit Cluster(size_t host_blocks = 12, size_t nvme_blocks = 64) {
    base = NvmeOptions(dirs[0].path(), host_blocks, nvme_blocks);
    base.model_id = "split-model@1";
    auto opened = Scheduler::Open(base, kRanks);
    REQUIRE(opened.ok());
    scheduler = std::move(opened).value();
    for (uint32_t r = 0; r < kRanks; ++r) Start(r);
    REQUIRE(scheduler->Ready());
  }
  ~Cluster() {
    for (WorkerProcess& w : workers) w.Stop();
  }

  Options RankOptions(uint32_t rank) const {
    Options o = base;
    o.rank = rank;
    o.nvme.directories = {dirs[rank].path()};
    return o;
  }
  // Forks rank `rank`'s worker and lets it join.
  void Start(uint32_t rank) {
    WorkerProcess w = WorkerProcess::Spawn(RankOptions(rank));
    REQUIRE(w.pid > 0);
    std::optional<std::vector<std::byte>> hello = RecvFrame(w.fd);
    REQUIRE(hello);
    Result<std::vector<std::byte>> reply = scheduler->Join(*hello);
    REQUIRE(reply.ok());
    REQUIRE(SendFrame(w.fd, *reply));
    workers[rank] = w;
  }

  // Sends the plan to every worker and collects their answers (none from a
  // worker that is gone).
  std::vector<Answer> Dispatch(Op op, std::span<const BlockHash> chain, size_t first,
                               const PlanTicket& t) {
    const std::vector<std::byte> req = EncodeRequest(op, chain, first, t.bytes);
    std::vector<bool> sent(kRanks);
    for (uint32_t r = 0; r < kRanks; ++r) sent[r] = SendFrame(workers[r].fd, req);
    std::vector<Answer> answers;
    for (uint32_t r = 0; r < kRanks; ++r) {
      answers.push_back(sent[r] ? ParseAnswer(RecvFrame(workers[r].fd), chain.size())
                                : Answer{});
    }
    return answers;
  }
  CommitOutcome Finish(const PlanTicket& t, const std::vector<Answer>& answers) {
    std::vector<std::vector<std::byte>> results;
    for (const Answer& a : answers) {
      if (a.result) results.push_back(*a.result);
    }
    Result<CommitOutcome> out = scheduler->Commit(t.ticket, results);
    REQUIRE(out.ok());
    return *out;
  }

  size_t Save(std::span<const BlockHash> chain, size_t first = 0) {
    Result<PlanTicket> t = scheduler->PlanSave(chain, first);
    REQUIRE(t.ok());
    if (t->ticket == 0) return 0;
    return Finish(*t, Dispatch(Op::kSave, chain, first, *t)).blocks;
  }
  // Loads the chain on every rank; returns the blocks the engine may use,
  // after checking that each rank holds its own bytes for every one of them.
  size_t Load(std::span<const BlockHash> chain) {
    Result<PlanTicket> t = scheduler->PlanLoad(chain);
    REQUIRE(t.ok());
    if (t->ticket == 0) return 0;
    const std::vector<Answer> answers = Dispatch(Op::kLoad, chain, 0, *t);
    const CommitOutcome out = Finish(*t, answers);
    for (uint32_t r = 0; r < kRanks; ++r) {
      for (size_t b = 0; b < out.blocks; ++b) {
        INFO("rank " << r << " block " << b);
        REQUIRE(answers[r].result);
        REQUIRE(answers[r].verified[b] == 1);
      }
    }
    return out.blocks;
  }
  // Runs every owed write-down; returns the blocks copied down.
  size_t DrainWriteDowns() {
    size_t copied = 0;
    for (int round = 0; round < 100; ++round) {
      const std::vector<PlanTicket> ts = scheduler->TakeWriteDowns(64);
      if (ts.empty()) break;
      for (const PlanTicket& t : ts) {
        copied += Finish(t, Dispatch(Op::kWriteDown, {}, 0, t)).blocks;
      }
    }
    return copied;
  }
  size_t Lookup(std::span<const BlockHash> chain) {
    return scheduler->Lookup(chain).blocks;
  }

  TempDir dirs[kRanks];
  Options base;
  std::unique_ptr<Scheduler> scheduler;
  WorkerProcess workers[kRanks];
};

// Rank-free chains: the scheduler names blocks once for every rank.
std::vector<BlockHash> Chain(uint64_t seed, size_t n) {
  std::vector<BlockHash> c;
  for (size_t i = 0; i < n; ++i) c.push_back(BlockHash{seed * 1000 + i + 1, seed});
  return c;
}

TEST_CASE("split: two worker processes save and load byte-exact on both ranks") {
  KVTIER_SKIP_WITHOUT_NVME();
  Cluster c;
  const std::vector<BlockHash> a = Chain(1, 8);
  CHECK(c.Lookup(a) == 0);
  CHECK(c.Save(a) == 8);
  CHECK(c.Lookup(a) == 8);
  CHECK(c.Load(a) == 8);
  // The rest of a longer prompt: only the new blocks are written.
  const std::vector<BlockHash> longer = Chain(1, 11);
  CHECK(c.Save(longer, 8) == 3);
  CHECK(c.Load(longer) == 11);
  CHECK(c.DrainWriteDowns() == 11);
  // More than the host arena holds: older blocks come back from NVMe
  // (promoted into host on the way), still byte-exact on both ranks.
  for (uint64_t s = 2; s < 6; ++s) {
    CHECK(c.Save(Chain(s, 6)) == 6);
    c.DrainWriteDowns();
  }
  CHECK(c.Lookup(longer) == 11);
  CHECK(c.Load(longer) == 11);
  CHECK(c.scheduler->Outstanding() == 0);
}

TEST_CASE("split: a killed worker gives misses and failed saves, never wrong bytes") {
  KVTIER_SKIP_WITHOUT_NVME();
  Cluster c;
  const std::vector<BlockHash> a = Chain(1, 8);
  REQUIRE(c.Save(a) == 8);
  REQUIRE(c.DrainWriteDowns() == 8);
  c.workers[1].Kill();
  // Rank 1 is gone: nothing counts as loaded or stored on every rank.
  CHECK(c.Load(a) == 0);
  CHECK(c.Save(Chain(2, 4)) == 0);
  CHECK(c.Lookup(Chain(2, 4)) == 0);
  CHECK(c.scheduler->Outstanding() == 0);

  // Restarted over the same directory: its host arena is empty, its NVMe
  // copies recovered. The index drops what rank 1 lost and keeps what both
  // ranks hold in the same slot.
  c.Start(1);
  const size_t after = c.Lookup(a);
  CHECK(after == 8);
  CHECK(c.Load(a) == after);
  // The index converged: what lookup offers is what loads deliver.
  CHECK(c.Lookup(a) == after);
  CHECK(c.Load(a) == after);
  // And it keeps working.
  const std::vector<BlockHash> b = Chain(3, 5);
  CHECK(c.Save(b) == 5);
  CHECK(c.Load(b) == 5);
}

TEST_CASE("split: a rank whose NVMe copies are damaged while it is down serves misses") {
  KVTIER_SKIP_WITHOUT_NVME();
  Cluster c(/*host_blocks=*/12);
  const std::vector<BlockHash> a = Chain(1, 6);
  REQUIRE(c.Save(a) == 6);
  REQUIRE(c.DrainWriteDowns() == 6);
  c.workers[1].Kill();
  // Every slot of rank 1's cache file overwritten; its manifest still names
  // the blocks.
  const std::filesystem::path file =
      std::filesystem::path(c.dirs[1].path()) / "kvtier-nvme.cache";
  const auto size = std::filesystem::file_size(file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const std::string junk(size, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  c.Start(1);
  // Whatever the index still names, a load serves only bytes both ranks
  // verified (Load checks them), and the index converges to what loads
  // deliver.
  size_t loaded = c.Load(a);
  for (int i = 0; i < 8 && c.Lookup(a) != loaded; ++i) loaded = c.Load(a);
  CHECK(loaded == 0);
  CHECK(c.Lookup(a) == 0);
  // Saved again: a save refreshes the blocks the index still names on NVMe
  // (it cannot know rank 1's copies are bad) and each load drops the first
  // bad one, so within one round per block the chain is served whole again.
  size_t rounds = 0;
  while (rounds < a.size() + 2 && c.Load(a) != a.size()) {
    c.Save(a);
    ++rounds;
  }
  CHECK(rounds <= a.size());
  CHECK(c.Load(a) == a.size());
}

}  // namespace
}  // namespace kvtier::testing
