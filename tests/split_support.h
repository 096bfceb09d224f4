// Helpers for the scheduler/worker split's tests: a worker process (fork)
// that talks to the test over a socketpair, the framing of what travels on
// it, and the engine content each rank saves (its own shard: different
// bytes per rank under the same block hash).
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "kvtier/split.h"
#include "lib/format/wire.h"
#include "tests/test_support.h"

namespace kvtier::testing {

// The hash whose FillFromHash content rank `rank` keeps for block `h`.
inline BlockHash RankContent(const BlockHash& h, uint32_t rank) {
  return BlockHash{h.lo ^ (0x9E3779B97F4A7C15ull * (rank + 1)), h.hi};
}

inline std::vector<BlockHash> RankChain(std::span<const BlockHash> chain, uint32_t rank) {
  std::vector<BlockHash> out;
  for (const BlockHash& h : chain) out.push_back(RankContent(h, rank));
  return out;
}

// ---- Frames: u64 length, then the bytes ----------------------------------------

inline bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

inline bool ReadAll(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

inline bool SendFrame(int fd, std::span<const std::byte> bytes) {
  const uint64_t n = bytes.size();
  return WriteAll(fd, &n, sizeof(n)) && WriteAll(fd, bytes.data(), bytes.size());
}

inline std::optional<std::vector<std::byte>> RecvFrame(int fd) {
  uint64_t n = 0;
  if (!ReadAll(fd, &n, sizeof(n)) || n > (uint64_t{1} << 30)) return std::nullopt;
  std::vector<std::byte> bytes(n);
  if (!ReadAll(fd, bytes.data(), n)) return std::nullopt;
  return bytes;
}

// ---- What the test asks a worker process ------------------------------------------

enum class Op : uint8_t { kLoad = 0, kSave = 1, kWriteDown = 2, kExit = 3 };

// Request: op u8 | first_block u32 | n u32 | chain | plan (rest).
// Reply:   result length u64 | result bytes (empty: Execute failed) |
//          per chain block (loads): 1 when it holds the rank's bytes.
inline std::vector<std::byte> EncodeRequest(Op op, std::span<const BlockHash> chain,
                                            size_t first_block,
                                            std::span<const std::byte> plan) {
  internal::ByteWriter w;
  w.Put(static_cast<uint8_t>(op));
  w.Put(static_cast<uint32_t>(first_block));
  w.Put(static_cast<uint32_t>(chain.size()));
  for (const BlockHash& h : chain) w.PutHash(h);
  w.PutBytes(plan);
  return w.Take();
}

// Runs in the forked child: opens the rank's worker, joins, then serves
// requests until told to exit or the socket closes. Returns the exit code.
inline int RunWorkerProcess(int fd, const Options& options) {
  Result<std::unique_ptr<Worker>> opened = Worker::Open(options);
  if (!opened.ok()) return 10;
  Worker& worker = **opened;
  if (!SendFrame(fd, worker.Hello())) return 11;
  std::optional<std::vector<std::byte>> reply = RecvFrame(fd);
  if (!reply || !worker.ApplyJoin(*reply).ok()) return 12;
  const KvLayout& layout = options.layout;
  while (std::optional<std::vector<std::byte>> req = RecvFrame(fd)) {
    internal::ByteReader r(*req);
    uint8_t op = 0;
    uint32_t first = 0, n = 0;
    if (!r.Get(&op) || !r.Get(&first) || !r.Get(&n)) return 13;
    std::vector<BlockHash> chain(n);
    for (BlockHash& h : chain) {
      if (!r.GetHash(&h)) return 13;
    }
    const std::span<const std::byte> plan = r.Rest();
    if (static_cast<Op>(op) == Op::kExit) return 0;
    const std::vector<BlockHash> mine = RankChain(chain, worker.rank());
    std::vector<uint8_t> verified;
    const auto run = [&]() -> Result<std::vector<std::byte>> {
      switch (static_cast<Op>(op)) {
        case Op::kSave: {
          EngineBuffers src(layout, n - first);
          src.FillFrom(std::span(mine).subspan(first));
          return worker.Execute(plan, src.all());
        }
        case Op::kLoad: {
          EngineBuffers dst(layout, n);
          std::vector<BlockHash> garbage(n, BlockHash{0xBAD, 0xBAD});
          dst.FillFrom(garbage);
          Result<std::vector<std::byte>> r = worker.Execute(plan, dst.all());
          for (uint32_t b = 0; b < n; ++b) {
            verified.push_back(dst.Matches(b, mine[b]) ? 1 : 0);
          }
          return r;
        }
        default:
          return worker.Execute(plan, {});
      }
    };
    Result<std::vector<std::byte>> result = run();
    internal::ByteWriter w;
    const std::vector<std::byte> bytes = result.ok() ? *result : std::vector<std::byte>{};
    w.Put(static_cast<uint64_t>(bytes.size()));
    w.PutBytes(bytes);
    for (uint8_t v : verified) w.Put(v);
    if (!SendFrame(fd, w.Take())) return 14;
  }
  return 0;
}

// A worker process of the test, seen from the scheduler's side.
struct WorkerProcess {
  pid_t pid = -1;
  int fd = -1;

  static WorkerProcess Spawn(const Options& options) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {};
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      _exit(RunWorkerProcess(fds[1], options));
    }
    close(fds[1]);
    return WorkerProcess{pid, fds[0]};
  }
  void Kill() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
    Close();
  }
  // Asks the worker to exit and returns its exit code (-1: it did not).
  int Stop() {
    if (pid <= 0) return -1;
    SendFrame(fd, EncodeRequest(Op::kExit, {}, 0, {}));
    Close();
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// One worker's answer to a request: no result when it is gone or failed.
struct Answer {
  std::optional<std::vector<std::byte>> result;
  std::vector<uint8_t> verified;  // loads: per chain block
};

inline Answer ParseAnswer(const std::optional<std::vector<std::byte>>& frame, size_t n) {
  Answer a;
  if (!frame) return a;
  internal::ByteReader r(*frame);
  uint64_t len = 0;
  if (!r.Get(&len) || len > r.left()) return a;
  std::span<const std::byte> rest = r.Rest();
  if (len > 0) a.result = std::vector<std::byte>(rest.begin(), rest.begin() + len);
  for (size_t i = len; i < rest.size(); ++i) a.verified.push_back(uint8_t(rest[i]));
  a.verified.resize(n, 0);
  return a;
}

}  // namespace kvtier::testing
