// kvtier-nvme-crash: the NVMe tier's crash-safety check (DESIGN invariant 6).
//
// Each round starts a child (fork + exec of this program with --child, so it
// is a fresh process: RocksDB's thread pool does not survive a fork) that
// opens a store over the same directory and
// saves chains (content derived from each block's hash, so any byte can be
// checked) and loads older ones, until the parent SIGKILLs it at a random
// moment. The parent then reopens the store and, for every chain any child
// so far could have saved (every round's), checks that every block the
// index offers loads, and byte-exact. Any wrong byte, any indexed block that
// fails to load, or a child that dies of anything but our SIGKILL fails the
// run.
//
// With --corrupt-bytes B, the parent also flips B random bytes of the cache
// file after each kill (the soak's corruption step). A flipped byte may make
// its block unloadable (its checksum fails: a miss, dropped from the index),
// which ends its chain's prefix, so each flipped byte may cost one block and
// the rest of its chain (at most kMaxChainBlocks + 1 counted, with the
// checksum error); a wrong byte still fails the run.
//
//   kvtier-nvme-crash --dir DIR [--kills N] [--seed S] [--corrupt-bytes B]
// ctest runs a short version (a few kills); bench/RESULTS.md reports >= 200.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "kvtier/kvtier.h"
#include "tests/test_support.h"

namespace {

using kvtier::BlockHash;
using kvtier::Options;
using kvtier::Store;
using kvtier::testing::EngineBuffers;

constexpr uint32_t kChainsPerRound = 4000;  // more than a child reaches
constexpr size_t kMaxChainBlocks = 6;

Options CrashOptions(const std::string& dir, bool write_back) {
  Options o;
  o.layout = kvtier::testing::SmallLayout(32);  // 8 KiB blocks, 12 KiB slots
  o.layout.kv_heads = 4;                        // 16 KiB blocks: 20 KiB slots
  o.model_id = "crash-model@1";
  o.host.capacity_bytes = 24 * 20 * 1024;
  o.host.lock_memory = false;
  o.nvme.capacity_bytes = 512 * 20 * 1024;  // small: eviction and slot reuse happen
  o.nvme.directories = {dir};
  o.nvme.write_policy =
      write_back ? kvtier::WritePolicy::kWriteBack : kvtier::WritePolicy::kWriteThrough;
  return o;
}

// Chain c of round r: its length and tokens follow from (r, c) alone. Every
// third chain extends the previous one, so chains share prefixes.
std::vector<BlockHash> ChainOf(const Store& store, uint32_t round, uint32_t c) {
  std::mt19937 rng(round * 100003u + c);
  const size_t blocks = 1 + rng() % kMaxChainBlocks;
  const uint32_t base = (c % 3 == 2) ? c - 1 : c;
  std::vector<uint32_t> tokens(blocks * store.layout().block_tokens);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = round * 7919u + base * 131u + static_cast<uint32_t>(i);
  }
  return store.hasher().Chain(tokens);
}

[[noreturn]] void RunChild(const std::string& dir, uint32_t round) {
  auto opened = Store::Open(CrashOptions(dir, round % 2 == 1));
  if (!opened.ok()) {
    std::fprintf(stderr, "child: open: %s\n", opened.status().ToString().c_str());
    _exit(3);
  }
  Store& store = **opened;
  std::mt19937 rng(round);
  for (uint32_t c = 0; c < kChainsPerRound; ++c) {
    const auto chain = ChainOf(store, round, c);
    EngineBuffers src(store.layout(), chain.size());
    src.FillFrom(chain);
    (void)store.Save(chain, src.all());
    if (rng() % 4 == 0 && c > 0) {  // reload an older chain: promotions
      const auto old = ChainOf(store, round, rng() % c);
      EngineBuffers dst(store.layout(), old.size());
      auto r = store.Load(old, dst.all());
      for (size_t b = 0; r.ok() && b < r->blocks; ++b) {
        if (!dst.Matches(b, old[b])) _exit(4);  // a wrong byte, even before a crash
      }
    }
  }
  _exit(0);
}

struct Verdict {
  uint64_t blocks_checked = 0;
  uint64_t wrong_bytes = 0;
  uint64_t indexed_but_unloadable = 0;
};

// Every block the reopened index offers must load byte-exact.
bool Verify(const std::string& dir, uint32_t rounds, Verdict* v, uint64_t* recovered) {
  auto opened = Store::Open(CrashOptions(dir, false));
  if (!opened.ok()) {
    std::fprintf(stderr, "reopen: %s\n", opened.status().ToString().c_str());
    return false;
  }
  Store& store = **opened;
  *recovered = store.Stats().nvme.recovered_blocks;
  // Every chain of every round so far: a Lookup each (cheap), a Load of
  // each one the index offers. No early stop: the oldest chains of a round
  // are the first evicted, so a run of misses says nothing of later ones.
  for (uint32_t r = 0; r < rounds; ++r) {
    for (uint32_t c = 0; c < kChainsPerRound; ++c) {
      const auto chain = ChainOf(store, r, c);
      const size_t offered = store.Lookup(chain).blocks;
      if (offered == 0) continue;
      EngineBuffers dst(store.layout(), chain.size());
      auto loaded = store.Load(chain, dst.all());
      const size_t got = loaded.ok() ? loaded->blocks : 0;
      for (size_t b = 0; b < got; ++b) {
        ++v->blocks_checked;
        if (!dst.Matches(b, chain[b])) ++v->wrong_bytes;
      }
      if (got < offered) v->indexed_but_unloadable += offered - got;
    }
  }
  const auto st = store.Stats();
  v->indexed_but_unloadable += st.tier(kvtier::Tier::kNvme).checksum_errors;
  return true;
}

// Flips `bytes` random bytes of the tier's cache file (each to a different
// value); returns how many it flipped (0 when the file is not there yet).
uint64_t CorruptCacheFile(const std::string& dir, uint64_t bytes, std::mt19937_64& rng) {
  const std::string path = dir + "/kvtier-nvme.cache";
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return 0;
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!file) return 0;
  uint64_t flipped = 0;
  for (uint64_t i = 0; i < bytes; ++i) {
    const auto at = static_cast<std::streamoff>(rng() % size);
    char c = 0;
    file.seekg(at);
    if (!file.get(c)) break;
    c = static_cast<char>(c ^ static_cast<char>(1 + rng() % 255));
    file.seekp(at);
    if (!file.put(c)) break;
    ++flipped;
  }
  file.flush();
  return flipped;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint32_t kills = 5;
  uint32_t seed = 1;
  uint64_t corrupt_bytes = 0;
  int64_t child_round = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--kills") kills = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    if (a == "--seed") seed = static_cast<uint32_t>(std::stoul(argv[i + 1]));
    if (a == "--corrupt-bytes") corrupt_bytes = std::stoull(argv[i + 1]);
    if (a == "--child") child_round = std::stol(argv[i + 1]);
  }
  if (child_round >= 0 && !dir.empty()) RunChild(dir, static_cast<uint32_t>(child_round));
  if (dir.empty()) {
    std::fprintf(stderr,
                 "usage: %s --dir DIR [--kills N] [--seed S] [--corrupt-bytes B]\n",
                 argv[0]);
    return 2;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::mt19937 rng(seed);
  std::mt19937_64 corrupt_rng(seed);
  uint64_t flipped = 0;
  Verdict v;
  uint64_t recovered = 0, max_recovered = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t round = 0; round < kills; ++round) {
    const std::string round_arg = std::to_string(round);
    const pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      execl("/proc/self/exe", argv[0], "--dir", dir.c_str(), "--child", round_arg.c_str(),
            static_cast<char*>(nullptr));
      _exit(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 400));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "round %u: child exited with %d\n", round,
                   WEXITSTATUS(status));
      return 1;
    }
    // Only our SIGKILL is a crash we meant; SIGSEGV, SIGABRT (a RocksDB
    // assert), SIGBUS... are the child's own failure.
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
      std::fprintf(stderr, "round %u: child died of signal %d (%s), not our SIGKILL\n",
                   round, WTERMSIG(status), strsignal(WTERMSIG(status)));
      return 1;
    }
    flipped += CorruptCacheFile(dir, corrupt_bytes, corrupt_rng);
    if (!Verify(dir, round + 1, &v, &recovered)) return 1;
    max_recovered = std::max(max_recovered, recovered);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "kvtier-nvme-crash: %u kills in %.1f s; %llu blocks verified after restarts "
      "(up to %llu recovered per restart); wrong bytes %llu; indexed but unloadable "
      "%llu; bytes flipped %llu\n",
      kills, secs, static_cast<unsigned long long>(v.blocks_checked),
      static_cast<unsigned long long>(max_recovered),
      static_cast<unsigned long long>(v.wrong_bytes),
      static_cast<unsigned long long>(v.indexed_but_unloadable),
      static_cast<unsigned long long>(flipped));
  std::filesystem::remove_all(dir);
  // A block made unloadable by a flip is dropped when its checksum fails, so
  // later Verifies do not count it again.
  const bool ok = v.wrong_bytes == 0 &&
                  v.indexed_but_unloadable <= flipped * (kMaxChainBlocks + 1) &&
                  v.blocks_checked > 0;
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
