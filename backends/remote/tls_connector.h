// TlsConnector: connections to Redis over TLS with OpenSSL (1.2 or newer),
// made by kvtier itself (Debian 12's hiredis 0.14 has no TLS). One SSL_CTX
// per client: the CA (file or directory) and the optional client
// certificate and key are loaded once, at Open. Every connection verifies
// the server's certificate chain against that CA and its name against
// tls_server_name, or the endpoint's host when that is empty (an IP address
// is matched against the certificate's IP SANs; a name is also sent as
// SNI). There is no switch to skip verification.
//
// Reads and writes go straight between the caller's buffers and SSL_read /
// SSL_write (a 1 MiB value is encrypted from where it lies, record by
// record), through a socket BIO that sends with MSG_NOSIGNAL, so a server
// that went away is a status, never a SIGPIPE.
//
// Thread safety: Connect may run on several threads at once (the SSL_CTX
// is only read); each connection is externally synchronized.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "backends/remote/redis_connector.h"

namespace kvtier::internal {

class TlsConnector final : public RedisConnector {
 public:
  // REQUIRES: tls.enabled(). InvalidArgument naming the options.remote.tls_*
  // field that is missing, unreadable or not what it should be.
  static Result<std::unique_ptr<TlsConnector>> Create(const RedisTlsConfig& tls);

  Result<std::unique_ptr<RespTransport>> Connect(
      const RedisEndpoint& endpoint, const RedisConnectConfig& config) const override;

 private:
  struct ContextDeleter {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  using ContextPtr = std::unique_ptr<SSL_CTX, ContextDeleter>;
  TlsConnector(ContextPtr context, RedisTlsConfig tls)
      : context_(std::move(context)), tls_(std::move(tls)) {}

  const ContextPtr context_;
  const RedisTlsConfig tls_;
};

}  // namespace kvtier::internal
