// Plain TCP for RESP: connect with a timeout, sendmsg/recv (resp_transport.h).
#include "backends/remote/resp_transport.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

namespace kvtier::internal {
namespace {

using Clock = std::chrono::steady_clock;

timeval ToTimeval(uint32_t ms) {
  return timeval{static_cast<time_t>(ms / 1000),
                 static_cast<suseconds_t>(ms % 1000) * 1000};
}

// Waits for a non-blocking connect to finish; 0 or the errno it failed with.
int FinishConnect(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ETIMEDOUT;
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
    return error;
  }
}

// Blocking from here on, with the I/O timeout and no Nagle delay.
int MakeBlocking(int fd, uint32_t io_timeout_ms) {
  const int flags = fcntl(fd, F_GETFL);
  const timeval t = ToTimeval(io_timeout_ms);
  const int one = 1;
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t)) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

Status SocketFailure(const std::string& what, int error) {
  return Unavailable("redis: " + what + ": " +
                     (error == EAGAIN || error == EWOULDBLOCK || error == ETIMEDOUT
                          ? std::string("timed out")
                          : std::string(std::strerror(error))));
}

Result<OwnedFd> TcpConnect(const std::string& host, int port, uint32_t connect_timeout_ms,
                           uint32_t io_timeout_ms) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    return Unavailable("redis " + where +
                       ": cannot resolve the host: " + gai_strerror(rc));
  }
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  const auto deadline = Clock::now() + std::chrono::milliseconds(connect_timeout_ms);
  int error = EADDRNOTAVAIL;
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    OwnedFd fd(socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      a->ai_protocol));
    if (fd.get() < 0) {
      error = errno;
      continue;
    }
    error = connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) error = FinishConnect(fd.get(), deadline);
    if (error == 0) error = MakeBlocking(fd.get(), io_timeout_ms);
    if (error == 0) return fd;
  }
  return Unavailable(SocketFailure(where + ": connect", error).message());
}

Status PlainTransport::WriteAll(std::span<iovec> pieces) {
  size_t at = 0;
  while (at < pieces.size()) {
    msghdr m{};
    m.msg_iov = pieces.data() + at;
    m.msg_iovlen = std::min<size_t>(pieces.size() - at, IOV_MAX);
    const ssize_t n = sendmsg(fd_.get(), &m, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SocketFailure("write", errno);
    }
    size_t left = static_cast<size_t>(n);
    while (at < pieces.size() && left >= pieces[at].iov_len) left -= pieces[at++].iov_len;
    if (left > 0) {  // a short write: continue inside this piece
      pieces[at].iov_base = static_cast<char*>(pieces[at].iov_base) + left;
      pieces[at].iov_len -= left;
    }
  }
  return Status::Ok();
}

Status PlainTransport::ReadSome(std::byte* dst, size_t n, size_t* got) {
  for (;;) {
    const ssize_t r = recv(fd_.get(), dst, n, 0);
    if (r > 0) {
      *got = static_cast<size_t>(r);
      return Status::Ok();
    }
    if (r == 0) return Unavailable("redis: the server closed the connection");
    if (errno != EINTR) return SocketFailure("read", errno);
  }
}

}  // namespace kvtier::internal
