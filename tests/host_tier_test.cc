// HostTier: the pinned-DRAM arena. Slots carved from one mapping, faulted in
// at creation, page-locked when allowed, and still serving when the memlock
// limit refuses (DESIGN invariant 3: a failing facility degrades, the call
// returns).
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "backends/host/host_tier.h"
#include "kvtier/kvtier.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using internal::HostTier;
using internal::HostTierConfig;
using internal::MappedRegion;
using internal::StoredBlockBytes;

// The log callback is a plain function pointer: capture into globals.
std::string g_log;
int g_log_calls = 0;
void CaptureLog(const char* message) {
  g_log = message;
  ++g_log_calls;
}

HostTierConfig Config(uint64_t capacity, size_t slot_bytes, bool lock = false) {
  HostTierConfig c;
  c.capacity_bytes = capacity;
  c.slot_bytes = slot_bytes;
  c.lock_memory = lock;
  c.log = CaptureLog;
  return c;
}

// One block of `segments` segments of `bytes` each, content from the hash.
struct Block {
  Block(size_t segments, size_t bytes) : memory(segments * bytes) {
    for (size_t i = 0; i < segments; ++i)
      segs.push_back(Segment{memory.data() + i * bytes, bytes});
  }
  void Fill(const BlockHash& h) {
    for (size_t i = 0; i < segs.size(); ++i)
      testing::FillFromHash(h, i, segs[i].data, segs[i].bytes);
  }
  std::vector<unsigned char> memory;
  std::vector<Segment> segs;
};

BlockHash HashOf(uint64_t i) { return BlockHash{i * 0x9E3779B97F4A7C15ull + 1, ~i}; }

TEST_CASE("a capacity smaller than one slot is InvalidArgument naming the option",
          "[host]") {
  g_log_calls = 0;
  auto tier = HostTier::Create(Config(1000, StoredBlockBytes(1000)));
  REQUIRE_FALSE(tier.ok());
  CHECK(tier.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(tier.status().message(),
             Catch::StartsWith("options.host.capacity_bytes: 1000 bytes is smaller "
                               "than one slot of 1088 bytes"));
  CHECK(g_log_calls == 0);
}

TEST_CASE("slot count is capacity over the slot size rounded up to 64", "[host]") {
  struct Case {
    uint64_t capacity;
    size_t slot_bytes;
    uint32_t slots;
    size_t rounded;
  };
  const Case c = GENERATE(Case{1088, 1064, 1, 1088}, Case{1088 * 3 - 1, 1064, 2, 1088},
                          Case{1088 * 3, 1088, 3, 1088}, Case{10000, 65, 78, 128},
                          Case{(64u << 20) + 5, StoredBlockBytes(1 << 20), 63,
                               (1 << 20) + 64});
  INFO("capacity " << c.capacity << ", slot " << c.slot_bytes);
  auto tier = HostTier::Create(Config(c.capacity, c.slot_bytes));
  REQUIRE(tier.ok());
  CHECK((*tier)->slot_count() == c.slots);
  CHECK((*tier)->slot_bytes() == c.rounded);
  CHECK((*tier)->arena().size() == size_t{c.slots} * c.rounded);
  CHECK((*tier)->arena().size() <= c.capacity);  // invariant 4: never above capacity
  CHECK((*tier)->tier() == Tier::kHost);
}

TEST_CASE("every slot starts on a 64-byte boundary", "[host]") {
  auto tier = HostTier::Create(Config(100 * 1088, 1001));
  REQUIRE(tier.ok());
  const auto base = reinterpret_cast<uintptr_t>((*tier)->arena().data());
  CHECK(base % 4096 == 0);
  CHECK((*tier)->slot_bytes() % 64 == 0);
}

TEST_CASE("with slot_align 4096 every slot is a 4 KiB-aligned 4 KiB multiple",
          "[host]") {
  // What an O_DIRECT read needs to land in a slot (BlockIo::stored_out).
  HostTierConfig c = Config(10 << 20, StoredBlockBytes(256 << 10));
  c.slot_align = internal::kDirectIoSlotAlign;
  auto tier = HostTier::Create(c);
  REQUIRE(tier.ok());
  CHECK((*tier)->slot_bytes() == (256 << 10) + 4096);
  CHECK((*tier)->slot_count() == 39);
  for (uint32_t s = 0; s < (*tier)->slot_count(); ++s) {
    const std::span<std::byte> mem = (*tier)->WritableStoredBytes(s);
    CHECK(reinterpret_cast<uintptr_t>(mem.data()) % 4096 == 0);
    CHECK(mem.size() == (*tier)->slot_bytes());
    CHECK(mem.data() == (*tier)->StoredBytes(s).data());
  }
  c.slot_align = 100;
  CHECK_THAT(HostTier::Create(c).status().message(),
             Catch::Contains("slot_align 100 is not a power of two >= 64"));
}

TEST_CASE("the arena is faulted in at creation, not by the first save", "[host]") {
  auto tier = HostTier::Create(Config(8 << 20, StoredBlockBytes(256 << 10)));
  REQUIRE(tier.ok());
  const std::span<std::byte> arena = (*tier)->arena();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((arena.size() + page - 1) / page);
  REQUIRE(mincore(arena.data(), arena.size(), resident.data()) == 0);
  size_t missing = 0;
  for (unsigned char r : resident) missing += (r & 1) == 0;
  CHECK(missing == 0);
}

TEST_CASE("every slot of the host tier holds its own block", "[host]") {
  // 1000-byte payloads: slots of 1088 bytes, payloads not a multiple of 64.
  const size_t segments = GENERATE(size_t{1}, size_t{8});
  const size_t seg_bytes = 1000 / segments;
  const size_t payload = segments * seg_bytes;
  auto tier = HostTier::Create(Config(40 * 1088, StoredBlockBytes(payload)));
  REQUIRE(tier.ok());
  HostTier& t = **tier;
  for (uint32_t s = 0; s < t.slot_count(); ++s) {
    Block b(segments, seg_bytes);
    b.Fill(HashOf(s));
    REQUIRE(t.Write(s, HashOf(s), b.segs).ok());
  }
  for (uint32_t s = 0; s < t.slot_count(); ++s) {
    Block got(segments, seg_bytes), want(segments, seg_bytes);
    want.Fill(HashOf(s));
    REQUIRE(t.Read(s, HashOf(s), got.segs).ok());
    CHECK(got.memory == want.memory);
  }
  CHECK(t.bytes_written() == t.slot_count() * StoredBlockBytes(payload));
  CHECK(t.checksum_errors() == 0);
}

TEST_CASE("a large block round-trips through the host tier on the streaming path",
          "[host]") {
  // 64 segments like a 32-layer K/V block; segment size not a multiple of 64.
  const size_t seg_bytes = GENERATE(size_t{16384}, size_t{16411});
  auto tier = HostTier::Create(Config(8 << 20, StoredBlockBytes(64 * seg_bytes)));
  REQUIRE(tier.ok());
  Block src(64, seg_bytes), dst(64, seg_bytes);
  src.Fill(HashOf(7));
  for (uint32_t s = 0; s < (*tier)->slot_count(); ++s) {
    REQUIRE((*tier)->Write(s, HashOf(7), src.segs).ok());
    std::fill(dst.memory.begin(), dst.memory.end(), 0);
    REQUIRE((*tier)->Read(s, HashOf(7), dst.segs).ok());
    CHECK(dst.memory == src.memory);
  }
}

TEST_CASE("a byte flipped in the host arena reads as a counted Corruption", "[host]") {
  auto tier = HostTier::Create(Config(4 * 4160, StoredBlockBytes(4096)));
  REQUIRE(tier.ok());
  HostTier& t = **tier;
  Block src(4, 1024), dst(4, 1024);
  src.Fill(HashOf(1));
  REQUIRE(t.Write(2, HashOf(1), src.segs).ok());
  const size_t offset = GENERATE(size_t{16}, size_t{64 + 3000});
  t.arena()[2 * t.slot_bytes() + offset] ^= std::byte{0x10};
  CHECK(t.Read(2, HashOf(1), dst.segs).code() == StatusCode::kCorruption);
  CHECK(t.checksum_errors() == 1);
  CHECK(t.Read(1, HashOf(1), dst.segs).code() == StatusCode::kCorruption);  // never written
}

TEST_CASE("without lock_memory the arena is not locked and nothing is logged", "[host]") {
  g_log_calls = 0;
  auto tier = HostTier::Create(Config(1 << 20, 4096, /*lock=*/false));
  REQUIRE(tier.ok());
  CHECK_FALSE((*tier)->locked());
  CHECK(g_log_calls == 0);
}

TEST_CASE("with lock_memory and a limit that allows it, the arena is locked", "[host]") {
  // Probe what this process may lock first (root with CAP_IPC_LOCK: anything;
  // otherwise RLIMIT_MEMLOCK, 8 MiB here).
  const size_t bytes = 1 << 20;
  void* probe = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  REQUIRE(probe != MAP_FAILED);
  const bool may_lock = mlock(probe, bytes) == 0;
  munmap(probe, bytes);
  if (!may_lock) KVTIER_SKIP("this process may not mlock 1 MiB");

  g_log_calls = 0;
  auto tier = HostTier::Create(Config(bytes, 4096, /*lock=*/true));
  REQUIRE(tier.ok());
  CHECK((*tier)->locked());
  CHECK(g_log_calls == 0);
}

// ---- the refused-lock fallback, in a forked child -------------------------------

// Drops CAP_IPC_LOCK from the calling (single-threaded) process, so mlock is
// held to RLIMIT_MEMLOCK even for root. False when capset refused.
bool DropIpcLock() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const uint32_t bit = 1u << (CAP_IPC_LOCK % 32);
  auto& word = data[CAP_IPC_LOCK / 32];
  word.effective &= ~bit;
  word.permitted &= ~bit;
  word.inheritable &= ~bit;
  return syscall(SYS_capset, &header, data) == 0;
}

struct ChildReport {
  bool cap_dropped = false;
  bool probe_refused = false;  // a plain mlock of 64 MiB failed, as it must
  int probe_errno = 0;
  bool created = false;
  bool locked = true;
  int log_calls = 0;
  bool round_trip = false;
  size_t arena_bytes = 0;
  char log[1024] = {};
  char error[256] = {};
};

ChildReport RunRefusedLockChild() {
  ChildReport r;
  r.cap_dropped = DropIpcLock();
  const rlimit small{64 << 10, 64 << 10};  // lowering never needs privilege
  setrlimit(RLIMIT_MEMLOCK, &small);

  const size_t probe_bytes = 64 << 20;
  void* probe = mmap(nullptr, probe_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe != MAP_FAILED) {
    r.probe_refused = mlock(probe, probe_bytes) != 0;
    r.probe_errno = errno;
    munmap(probe, probe_bytes);
  }

  g_log_calls = 0;
  auto tier = HostTier::Create(Config(4 << 20, StoredBlockBytes(64 * 1024), true));
  r.created = tier.ok();
  if (!tier.ok()) {
    std::snprintf(r.error, sizeof(r.error), "%s", tier.status().ToString().c_str());
    return r;
  }
  r.locked = (*tier)->locked();
  r.arena_bytes = (*tier)->arena().size();
  r.log_calls = g_log_calls;
  std::snprintf(r.log, sizeof(r.log), "%s", g_log.c_str());

  Block src(16, 4096), dst(16, 4096);
  src.Fill(HashOf(3));
  r.round_trip = (*tier)->Write(5, HashOf(3), src.segs).ok() &&
                 (*tier)->Read(5, HashOf(3), dst.segs).ok() && src.memory == dst.memory;
  return r;
}

TEST_CASE("a refused mlock leaves the tier unlocked, warns once, and still serves",
          "[host][memlock]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    const ChildReport report = RunRefusedLockChild();
    const ssize_t n = write(fds[1], &report, sizeof(report));
    _exit(n == sizeof(report) ? 0 : 1);
  }
  close(fds[1]);
  ChildReport r;
  size_t got = 0;
  while (got < sizeof(r)) {
    const ssize_t n = read(fds[0], reinterpret_cast<char*>(&r) + got, sizeof(r) - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  REQUIRE(WIFEXITED(wstatus));
  REQUIRE(WEXITSTATUS(wstatus) == 0);
  REQUIRE(got == sizeof(r));

  INFO("capset dropped CAP_IPC_LOCK: " << r.cap_dropped << "; probe errno "
                                       << r.probe_errno << "; log: " << r.log);
  if (!r.probe_refused) KVTIER_SKIP("could not make mlock fail in a child process");
  REQUIRE(r.created);
  CHECK_FALSE(r.locked);
  CHECK(r.log_calls == 1);
  const std::string refused = "mlock of " + std::to_string(r.arena_bytes) + " bytes refused";
  CHECK_THAT(std::string(r.log), Catch::Contains(refused) &&
                                     Catch::Contains("RLIMIT_MEMLOCK is 65536 bytes") &&
                                     Catch::Contains("lock_memory = false"));
  CHECK(r.round_trip);
}

// ---- MappedRegion -------------------------------------------------------------

TEST_CASE("a mapped region is move-only and unmapped exactly once", "[host]") {
  static_assert(!std::is_copy_constructible_v<MappedRegion>);
  static_assert(!std::is_copy_assignable_v<MappedRegion>);
  static_assert(std::is_nothrow_move_constructible_v<MappedRegion>);

  auto mapped = MappedRegion::Map(1 << 20);
  REQUIRE(mapped.ok());
  std::byte* data = mapped->data();
  MappedRegion a = std::move(mapped).value();
  CHECK(a.data() == data);
  CHECK(a.size() == size_t{1} << 20);
  MappedRegion b(std::move(a));
  CHECK(a.data() == nullptr);  // NOLINT: checking the moved-from state
  CHECK(a.size() == 0);
  b.data()[(1 << 20) - 1] = std::byte{1};

  auto other = MappedRegion::Map(4096);
  REQUIRE(other.ok());
  b = std::move(other).value();  // unmaps the first mapping
  CHECK(b.size() == 4096);
  unsigned char resident = 0;
  CHECK(mincore(data, 4096, &resident) == -1);  // gone: ENOMEM for unmapped memory
  CHECK(errno == ENOMEM);
}

TEST_CASE("mapping zero bytes is InvalidArgument", "[host]") {
  CHECK(MappedRegion::Map(0).status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvtier
