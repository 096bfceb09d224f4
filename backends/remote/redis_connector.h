// How a RedisNode reaches its server: the endpoint, the connection settings,
// and the connector that turns them into a RespTransport: plain TCP, or TLS
// (tls_connector.h) when a CA is configured. The client builds one
// connector (for TLS: one SSL_CTX, the CA and client certificate loaded
// once) and every node borrows it.
//
// Thread safety: connectors are immutable after creation; Connect may run
// on several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "backends/remote/resp_transport.h"
#include "kvtier/status.h"

namespace kvtier::internal {

struct RedisEndpoint {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const RedisEndpoint&, const RedisEndpoint&) = default;
};

// "host:port" (IPv6 as "[addr]:port"); InvalidArgument naming `field`.
Result<RedisEndpoint> ParseEndpoint(std::string_view text, std::string_view field);

// TLS is on when ca_file or ca_dir is set; the server's certificate is then
// always verified (chain and name). Field names in errors are the options'
// (options.remote.tls_*).
struct RedisTlsConfig {
  std::string ca_file;      // PEM bundle of trusted CAs
  std::string ca_dir;       // a directory of hashed CA certificates (c_rehash)
  std::string cert_file;    // PEM client certificate (mutual TLS); with key_file
  std::string key_file;     // PEM private key of cert_file
  std::string server_name;  // the name the certificate must carry; empty = the host
  bool enabled() const { return !ca_file.empty() || !ca_dir.empty(); }
};

struct RedisConnectConfig {
  std::string username;  // empty: AUTH <password> (requirepass)
  std::string password;  // empty: no AUTH
  uint32_t connect_timeout_ms = 500;
  uint32_t io_timeout_ms = 2000;  // per read or write, the TLS handshake's too
  uint32_t reconnect_backoff_ms = 1000;
};

class RedisConnector {
 public:
  virtual ~RedisConnector() = default;
  // A connection to `endpoint`, ready for RESP (not yet authenticated).
  // Unavailable when the server cannot be reached (worth retrying);
  // InvalidArgument naming the option when TLS refuses it (the server's
  // certificate does not verify, or the server refused ours).
  virtual Result<std::unique_ptr<RespTransport>> Connect(
      const RedisEndpoint& endpoint, const RedisConnectConfig& config) const = 0;
};

// Plain TCP when `tls` is not enabled, else TLS with the files loaded now:
// InvalidArgument naming the options.remote.tls_* field that is missing,
// unreadable or not what it should be.
Result<std::unique_ptr<RedisConnector>> MakeRedisConnector(const RedisTlsConfig& tls);

}  // namespace kvtier::internal
