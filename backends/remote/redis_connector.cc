// Endpoints and the plain TCP connector; TLS is in tls_connector.cc.
#include "backends/remote/redis_connector.h"

#include <charconv>

#include "backends/remote/tls_connector.h"

namespace kvtier::internal {
namespace {

class PlainConnector final : public RedisConnector {
 public:
  Result<std::unique_ptr<RespTransport>> Connect(
      const RedisEndpoint& endpoint, const RedisConnectConfig& config) const override {
    Result<OwnedFd> fd = TcpConnect(endpoint.host, endpoint.port,
                                    config.connect_timeout_ms, config.io_timeout_ms);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<RespTransport>(
        std::make_unique<PlainTransport>(std::move(fd).value()));
  }
};

}  // namespace

Result<RedisEndpoint> ParseEndpoint(std::string_view text, std::string_view field) {
  const size_t colon = text.rfind(':');
  const auto bad = [&](const char* why) {
    return InvalidArgument(std::string(field) + ": '" + std::string(text) + "' " + why +
                           " (expected host:port)");
  };
  if (colon == std::string_view::npos || colon == 0) return bad("has no host");
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port <= 0 ||
      port > 65535) {
    return bad("has no port in 1..65535");
  }
  return RedisEndpoint{std::string(host), port};
}

Result<std::unique_ptr<RedisConnector>> MakeRedisConnector(const RedisTlsConfig& tls) {
  if (!tls.enabled()) {
    for (const auto& [value, field] :
         {std::pair{&tls.cert_file, "options.remote.tls_cert_file"},
          std::pair{&tls.key_file, "options.remote.tls_key_file"},
          std::pair{&tls.server_name, "options.remote.tls_server_name"}}) {
      if (!value->empty()) {
        return InvalidArgument(std::string(field) +
                               ": set, but TLS is off (TLS is on when "
                               "options.remote.tls_ca_file or tls_ca_dir is set)");
      }
    }
    return std::unique_ptr<RedisConnector>(std::make_unique<PlainConnector>());
  }
  Result<std::unique_ptr<TlsConnector>> connector = TlsConnector::Create(tls);
  if (!connector.ok()) return connector.status();
  return std::unique_ptr<RedisConnector>(std::move(connector).value());
}

}  // namespace kvtier::internal
