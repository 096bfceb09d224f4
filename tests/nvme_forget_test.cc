// Deferred forgetting on the NVMe tier: PrepareForget under the Store's lock,
// Forget later from any thread. A late Forget never erases a newer manifest
// entry (same slot or not, same hash or not), a timely one removes the
// block for good, and a crash before it leaves a correct manifest. Real
// files, io_uring and RocksDB; the delay seam stalls every manifest write.
#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/nvme_tier_support.h"

namespace kvtier {
namespace {

using internal::TierBackend;
using testing::NvmeTierSetup;
using testing::ReadBlock;
using testing::RecoveredBySlot;
using testing::TempDir;
using testing::TierHash;
using testing::WriteBlock;
using Ticket = TierBackend::ForgetTicket;
using Clock = std::chrono::steady_clock;

void LateForget(TierBackend& tier, const Ticket& t) { tier.Forget({&t, 1}); }

TEST_CASE("a late Forget after the slot was rewritten leaves the new entry",
          "[nvme][forget]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  // By another block, or by the same block written back into the same slot.
  const uint64_t rewritten_with = GENERATE(2, 1);
  INFO("slot 3 rewritten with block " << rewritten_with);
  {
    auto tier = setup.Open();
    REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(1)).ok());
    const Ticket t = tier->PrepareForget(3);
    CHECK(t.slot == 3);
    CHECK(t.generation != 0);
    REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(rewritten_with)).ok());
    LateForget(*tier, t);
    CHECK(ReadBlock(*tier, setup.layout, 3, TierHash(rewritten_with)).ok());
    CHECK(tier->manifest_errors() == 0);
  }
  auto tier = setup.Open();
  const auto recovered = RecoveredBySlot(*tier);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].slot == 3);
  CHECK(recovered[0].hash == TierHash(rewritten_with));
  CHECK(ReadBlock(*tier, setup.layout, 3, TierHash(rewritten_with)).ok());
}

TEST_CASE("a late Forget leaves the entry of the same block written to another slot",
          "[nvme][forget]") {
  // A manifest keyed by hash alone would lose this block: the old slot's
  // delete would erase the entry the new write put.
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  {
    auto tier = setup.Open();
    REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(1)).ok());
    const Ticket t = tier->PrepareForget(3);
    REQUIRE(WriteBlock(*tier, setup.layout, 9, TierHash(1)).ok());
    LateForget(*tier, t);
    CHECK(ReadBlock(*tier, setup.layout, 9, TierHash(1)).ok());
  }
  auto tier = setup.Open();
  const auto recovered = RecoveredBySlot(*tier);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].slot == 9);
  CHECK(recovered[0].hash == TierHash(1));
}

TEST_CASE("a Forget with no rewrite removes the block, also across a reopen",
          "[nvme][forget]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  {
    auto tier = setup.Open();
    REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(1)).ok());
    REQUIRE(WriteBlock(*tier, setup.layout, 4, TierHash(2)).ok());
    const Ticket t = tier->PrepareForget(3);
    // From another thread, as the Store will after its lock.
    std::thread([&] { LateForget(*tier, t); }).join();
    CHECK(ReadBlock(*tier, setup.layout, 3, TierHash(1)).code() ==
          StatusCode::kCorruption);
    // Nothing left to forget: the ticket of an empty slot names no entry.
    CHECK(tier->PrepareForget(3).generation == 0);
  }
  auto tier = setup.Open();
  const auto recovered = RecoveredBySlot(*tier);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].slot == 4);
  CHECK(tier->recovery_dropped() == 0);
}

TEST_CASE("a crash before the late Forget leaves a manifest recovery serves correctly",
          "[nvme][forget]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  {
    auto tier = setup.Open();
    REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(1)).ok());
    REQUIRE(WriteBlock(*tier, setup.layout, 5, TierHash(2)).ok());
    // Evicted, their deletes never ran: block 1 was written again
    // elsewhere, block 2 not at all (its slot still holds exactly it).
    (void)tier->PrepareForget(3);
    (void)tier->PrepareForget(5);
    REQUIRE(WriteBlock(*tier, setup.layout, 7, TierHash(1)).ok());
  }
  auto tier = setup.Open();
  const auto recovered = RecoveredBySlot(*tier);
  REQUIRE(recovered.size() == 2);
  CHECK(recovered[0].slot == 5);  // the old entry, exact bytes
  CHECK(recovered[0].hash == TierHash(2));
  CHECK(recovered[1].slot == 7);  // the newer entry of block 1 wins
  CHECK(recovered[1].hash == TierHash(1));
  CHECK(tier->recovery_dropped() == 1);  // slot 3's stale entry
  CHECK(ReadBlock(*tier, setup.layout, 5, TierHash(2)).ok());
  CHECK(ReadBlock(*tier, setup.layout, 7, TierHash(1)).ok());
}

TEST_CASE("a manifest entry of kvtier 0.1 (keyed by hash) is dropped at open",
          "[nvme][forget]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  {
    auto tier = setup.Open();
    REQUIRE(WriteBlock(*tier, setup.layout, 2, TierHash(2)).ok());
  }
  {
    // As 0.1 wrote it: key 'b' + hash (17 bytes), an 80-byte value of version 1.
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(),
                              (dir.path() / "kvtier-manifest").string(), &raw)
                .ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string key(17, '\x07'), value(80, '\0');
    key[0] = 'b';
    value[0] = 1;
    REQUIRE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }
  auto tier = setup.Open();
  const auto recovered = RecoveredBySlot(*tier);
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0].hash == TierHash(2));
  CHECK(tier->recovery_dropped() == 1);
}

TEST_CASE("the manifest delay seam stalls every manifest write, PrepareForget none",
          "[nvme][forget]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  auto writes = std::make_shared<std::atomic<int>>(0);
  setup.manifest_hooks.before_write = [writes] {
    writes->fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  };
  auto tier = setup.Open();

  auto t0 = Clock::now();
  REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(1)).ok());  // put
  CHECK(Clock::now() - t0 >= std::chrono::milliseconds(200));
  CHECK(writes->load() == 1);

  t0 = Clock::now();
  const Ticket t = tier->PrepareForget(3);
  CHECK(Clock::now() - t0 < std::chrono::milliseconds(50));  // in memory, no I/O
  CHECK(writes->load() == 1);

  t0 = Clock::now();
  LateForget(*tier, t);  // one delete
  CHECK(Clock::now() - t0 >= std::chrono::milliseconds(200));
  CHECK(writes->load() == 2);

  // Overwriting slot 3 deletes nothing more (its entry is gone) and puts one.
  t0 = Clock::now();
  REQUIRE(WriteBlock(*tier, setup.layout, 3, TierHash(2)).ok());
  CHECK(Clock::now() - t0 >= std::chrono::milliseconds(200));
  CHECK(writes->load() == 3);
}

TEST_CASE("late Forgets racing rewrites of their slots never lose a newer entry",
          "[nvme][forget]") {
  // The Store's pattern under load: a slot is let go (ticket), handed to
  // another block and written while the ticket's Forget runs on another
  // thread. Whatever the interleaving, the last write of each slot is what
  // the tier serves and what a reopen recovers.
  TempDir dir;
  NvmeTierSetup setup{dir.path().string()};
  constexpr uint32_t kSlots = 8;
  constexpr int kRounds = 20;
  std::vector<uint64_t> last(kSlots);
  {
    auto tier = setup.Open();
    for (uint32_t s = 0; s < kSlots; ++s) {
      REQUIRE(WriteBlock(*tier, setup.layout, s, TierHash(s)).ok());
      last[s] = s;
    }
    uint64_t next = kSlots;
    for (int round = 0; round < kRounds; ++round) {
      std::vector<Ticket> tickets;
      for (uint32_t s = 0; s < kSlots; ++s) tickets.push_back(tier->PrepareForget(s));
      std::thread forgetter([&] {
        for (const Ticket& t : tickets) LateForget(*tier, t);
      });
      for (uint32_t s = 0; s < kSlots; ++s) {
        // Every third slot gets its own block back: the same key but for seq.
        last[s] = s % 3 == 0 ? last[s] : next++;
        REQUIRE(WriteBlock(*tier, setup.layout, s, TierHash(last[s])).ok());
      }
      forgetter.join();
    }
    for (uint32_t s = 0; s < kSlots; ++s) {
      CHECK(ReadBlock(*tier, setup.layout, s, TierHash(last[s])).ok());
    }
  }
  auto tier = setup.Open();
  const auto recovered = RecoveredBySlot(*tier);
  REQUIRE(recovered.size() == kSlots);
  for (uint32_t s = 0; s < kSlots; ++s) {
    CHECK(recovered[s].slot == s);
    CHECK(recovered[s].hash == TierHash(last[s]));
    CHECK(ReadBlock(*tier, setup.layout, s, TierHash(last[s])).ok());
  }
}

}  // namespace
}  // namespace kvtier
