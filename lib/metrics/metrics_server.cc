// MetricsServer (kvtier/metrics.h): plain sockets on 127.0.0.1, one thread
// that polls the listening socket with a timeout so the destructor can stop
// it without signals, and answers each request with PrometheusText.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "kvtier/metrics.h"
#include "kvtier/store.h"

namespace kvtier {
namespace {

constexpr int kPollMillis = 100;      // how soon the destructor is noticed
constexpr int kRequestMillis = 2000;  // a client must send its request by then
constexpr size_t kMaxRequestBytes = 8192;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads until the end of the request headers, a full buffer or the deadline.
bool ReadRequest(int fd, std::string* request) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestMillis);
  char buf[1024];
  while (request->find("\r\n\r\n") == std::string::npos &&
         request->size() < kMaxRequestBytes) {
    const int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - std::chrono::steady_clock::now())
                             .count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return !request->empty();
    request->append(buf, static_cast<size_t>(n));
  }
  return true;
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

std::string Response(const std::string& request, const Store& store) {
  if (request.rfind("GET ", 0) != 0) {
    return "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Length: 0\r\n"
           "Connection: close\r\n\r\n";
  }
  const std::string body = PrometheusText(store.Stats());
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

struct MetricsServer::State {
  State(const Store& s, Fd fd, uint16_t p) : store(s), listener(std::move(fd)), port(p) {}
  void Serve() {
    while (!stop.load(std::memory_order_acquire)) {
      pollfd p{listener.get(), POLLIN, 0};
      if (::poll(&p, 1, kPollMillis) <= 0) continue;
      Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client.get() < 0) continue;
      std::string request;
      if (!ReadRequest(client.get(), &request)) continue;
      SendAll(client.get(), Response(request, store));
      scrapes.fetch_add(1, std::memory_order_relaxed);
    }
  }

  const Store& store;
  Fd listener;
  const uint16_t port;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> scrapes{0};
  std::thread thread;
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const Store& store,
                                                            uint16_t port) {
  const std::string where = "metrics server 127.0.0.1:" + std::to_string(port);
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return IoError(where + ": socket: " + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return IoError(where + ": bind: " + std::strerror(errno));
  }
  if (::listen(fd.get(), 16) != 0)
    return IoError(where + ": listen: " + std::strerror(errno));
  socklen_t len = sizeof(addr);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  auto state = std::make_unique<State>(store, std::move(fd), ntohs(addr.sin_port));
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->Serve(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() {
  state_->stop.store(true, std::memory_order_release);
  state_->thread.join();
}

uint16_t MetricsServer::port() const { return state_->port; }
uint64_t MetricsServer::scrapes() const {
  return state_->scrapes.load(std::memory_order_relaxed);
}

}  // namespace kvtier
