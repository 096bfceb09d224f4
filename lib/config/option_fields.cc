// OptionFields and the text parsers (lib/config/option_fields.h).
#include "lib/config/option_fields.h"

#include <strings.h>
#include <charconv>
#include <cstring>
#include <limits>

namespace kvtier::internal {
namespace {

#define KVTIER_MEMBER(expr) [](Options& o) -> void* { return &o.expr; }

const OptionField kFields[] = {
    {"model_id", "KVTIER_MODEL_ID", FieldKind::kString, KVTIER_MEMBER(model_id)},
    {"tenant_salt", "KVTIER_TENANT_SALT", FieldKind::kString, KVTIER_MEMBER(tenant_salt)},
    {"rank", "KVTIER_RANK", FieldKind::kU32, KVTIER_MEMBER(rank)},
    {"layout.num_layers", "KVTIER_NUM_LAYERS", FieldKind::kU32,
     KVTIER_MEMBER(layout.num_layers)},
    {"layout.kv_heads", "KVTIER_KV_HEADS", FieldKind::kU32,
     KVTIER_MEMBER(layout.kv_heads)},
    {"layout.head_dim", "KVTIER_HEAD_DIM", FieldKind::kU32,
     KVTIER_MEMBER(layout.head_dim)},
    {"layout.dtype", "KVTIER_DTYPE", FieldKind::kDType, KVTIER_MEMBER(layout.dtype)},
    {"layout.block_tokens", "KVTIER_BLOCK_TOKENS", FieldKind::kU32,
     KVTIER_MEMBER(layout.block_tokens)},
    {"layout.parts_per_layer", "KVTIER_PARTS_PER_LAYER", FieldKind::kU32,
     KVTIER_MEMBER(layout.parts_per_layer)},
    {"layout.layer_windows", "KVTIER_LAYER_WINDOWS", FieldKind::kU32List,
     KVTIER_MEMBER(layout.layer_windows)},
    {"gpu.capacity_bytes", "KVTIER_GPU_BYTES", FieldKind::kBytes,
     KVTIER_MEMBER(gpu.capacity_bytes)},
    {"gpu.device", "KVTIER_GPU_DEVICE", FieldKind::kInt, KVTIER_MEMBER(gpu.device)},
    {"gpu.codec", "KVTIER_GPU_CODEC", FieldKind::kCodec, KVTIER_MEMBER(gpu.codec)},
    {"host.capacity_bytes", "KVTIER_HOST_BYTES", FieldKind::kBytes,
     KVTIER_MEMBER(host.capacity_bytes)},
    {"host.lock_memory", "KVTIER_HOST_LOCK_MEMORY", FieldKind::kBool,
     KVTIER_MEMBER(host.lock_memory)},
    {"host.codec", "KVTIER_HOST_CODEC", FieldKind::kCodec, KVTIER_MEMBER(host.codec)},
    {"nvme.capacity_bytes", "KVTIER_NVME_BYTES", FieldKind::kBytes,
     KVTIER_MEMBER(nvme.capacity_bytes)},
    {"nvme.directories", "KVTIER_NVME_DIRS", FieldKind::kPathList,
     KVTIER_MEMBER(nvme.directories)},
    {"nvme.queue_depth", "KVTIER_NVME_QUEUE_DEPTH", FieldKind::kU32,
     KVTIER_MEMBER(nvme.queue_depth)},
    {"nvme.write_policy", "KVTIER_NVME_WRITE_POLICY", FieldKind::kWritePolicy,
     KVTIER_MEMBER(nvme.write_policy)},
    {"nvme.allow_buffered_io", "KVTIER_NVME_ALLOW_BUFFERED_IO", FieldKind::kBool,
     KVTIER_MEMBER(nvme.allow_buffered_io)},
    {"nvme.wipe_on_mismatch", "KVTIER_NVME_WIPE_ON_MISMATCH", FieldKind::kBool,
     KVTIER_MEMBER(nvme.wipe_on_mismatch)},
    {"nvme.codec", "KVTIER_NVME_CODEC", FieldKind::kCodec, KVTIER_MEMBER(nvme.codec)},
    {"nvme.write_queue_blocks", "KVTIER_NVME_WRITE_QUEUE_BLOCKS", FieldKind::kU32,
     KVTIER_MEMBER(nvme.write_queue_blocks)},
    {"nvme.checksum_key", "KVTIER_NVME_CHECKSUM_KEY", FieldKind::kString,
     KVTIER_MEMBER(nvme.checksum_key)},
    {"nvme.checksum_key_file", "KVTIER_NVME_CHECKSUM_KEY_FILE", FieldKind::kString,
     KVTIER_MEMBER(nvme.checksum_key_file)},
    {"nvme.create_checksum_key_file", "KVTIER_NVME_CREATE_CHECKSUM_KEY_FILE",
     FieldKind::kBool, KVTIER_MEMBER(nvme.create_checksum_key_file)},
    {"remote.endpoints", "KVTIER_REMOTE_ENDPOINTS", FieldKind::kEndpointList,
     KVTIER_MEMBER(remote.endpoints)},
    {"remote.kind", "KVTIER_REMOTE_KIND", FieldKind::kRemoteKind,
     KVTIER_MEMBER(remote.kind)},
    {"remote.username", "KVTIER_REMOTE_USERNAME", FieldKind::kString,
     KVTIER_MEMBER(remote.username)},
    {"remote.password", "KVTIER_REMOTE_PASSWORD", FieldKind::kString,
     KVTIER_MEMBER(remote.password)},
    {"remote.key_prefix", "KVTIER_REMOTE_KEY_PREFIX", FieldKind::kString,
     KVTIER_MEMBER(remote.key_prefix)},
    {"remote.checksum_key", "KVTIER_REMOTE_CHECKSUM_KEY", FieldKind::kString,
     KVTIER_MEMBER(remote.checksum_key)},
    {"remote.ttl_seconds", "KVTIER_REMOTE_TTL_SECONDS", FieldKind::kU32,
     KVTIER_MEMBER(remote.ttl_seconds)},
    {"remote.queue_blocks", "KVTIER_REMOTE_QUEUE_BLOCKS", FieldKind::kU32,
     KVTIER_MEMBER(remote.queue_blocks)},
    {"remote.exists_cache_ms", "KVTIER_REMOTE_EXISTS_CACHE_MS", FieldKind::kU32,
     KVTIER_MEMBER(remote.exists_cache_ms)},
    {"remote.tls_ca_file", "KVTIER_REMOTE_TLS_CA_FILE", FieldKind::kString,
     KVTIER_MEMBER(remote.tls_ca_file)},
    {"remote.tls_ca_dir", "KVTIER_REMOTE_TLS_CA_DIR", FieldKind::kString,
     KVTIER_MEMBER(remote.tls_ca_dir)},
    {"remote.tls_cert_file", "KVTIER_REMOTE_TLS_CERT_FILE", FieldKind::kString,
     KVTIER_MEMBER(remote.tls_cert_file)},
    {"remote.tls_key_file", "KVTIER_REMOTE_TLS_KEY_FILE", FieldKind::kString,
     KVTIER_MEMBER(remote.tls_key_file)},
    {"remote.tls_server_name", "KVTIER_REMOTE_TLS_SERVER_NAME", FieldKind::kString,
     KVTIER_MEMBER(remote.tls_server_name)},
    {"eviction", "KVTIER_EVICTION", FieldKind::kEviction, KVTIER_MEMBER(eviction)},
    {"swa_checkpoint_blocks", "KVTIER_SWA_CHECKPOINT_BLOCKS", FieldKind::kU32,
     KVTIER_MEMBER(swa_checkpoint_blocks)},
    {"log_level", "KVTIER_LOG", FieldKind::kLogLevel, KVTIER_MEMBER(logging.level)},
    {"shadow.sample_rate", "KVTIER_SHADOW_SAMPLE_RATE", FieldKind::kDouble,
     KVTIER_MEMBER(shadow.sample_rate)},
    {"shadow.max_pending_blocks", "KVTIER_SHADOW_MAX_PENDING_BLOCKS", FieldKind::kU32,
     KVTIER_MEMBER(shadow.max_pending_blocks)},
    {"load_cost.prefill_tokens_per_second", "KVTIER_PREFILL_TOKENS_PER_SECOND",
     FieldKind::kDouble, KVTIER_MEMBER(load_cost.prefill_tokens_per_second)},
    {"load_cost.measurement_weight", "KVTIER_LOAD_COST_MEASUREMENT_WEIGHT",
     FieldKind::kDouble, KVTIER_MEMBER(load_cost.measurement_weight)},
};

#undef KVTIER_MEMBER

Status Bad(std::string_view name, std::string_view text, std::string_view expected) {
  return InvalidArgument(std::string(name) + ": '" + std::string(text) + "' is not " +
                         std::string(expected));
}

template <typename T>
bool ParseUnsigned(std::string_view text, T* out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end && !text.empty();
}

// Index of `text` (case-insensitive) in `names`, or -1.
template <size_t N>
int Choose(std::string_view text, const char* const (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (text.size() == std::strlen(names[i]) &&
        strncasecmp(text.data(), names[i], text.size()) == 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

template <typename Enum, size_t N>
Status SetEnum(std::string_view name, std::string_view text,
               const char* const (&names)[N], const char* expected, int base,
               void* member) {
  const int i = Choose(text, names);
  if (i < 0) return Bad(name, text, expected);
  *static_cast<Enum*>(member) = static_cast<Enum>(i + base);
  return Status::Ok();
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(sep);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::span<const OptionField> OptionFields() { return kFields; }

Status ParseBytes(std::string_view name, std::string_view text, uint64_t* out) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  uint64_t value = 0;
  if (!ParseUnsigned(text.substr(0, digits), &value)) {
    return Bad(name, text, "a size (bytes, or e.g. 512MiB, 8GiB)");
  }
  static const char* const kSuffixes[] = {"",  "K",  "KB",  "KiB", "M",  "MB", "MiB",
                                          "G", "GB", "GiB", "T",   "TB", "TiB"};
  const int s = Choose(text.substr(digits), kSuffixes);
  if (s < 0) return Bad(name, text, "a size (bytes, or e.g. 512MiB, 8GiB)");
  const int shift = s == 0 ? 0 : 10 * ((s - 1) / 3 + 1);
  if (shift > 0 && value > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return Bad(name, text, "a size that fits 64 bits");
  }
  *out = value << shift;
  return Status::Ok();
}

Status SetFromText(const OptionField& field, std::string_view name, std::string_view text,
                   Options* options) {
  void* member = field.member(*options);
  switch (field.kind) {
    case FieldKind::kU32:
      return ParseUnsigned(text, static_cast<uint32_t*>(member))
                 ? Status::Ok()
                 : Bad(name, text, "an integer in 0..4294967295");
    case FieldKind::kU64:
      return ParseUnsigned(text, static_cast<uint64_t*>(member))
                 ? Status::Ok()
                 : Bad(name, text, "a non-negative integer");
    case FieldKind::kInt:
      return ParseUnsigned(text, static_cast<int*>(member))
                 ? Status::Ok()
                 : Bad(name, text, "an integer");
    case FieldKind::kBytes:
      return ParseBytes(name, text, static_cast<uint64_t*>(member));
    case FieldKind::kDouble:
      return ParseUnsigned(text, static_cast<double*>(member))
                 ? Status::Ok()
                 : Bad(name, text, "a number (e.g. 0.01)");
    case FieldKind::kBool: {
      static const char* const kBools[] = {"false", "true", "0",   "1",
                                           "no",    "yes",  "off", "on"};
      const int i = Choose(text, kBools);
      if (i < 0) return Bad(name, text, "a bool (true/false, 1/0, yes/no, on/off)");
      *static_cast<bool*>(member) = i % 2 == 1;
      return Status::Ok();
    }
    case FieldKind::kString:
      *static_cast<std::string*>(member) = std::string(text);
      return Status::Ok();
    case FieldKind::kDType: {
      static const char* const kNames[] = {"fp16", "bf16", "fp32", "fp8_e4m3"};
      return SetEnum<DType>(name, text, kNames, "fp16, bf16, fp32 or fp8_e4m3", 1,
                            member);
    }
    case FieldKind::kCodec: {
      static const char* const kNames[] = {"raw", "int8", "fp8"};
      return SetEnum<Codec>(name, text, kNames, "raw, int8 or fp8", 0, member);
    }
    case FieldKind::kWritePolicy: {
      static const char* const kNames[] = {"write_through", "write_back"};
      return SetEnum<WritePolicy>(name, text, kNames, "write_through or write_back", 0,
                                  member);
    }
    case FieldKind::kEviction: {
      static const char* const kNames[] = {"lru", "slru"};
      return SetEnum<EvictionPolicy>(name, text, kNames, "lru or slru", 0, member);
    }
    case FieldKind::kLogLevel: {
      static const char* const kNames[] = {"debug", "info", "warning", "error", "off"};
      return SetEnum<LogLevel>(name, text, kNames, "debug, info, warning, error or off",
                               0, member);
    }
    case FieldKind::kU32List: {
      std::vector<uint32_t> values;
      if (!text.empty()) {
        for (std::string_view part : Split(text, ',')) {
          uint32_t v = 0;
          if (!ParseUnsigned(part, &v))
            return Bad(name, text, "comma-separated integers");
          values.push_back(v);
        }
      }
      *static_cast<std::vector<uint32_t>*>(member) = std::move(values);
      return Status::Ok();
    }
    case FieldKind::kPathList: {
      std::vector<std::string> paths;
      if (!text.empty()) {
        for (std::string_view part : Split(text, ':')) {
          if (part.empty()) return Bad(name, text, "':'-separated paths (one is empty)");
          paths.emplace_back(part);
        }
      }
      *static_cast<std::vector<std::string>*>(member) = std::move(paths);
      return Status::Ok();
    }
    case FieldKind::kEndpointList: {
      std::vector<std::string> endpoints;
      if (!text.empty()) {
        for (std::string_view part : Split(text, ',')) {
          if (part.empty())
            return Bad(name, text, "','-separated host:port (one is empty)");
          endpoints.emplace_back(part);
        }
      }
      *static_cast<std::vector<std::string>*>(member) = std::move(endpoints);
      return Status::Ok();
    }
    case FieldKind::kRemoteKind: {
      static const char* const kNames[] = {"redis", "redis_cluster"};
      return SetEnum<RemoteKind>(name, text, kNames, "redis or redis_cluster", 0, member);
    }
  }
  return Internal(std::string(name) + ": unhandled field kind");
}

}  // namespace kvtier::internal
