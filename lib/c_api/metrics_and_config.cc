// The C API's metrics (Prometheus text, the HTTP endpoint) and the store
// opened from options plus a JSON file and the environment (kvtier_c.h).
#include <cstring>
#include <memory>
#include <string>

#include "kvtier/config.h"
#include "kvtier/metrics.h"
#include "lib/c_api/c_api_support.h"

struct kvtier_metrics_server {
  std::unique_ptr<kvtier::MetricsServer> server;
};

namespace {

using kvtier::Status;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::CheckOptionsArgument;
using kvtier::internal::CNull;

}  // namespace

extern "C" {

kvtier_code kvtier_metrics_text(const kvtier_store* store, char* buf, size_t capacity,
                                size_t* needed, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (buf == nullptr && capacity > 0) return CNull("buf", err);
  if (needed == nullptr) return CNull("needed", err);
  return CGuarded(err, [&] {
    const std::string text = kvtier::PrometheusText(store->store->Stats());
    *needed = text.size() + 1;
    if (capacity < text.size() + 1) {
      return CFail(kvtier::ResourceExhausted(
                       "metrics_text.capacity: " + std::to_string(capacity) + " bytes, " +
                       std::to_string(text.size() + 1) + " needed"),
                   err);
    }
    std::memcpy(buf, text.c_str(), text.size() + 1);
    return KVTIER_OK;
  });
}

kvtier_code kvtier_metrics_server_start(const kvtier_store* store, uint16_t port,
                                        kvtier_metrics_server** out, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    auto server = kvtier::MetricsServer::Start(*store->store, port);
    if (!server.ok()) return CFail(server.status(), err);
    *out = new kvtier_metrics_server{std::move(server).value()};
    return KVTIER_OK;
  });
}

uint16_t kvtier_metrics_server_port(const kvtier_metrics_server* server) {
  return server != nullptr ? server->server->port() : 0;
}

void kvtier_metrics_server_stop(kvtier_metrics_server* server) { delete server; }

kvtier_code kvtier_open_configured(const kvtier_options* options, const char* config_file,
                                   int flags, kvtier_store** out, kvtier_error* err) {
  if (kvtier_code c = CheckOptionsArgument(options, err); c != KVTIER_OK) return c;
  if (out == nullptr) return CNull("out", err);
  if ((flags & ~KVTIER_CONFIG_ENV) != 0) {
    return CFail(kvtier::InvalidArgument("flags: unknown bits " + std::to_string(flags)),
                 err);
  }
  return CGuarded(err, [&] {
    auto handle = std::make_unique<kvtier_store>();
    handle->log = std::make_unique<kvtier_c_log_target>();
    kvtier::Options o = kvtier::internal::OptionsFromC(*options, handle->log.get());
    if (config_file != nullptr) {
      if (Status s = kvtier::ApplyConfigFile(config_file, &o); !s.ok())
        return CFail(s, err);
    }
    if ((flags & KVTIER_CONFIG_ENV) != 0) {
      if (Status s = kvtier::ApplyEnvironment(&o); !s.ok()) return CFail(s, err);
    }
    auto store = kvtier::Store::Open(o);
    if (!store.ok()) return CFail(store.status(), err);
    handle->store = std::move(store).value();
    *out = handle.release();
    return KVTIER_OK;
  });
}

}  // extern "C"
