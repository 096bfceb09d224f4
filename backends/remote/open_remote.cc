// OpenRemoteTier: options.remote checked and turned into a RemoteTier.
#include "backends/remote/open_remote.h"

#include <string>

#include "backends/remote/remote_tier.h"
#include "lib/log.h"
#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Status CheckRange(uint32_t value, uint32_t low, uint32_t high, const char* field) {
  if (value >= low && value <= high) return Status::Ok();
  return InvalidArgument(std::string(field) + ": " + std::to_string(value) +
                         ", must be " + std::to_string(low) + ".." +
                         std::to_string(high));
}

}  // namespace

Status ValidateRemoteOptions(const Options& options) {
  const RemoteTierOptions& r = options.remote;
  if (r.endpoints.empty()) return Status::Ok();
  for (size_t i = 0; i < r.endpoints.size(); ++i) {
    Result<RedisEndpoint> e = ParseEndpoint(
        r.endpoints[i], "options.remote.endpoints[" + std::to_string(i) + "]");
    if (!e.ok()) return e.status();
  }
  if (r.kind != RemoteKind::kRedis && r.kind != RemoteKind::kRedisCluster) {
    return InvalidArgument("options.remote.kind: unknown kind " +
                           std::to_string(static_cast<int>(r.kind)));
  }
  // The TLS files, loaded once here to check them (before any memory is
  // taken for the store); RedisClient::Open loads them for good.
  const RedisTlsConfig tls{r.tls_ca_file, r.tls_ca_dir, r.tls_cert_file, r.tls_key_file,
                           r.tls_server_name};
  if (Result<std::unique_ptr<RedisConnector>> c = MakeRedisConnector(tls); !c.ok()) {
    return c.status();
  }
  if (r.key_prefix.empty() ||
      r.key_prefix.find_first_of(" \r\n{}") != std::string::npos) {
    return InvalidArgument(
        "options.remote.key_prefix: '" + r.key_prefix +
        "' must be non-empty, without spaces, line breaks or braces (cluster hash tags)");
  }
  if (!r.checksum_key.empty()) {
    if (Result<KeyedChecksum> k =
            KeyedChecksum::Create(r.checksum_key, "options.remote.checksum_key");
        !k.ok()) {
      return k.status();
    }
  }
  if (!options.layout.layer_windows.empty()) {
    for (const uint32_t w : options.layout.layer_windows) {
      if (w != 0) {
        return NotSupported(
            "options.remote.endpoints: the remote tier keeps whole blocks only; a layout "
            "with sliding-window layers (layout.layer_windows) is not supported with it "
            "yet");
      }
    }
  }
  if (Status s = CheckRange(r.queue_blocks, 1, 1 << 20, "options.remote.queue_blocks");
      !s.ok()) {
    return s;
  }
  if (Status s = CheckRange(r.batch_blocks, 1, 4096, "options.remote.batch_blocks");
      !s.ok()) {
    return s;
  }
  if (Status s = CheckRange(r.connect_timeout_ms, 1, 600'000,
                            "options.remote.connect_timeout_ms");
      !s.ok()) {
    return s;
  }
  if (Status s = CheckRange(r.io_timeout_ms, 1, 600'000, "options.remote.io_timeout_ms");
      !s.ok()) {
    return s;
  }
  return CheckRange(r.exists_cache_ms, 0, 60'000, "options.remote.exists_cache_ms");
}

Result<std::unique_ptr<TierBackend>> OpenRemoteTier(const Options& options) {
  const RemoteTierOptions& r = options.remote;
  RemoteTierConfig c;
  for (size_t i = 0; i < r.endpoints.size(); ++i) {
    c.client.seeds.push_back(
        ParseEndpoint(r.endpoints[i], "options.remote.endpoints").value());
  }
  c.client.topology = r.kind == RemoteKind::kRedisCluster ? RedisTopology::kCluster
                                                          : RedisTopology::kStandalone;
  c.client.connect = RedisConnectConfig{r.username, r.password, r.connect_timeout_ms,
                                        r.io_timeout_ms, r.reconnect_backoff_ms};
  c.client.tls = RedisTlsConfig{r.tls_ca_file, r.tls_ca_dir, r.tls_cert_file,
                                r.tls_key_file, r.tls_server_name};
  // The namespace root hashes model, layout, codecs, rank and tenant salt.
  const Namespace ns{options.model_id, options.layout.Fingerprint(), options.CodecTag(),
                     options.rank, options.tenant_salt};
  c.key_prefix = r.key_prefix + ":" + Hex16(PrefixHasher::NamespaceRoot(ns).lo) + ":";
  c.ttl_seconds = r.ttl_seconds;
  if (!r.checksum_key.empty()) {
    Result<KeyedChecksum> k =
        KeyedChecksum::Create(r.checksum_key, "options.remote.checksum_key");
    if (!k.ok()) return k.status();
    c.checksum.emplace(std::move(k).value());
  }
  c.codec = BlockCodec::For(options.host.codec, options.layout);
  c.stored_block_bytes =
      StoredBlockBytes(StoredPayloadBytes(options.layout, options.host.codec));
  c.exists_cache = std::chrono::milliseconds(r.exists_cache_ms);
  c.log = Logger::For(options);
  Result<std::unique_ptr<RemoteTier>> tier = RemoteTier::Open(std::move(c));
  if (!tier.ok()) return tier.status();
  return std::unique_ptr<TierBackend>(std::move(tier).value());
}

}  // namespace kvtier::internal
