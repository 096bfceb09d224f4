// kvtier_options: defaults, struct_size compatibility and conversion to
// kvtier::Options (kvtier_c.h).
#include <cstdio>
#include <cstring>
#include <limits>

#include "lib/c_api/c_api_support.h"

namespace kvtier::internal {
namespace {

static_assert(offsetof(kvtier_options, nvme_directories) >= KVTIER_OPTIONS_SIZE_V1,
              "a 0.2 field must not overlap 0.1's struct (tail padding included)");

void LogToC(void* user_data, LogLevel level, const char* message) {
  const auto* target = static_cast<const kvtier_c_log_target*>(user_data);
  target->fn(target->user_data, static_cast<kvtier_log_level>(level), message);
}

// The caller's options as this library's struct: its first struct_size
// bytes, the fields past it (not whole within it) from kvtier_options_init.
kvtier_options Widen(const kvtier_options& c) {
  kvtier_options w;
  kvtier_options_init(&w);
  const size_t n = c.struct_size < sizeof(w) ? c.struct_size : sizeof(w);
  std::memcpy(static_cast<void*>(&w), &c, KVTIER_OPTIONS_SIZE_V1);
#define KVTIER_C_FIELD(f)                             \
  if (offsetof(kvtier_options, f) + sizeof(c.f) <= n) \
  std::memcpy(static_cast<void*>(&w.f), &c.f, sizeof(c.f))
  KVTIER_C_FIELD(nvme_directories);
  KVTIER_C_FIELD(nvme_directory_count);
  KVTIER_C_FIELD(nvme_queue_depth);
  KVTIER_C_FIELD(nvme_write_policy);
  KVTIER_C_FIELD(nvme_allow_buffered_io);
  KVTIER_C_FIELD(nvme_wipe_on_mismatch);
  KVTIER_C_FIELD(nvme_codec);
  KVTIER_C_FIELD(nvme_write_queue_blocks);
  KVTIER_C_FIELD(gpu_device);
  KVTIER_C_FIELD(gpu_codec);
  KVTIER_C_FIELD(eviction);
  KVTIER_C_FIELD(log);
  KVTIER_C_FIELD(log_user_data);
  KVTIER_C_FIELD(log_level);
  KVTIER_C_FIELD(remote_endpoints);
  KVTIER_C_FIELD(remote_endpoint_count);
  KVTIER_C_FIELD(remote_kind);
  KVTIER_C_FIELD(remote_username);
  KVTIER_C_FIELD(remote_password);
  KVTIER_C_FIELD(remote_key_prefix);
  KVTIER_C_FIELD(remote_checksum_key);
  KVTIER_C_FIELD(remote_ttl_seconds);
  KVTIER_C_FIELD(remote_queue_blocks);
  KVTIER_C_FIELD(remote_exists_cache_ms);
  KVTIER_C_FIELD(remote_tls_ca_file);
  KVTIER_C_FIELD(remote_tls_ca_dir);
  KVTIER_C_FIELD(remote_tls_cert_file);
  KVTIER_C_FIELD(remote_tls_key_file);
  KVTIER_C_FIELD(remote_tls_server_name);
  KVTIER_C_FIELD(nvme_checksum_key);
  KVTIER_C_FIELD(nvme_checksum_key_file);
  KVTIER_C_FIELD(nvme_create_checksum_key_file);
  KVTIER_C_FIELD(shadow_sample_rate);
  KVTIER_C_FIELD(shadow_max_pending_blocks);
  KVTIER_C_FIELD(load_cost_prefill_tokens_per_second);
  KVTIER_C_FIELD(load_cost_measurement_weight);
#undef KVTIER_C_FIELD
  w.struct_size = sizeof(w);
  return w;
}

}  // namespace

kvtier_code CFail(const Status& s, kvtier_error* err) {
  if (err != nullptr) {
    std::snprintf(err->message, sizeof(err->message), "%s", s.ToString().c_str());
  }
  return static_cast<kvtier_code>(s.code());
}

kvtier_code CNull(const char* field, kvtier_error* err) {
  return CFail(InvalidArgument(std::string(field) + ": null"), err);
}

Status CheckStructSize(const char* what, size_t struct_size, size_t min_size,
                       size_t max_size) {
  if (struct_size >= min_size && struct_size <= max_size) return Status::Ok();
  std::string why = struct_size > max_size
                        ? " is larger than this library knows (built against a newer "
                          "kvtier?)"
                        : " is smaller than the first released size";
  return InvalidArgument(std::string(what) +
                         ".struct_size: " + std::to_string(struct_size) + why +
                         "; this kvtier " + KVTIER_VERSION_STRING + " accepts " +
                         std::to_string(min_size) + " to " + std::to_string(max_size) +
                         " (set it to sizeof the struct, e.g. with the init call)");
}

Status CheckedMultiply(size_t a, size_t b, const char* field, size_t* out) {
  if (a != 0 && b > std::numeric_limits<size_t>::max() / a) {
    return InvalidArgument(std::string(field) + ": " + std::to_string(a) + " x " +
                           std::to_string(b) + " overflows size_t");
  }
  *out = a * b;
  return Status::Ok();
}

Options OptionsFromC(const kvtier_options& caller, kvtier_c_log_target* log) {
  const kvtier_options c = Widen(caller);
  Options o;
  o.layout.num_layers = c.num_layers;
  o.layout.kv_heads = c.kv_heads;
  o.layout.head_dim = c.head_dim;
  o.layout.dtype = static_cast<DType>(c.dtype);
  o.layout.block_tokens = c.block_tokens;
  o.layout.parts_per_layer = c.parts_per_layer;
  if (c.layer_windows != nullptr) {
    o.layout.layer_windows.assign(c.layer_windows, c.layer_windows + c.num_layers);
  }
  o.model_id = c.model_id != nullptr ? c.model_id : "";
  o.tenant_salt = c.tenant_salt != nullptr ? c.tenant_salt : "";
  o.rank = c.rank;
  o.gpu.capacity_bytes = c.gpu_capacity_bytes;
  o.gpu.device = c.gpu_device;
  o.gpu.codec = static_cast<Codec>(c.gpu_codec);
  o.host.capacity_bytes = c.host_capacity_bytes;
  o.host.lock_memory = c.host_lock_memory != 0;
  o.host.codec = static_cast<Codec>(c.host_codec);
  o.nvme.capacity_bytes = c.nvme_capacity_bytes;
  for (size_t i = 0; i < c.nvme_directory_count; ++i) {
    o.nvme.directories.emplace_back(c.nvme_directories[i]);
  }
  o.nvme.queue_depth = c.nvme_queue_depth;
  o.nvme.write_policy = static_cast<WritePolicy>(c.nvme_write_policy);
  o.nvme.allow_buffered_io = c.nvme_allow_buffered_io != 0;
  o.nvme.wipe_on_mismatch = c.nvme_wipe_on_mismatch != 0;
  o.nvme.codec = static_cast<Codec>(c.nvme_codec);
  o.nvme.write_queue_blocks = c.nvme_write_queue_blocks;
  if (c.nvme_checksum_key != nullptr) o.nvme.checksum_key = c.nvme_checksum_key;
  if (c.nvme_checksum_key_file != nullptr) {
    o.nvme.checksum_key_file = c.nvme_checksum_key_file;
  }
  o.nvme.create_checksum_key_file = c.nvme_create_checksum_key_file != 0;
  for (size_t i = 0; i < c.remote_endpoint_count; ++i) {
    o.remote.endpoints.emplace_back(c.remote_endpoints[i]);
  }
  o.remote.kind = static_cast<RemoteKind>(RawEnum(c.remote_kind));  // checked by Open
  if (c.remote_username != nullptr) o.remote.username = c.remote_username;
  if (c.remote_password != nullptr) o.remote.password = c.remote_password;
  if (c.remote_key_prefix != nullptr) o.remote.key_prefix = c.remote_key_prefix;
  if (c.remote_checksum_key != nullptr) o.remote.checksum_key = c.remote_checksum_key;
  o.remote.ttl_seconds = c.remote_ttl_seconds;
  o.remote.queue_blocks = c.remote_queue_blocks;
  o.remote.exists_cache_ms = c.remote_exists_cache_ms;
  if (c.remote_tls_ca_file != nullptr) o.remote.tls_ca_file = c.remote_tls_ca_file;
  if (c.remote_tls_ca_dir != nullptr) o.remote.tls_ca_dir = c.remote_tls_ca_dir;
  if (c.remote_tls_cert_file != nullptr) o.remote.tls_cert_file = c.remote_tls_cert_file;
  if (c.remote_tls_key_file != nullptr) o.remote.tls_key_file = c.remote_tls_key_file;
  if (c.remote_tls_server_name != nullptr) {
    o.remote.tls_server_name = c.remote_tls_server_name;
  }
  o.eviction = static_cast<EvictionPolicy>(c.eviction);
  o.swa_checkpoint_blocks = c.swa_checkpoint_blocks;
  o.shadow.sample_rate = c.shadow_sample_rate;
  o.shadow.max_pending_blocks = c.shadow_max_pending_blocks;
  o.load_cost.prefill_tokens_per_second = c.load_cost_prefill_tokens_per_second;
  o.load_cost.measurement_weight = c.load_cost_measurement_weight;
  if (c.log != nullptr) {
    log->fn = c.log;
    log->user_data = c.log_user_data;
    o.logging = LogOptions{LogToC, log, static_cast<LogLevel>(c.log_level)};
  }
  return o;
}

// Checks of enum and pointer fields the C++ Options cannot express wrongly.
Status CheckCOptions(const kvtier_options& caller) {
  const kvtier_options c = Widen(caller);
  if (c.nvme_directory_count > 0 && c.nvme_directories == nullptr) {
    return InvalidArgument("options.nvme_directories: null with nvme_directory_count " +
                           std::to_string(c.nvme_directory_count));
  }
  for (size_t i = 0; i < c.nvme_directory_count; ++i) {
    if (c.nvme_directories[i] == nullptr) {
      return InvalidArgument("options.nvme_directories[" + std::to_string(i) + "]: null");
    }
  }
  if (c.remote_endpoint_count > 0 && c.remote_endpoints == nullptr) {
    return InvalidArgument("options.remote_endpoints: null with remote_endpoint_count " +
                           std::to_string(c.remote_endpoint_count));
  }
  for (size_t i = 0; i < c.remote_endpoint_count; ++i) {
    if (c.remote_endpoints[i] == nullptr) {
      return InvalidArgument("options.remote_endpoints[" + std::to_string(i) + "]: null");
    }
  }
  const auto codec_ok = [](int k) {
    return k == KVTIER_CODEC_RAW || k == KVTIER_CODEC_INT8 || k == KVTIER_CODEC_FP8;
  };
  if (!codec_ok(RawEnum(c.host_codec)))
    return InvalidArgument("options.host_codec: unknown codec");
  if (!codec_ok(RawEnum(c.nvme_codec)))
    return InvalidArgument("options.nvme_codec: unknown codec");
  if (!codec_ok(RawEnum(c.gpu_codec)))
    return InvalidArgument("options.gpu_codec: unknown codec");
  const int write_policy = RawEnum(c.nvme_write_policy);
  if (write_policy != KVTIER_WRITE_THROUGH && write_policy != KVTIER_WRITE_BACK) {
    return InvalidArgument("options.nvme_write_policy: unknown policy");
  }
  const int eviction = RawEnum(c.eviction);
  if (eviction < KVTIER_EVICTION_LRU || eviction > KVTIER_EVICTION_SESSION) {
    return InvalidArgument("options.eviction: unknown policy");
  }
  if (static_cast<unsigned>(RawEnum(c.log_level)) > KVTIER_LOG_OFF) {
    return InvalidArgument("options.log_level: unknown level");
  }
  const int dtype = RawEnum(c.dtype);
  if (dtype < KVTIER_DTYPE_FP16 || dtype > KVTIER_DTYPE_FP8_E4M3) {
    return InvalidArgument("options.dtype: unknown dtype");
  }
  return Status::Ok();
}

kvtier_code CheckOptionsArgument(const kvtier_options* options, kvtier_error* err) {
  if (options == nullptr) return CNull("options", err);
  if (Status s = CheckStructSize("options", options->struct_size, KVTIER_OPTIONS_SIZE_V1,
                                 sizeof(kvtier_options));
      !s.ok()) {
    return CFail(s, err);
  }
  if (Status s = CheckCOptions(*options); !s.ok()) return CFail(s, err);
  return KVTIER_OK;
}

}  // namespace kvtier::internal

namespace {

// Every field of the current struct at its default.
void InitWhole(kvtier_options* options) {
  std::memset(static_cast<void*>(options), 0, sizeof(*options));
  const kvtier::Options d;
  options->struct_size = sizeof(*options);
  options->dtype = static_cast<kvtier_dtype>(d.layout.dtype);
  options->block_tokens = d.layout.block_tokens;
  options->parts_per_layer = d.layout.parts_per_layer;
  options->rank = d.rank;
  options->gpu_device = d.gpu.device;
  options->host_lock_memory = d.host.lock_memory ? 1 : 0;
  options->host_codec = static_cast<kvtier_codec>(d.host.codec);
  options->nvme_queue_depth = d.nvme.queue_depth;
  options->nvme_write_policy = static_cast<kvtier_write_policy>(d.nvme.write_policy);
  options->nvme_allow_buffered_io = d.nvme.allow_buffered_io ? 1 : 0;
  options->nvme_wipe_on_mismatch = d.nvme.wipe_on_mismatch ? 1 : 0;
  options->nvme_codec = static_cast<kvtier_codec>(d.nvme.codec);
  options->nvme_write_queue_blocks = d.nvme.write_queue_blocks;
  options->gpu_codec = static_cast<kvtier_codec>(d.gpu.codec);
  options->eviction = static_cast<kvtier_eviction>(d.eviction);
  options->log_level = static_cast<kvtier_log_level>(d.logging.level);
  options->remote_kind = static_cast<kvtier_remote_kind>(d.remote.kind);
  options->remote_queue_blocks = d.remote.queue_blocks;
  options->remote_exists_cache_ms = d.remote.exists_cache_ms;
  options->shadow_sample_rate = d.shadow.sample_rate;
  options->shadow_max_pending_blocks = d.shadow.max_pending_blocks;
  options->load_cost_prefill_tokens_per_second = d.load_cost.prefill_tokens_per_second;
  options->load_cost_measurement_weight = d.load_cost.measurement_weight;
}

}  // namespace

extern "C" {

// The defaults are made in a whole struct and `size` bytes of it copied
// out: nothing past the caller's struct is written.
void kvtier_options_init_sized(kvtier_options* options, size_t size) {
  if (options == nullptr) return;
  kvtier_options whole;
  InitWhole(&whole);
  size = std::min(size, sizeof(whole));
  if (size >= sizeof(whole.struct_size)) whole.struct_size = size;
  std::memcpy(static_cast<void*>(options), &whole, size);
}

// The symbol callers built before kvtier_options_init_sized existed call
// (the header's kvtier_options_init is now a macro passing the caller's
// size): 0.1's struct is the smallest any of them has.
#undef kvtier_options_init
void kvtier_options_init(kvtier_options* options) {
  kvtier_options_init_sized(options, KVTIER_OPTIONS_SIZE_V1);
}

const char* kvtier_version(void) { return KVTIER_VERSION_STRING; }

}  // extern "C"
