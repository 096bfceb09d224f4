// RespTransport: the byte stream one Redis connection runs on, so the RESP
// pipeline code (resp_io.h) is the same over plain TCP and over TLS. Also
// the TCP connect both start from, and OwnedFd, the socket's owner.
//
// Every transport here is blocking with the connection's I/O timeout set on
// its socket (SO_RCVTIMEO/SO_SNDTIMEO): a call that runs into the timeout
// fails with Unavailable ("timed out"), never spins. Writes never raise
// SIGPIPE (the peer closing is an Unavailable status).
//
// Thread safety: externally synchronized (one per connection).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "kvtier/status.h"

namespace kvtier::internal {

// Owns a file descriptor; closes it once.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();

  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

class RespTransport {
 public:
  virtual ~RespTransport() = default;
  // Sends every byte of `pieces`, in order (the entries may be changed on
  // the way). Unavailable on a failure or timeout.
  virtual Status WriteAll(std::span<iovec> pieces) = 0;
  // Reads what has arrived, at least one byte and at most `n`, into `dst`;
  // *got = how many. Unavailable on end of stream, a failure or a timeout.
  virtual Status ReadSome(std::byte* dst, size_t n, size_t* got) = 0;
};

// TCP as it is: sendmsg from the pieces (a 1 MiB value is not copied),
// recv into the caller's buffer.
class PlainTransport final : public RespTransport {
 public:
  explicit PlainTransport(OwnedFd fd) : fd_(std::move(fd)) {}
  Status WriteAll(std::span<iovec> pieces) override;
  Status ReadSome(std::byte* dst, size_t n, size_t* got) override;

 private:
  OwnedFd fd_;
};

// Connects to host:port (every address it resolves to, in turn, within
// `connect_timeout_ms` in all), then makes the socket blocking with
// TCP_NODELAY and `io_timeout_ms` on reads and writes. Unavailable naming
// host:port on any failure.
Result<OwnedFd> TcpConnect(const std::string& host, int port, uint32_t connect_timeout_ms,
                           uint32_t io_timeout_ms);

// "redis: <what>: <errno text>" as Unavailable; EAGAIN (SO_RCVTIMEO ran
// out) reads "timed out".
Status SocketFailure(const std::string& what, int error);

}  // namespace kvtier::internal
