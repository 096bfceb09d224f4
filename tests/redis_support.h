// Real redis-server processes on 127.0.0.1 for the remote tier's tests: a
// standalone server or a 3-master cluster (redis-cli --cluster create), each
// in its own temporary directory, on free ports, without persistence (a
// restart comes back empty), stopped with the test. Tests skip, saying why,
// only when redis-server (or redis-cli, for a cluster) is not installed.
#pragma once

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_support.h"

namespace kvtier::testing {

inline bool OnPath(const char* program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    if (access((dirs.substr(start, end - start) + "/" + program).c_str(), X_OK) == 0) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Whether `port` on 127.0.0.1 can be bound now.
inline bool PortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return free;
}

// A port nobody listens on now, below the ephemeral range, whose cluster bus
// port (port + 10000, which must exist for cluster nodes) is free too.
inline int FreePort() {
  static unsigned seed = static_cast<unsigned>(getpid()) * 2654435761u;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    seed = seed * 1103515245u + 12345u;
    const int port = 20000 + static_cast<int>((seed >> 8) % 12000);
    if (PortFree(port) && PortFree(port + 10000)) return port;
  }
  return 0;
}

// One command to a server, its reply as text ("" when it did not answer).
inline std::string RedisText(int port, const std::vector<std::string>& args) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err != 0) {
    if (c != nullptr) redisFree(c);
    return "";
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (r != nullptr) {
    if (r->type == REDIS_REPLY_INTEGER) {
      out = std::to_string(r->integer);
    } else if (r->str != nullptr) {
      out.assign(r->str, r->len);
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

class RedisServer {
 public:
  // nullptr when redis-server is not installed (the caller skips).
  static std::unique_ptr<RedisServer> Start(std::vector<std::string> config = {}) {
    if (!OnPath("redis-server")) return nullptr;
    auto s = std::unique_ptr<RedisServer>(new RedisServer(std::move(config)));
    s->Launch();
    return s;
  }
  ~RedisServer() { Kill(); }

  int port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  // False once the process has exited (e.g. it refused its configuration).
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  // Same port, directory and configuration; no persistence, so it comes back empty.
  void Restart() {
    Kill();
    Launch();
  }

 private:
  explicit RedisServer(std::vector<std::string> config)
      : port_(FreePort()), config_(std::move(config)) {
    std::ofstream f(dir_.path() / "redis.conf");
    f << "port " << port_ << "\nbind 127.0.0.1\nprotected-mode no\nsave \"\"\n"
      << "appendonly no\ndaemonize no\ndir " << dir_.path().string() << "\nlogfile "
      << (dir_.path() / "redis.log").string() << "\n";
    for (const std::string& line : config_) f << line << "\n";
  }

  void Launch() {
    const std::string conf = (dir_.path() / "redis.conf").string();
    pid_ = fork();
    if (pid_ == 0) {
      execlp("redis-server", "redis-server", conf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string pong = RedisText(port_, {"PING"});
      if (pong == "PONG" || pong.starts_with("NOAUTH")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  TempDir dir_;
  int port_;
  std::vector<std::string> config_;
  pid_t pid_ = 0;
};

// Three masters, no replicas, each serving a third of the slots;
// cluster-require-full-coverage no, so a dead master costs only its slots.
class RedisCluster {
 public:
  // How the nodes are set up beyond the cluster lines: more redis.conf lines
  // for node i (a TLS port), the port `redis-cli --cluster create` reaches
  // node i on (empty: its plain port), and redis-cli's own flags (--tls ...).
  struct Setup {
    std::function<std::vector<std::string>(int node)> node_config;
    std::function<int(int node, const RedisServer& server)> create_port;
    std::string cli_flags;
  };

  static std::unique_ptr<RedisCluster> Start(const Setup& setup = {}) {
    if (!OnPath("redis-server") || !OnPath("redis-cli")) return nullptr;
    auto c = std::unique_ptr<RedisCluster>(new RedisCluster());
    std::string create = "redis-cli " + setup.cli_flags + " --cluster create";
    for (int i = 0; i < 3; ++i) {
      std::vector<std::string> config = {
          "cluster-enabled yes", "cluster-config-file nodes.conf",
          "cluster-node-timeout 1000", "cluster-require-full-coverage no"};
      if (setup.node_config) {
        for (std::string& line : setup.node_config(i)) config.push_back(std::move(line));
      }
      c->nodes_.push_back(RedisServer::Start(std::move(config)));
      const RedisServer& node = *c->nodes_.back();
      const int port = setup.create_port ? setup.create_port(i, node) : node.port();
      create += " 127.0.0.1:" + std::to_string(port);
    }
    create += " --cluster-yes > /dev/null 2>&1";
    if (std::system(create.c_str()) != 0) return nullptr;
    if (!c->WaitOk()) return nullptr;
    return c;
  }

  RedisServer& node(int i) { return *nodes_[i]; }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& n : nodes_) out.push_back(n->endpoint());
    return out;
  }
  // True once every live node says cluster_state:ok.
  bool WaitOk(std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      bool ok = true;
      for (const auto& n : nodes_) {
        ok = ok && RedisText(n->port(), {"CLUSTER", "INFO"}).find("cluster_state:ok") !=
                       std::string::npos;
      }
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  RedisCluster() = default;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// A store the test needs open; fails the test naming why not.
inline std::unique_ptr<Store> OpenOrDie(const Options& o) {
  auto s = Store::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// The key the remote tier stores block `h` of a store opened with `o` under.
inline std::string RemoteKey(const Options& o, const BlockHash& h) {
  const Namespace ns{o.model_id, o.layout.Fingerprint(), o.CodecTag(), o.rank,
                     o.tenant_salt};
  char id[17];
  std::snprintf(id, sizeof(id), "%016llx",
                static_cast<unsigned long long>(PrefixHasher::NamespaceRoot(ns).lo));
  return o.remote.key_prefix + ":" + id + ":" + h.ToHex();
}

}  // namespace kvtier::testing
