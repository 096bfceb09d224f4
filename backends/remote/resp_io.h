// RESP (the Redis protocol) on a connection (resp_transport.h: plain TCP
// or TLS), without hiredis's buffers: commands go out gathered straight
// from the caller's memory (a 1 MiB value is not copied), and a bulk reply
// is read straight into a buffer the caller names (a promotion's host
// slot). hiredis 0.14 copied each value three times and moved its output
// buffer after every partial write, which kept a 1 MiB pipeline at ~0.4x of
// redis-benchmark (bench/RESULTS.md).
//
// Thread safety: externally synchronized (one per connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/remote/resp_transport.h"
#include "kvtier/status.h"

namespace kvtier::internal {

// One reply. Arrays (CLUSTER SLOTS) nest at most kMaxArrayDepth deep.
struct RespReply {
  enum class Kind : uint8_t { kStatus, kError, kInteger, kBulk, kNil, kArray };
  static constexpr int kMaxArrayDepth = 4;
  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string text;                 // status or error text; a bulk that had no sink
  size_t bulk_bytes = 0;            // kBulk: its length
  bool in_sink = false;             // kBulk: delivered into the sink given for it
  std::vector<RespReply> elements;  // kArray
};

// Writes every command (args[0] the name) in RESP: short pieces gathered
// into one buffer, long values sent from the caller's memory.
// Unavailable on a failure or timeout.
Status WriteCommands(RespTransport& transport,
                     std::span<const std::vector<std::string_view>* const> commands);

class RespReader {
 public:
  static constexpr size_t kBufferBytes = 256 << 10;
  // Borrows `transport` for its lifetime.
  explicit RespReader(RespTransport& transport)
      : transport_(transport), buffer_(kBufferBytes) {}

  // Reads the next reply. A bulk reply of at most sink.size() bytes lands in
  // `sink`; a longer one, or one with no sink, in reply->text.
  Status Next(std::span<std::byte> sink, RespReply* reply);

 private:
  Status Fill();  // reads more into the buffer; Unavailable on EOF or error
  Status ReadLine(std::string_view* line);
  Status ReadExact(std::byte* dst, size_t n);
  Status NextAt(int depth, std::span<std::byte> sink, RespReply* reply);
  Status ReadArray(int depth, int64_t count, RespReply* reply);

  RespTransport& transport_;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;  // unread bytes
  std::string line_;
};

}  // namespace kvtier::internal
