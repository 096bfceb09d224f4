// Options from the environment and from JSON files, for engines that let
// their operators configure kvtier without code (LMCACHE_*-style).
//
// Each option has one environment variable and one JSON key:
//
//   JSON key                    variable                         value
//   model_id                    KVTIER_MODEL_ID                  string
//   tenant_salt                 KVTIER_TENANT_SALT               string
//   rank                        KVTIER_RANK                      integer
//   layout.num_layers           KVTIER_NUM_LAYERS                integer
//   layout.kv_heads             KVTIER_KV_HEADS                  integer
//   layout.head_dim             KVTIER_HEAD_DIM                  integer
//   layout.dtype                KVTIER_DTYPE                     fp16|bf16|fp32|fp8_e4m3
//   layout.block_tokens         KVTIER_BLOCK_TOKENS              integer
//   layout.parts_per_layer      KVTIER_PARTS_PER_LAYER           integer
//   layout.layer_windows        KVTIER_LAYER_WINDOWS             integers ("1024,1024,0")
//   gpu.capacity_bytes          KVTIER_GPU_BYTES                 size
//   gpu.device                  KVTIER_GPU_DEVICE                integer
//   gpu.codec                   KVTIER_GPU_CODEC                 raw|int8|fp8
//   host.capacity_bytes         KVTIER_HOST_BYTES                size
//   host.lock_memory            KVTIER_HOST_LOCK_MEMORY          bool
//   host.codec                  KVTIER_HOST_CODEC                raw|int8|fp8
//   nvme.capacity_bytes         KVTIER_NVME_BYTES                size
//   nvme.directories            KVTIER_NVME_DIRS                 paths ("/a:/b"; JSON:
//   list) nvme.queue_depth            KVTIER_NVME_QUEUE_DEPTH          integer
//   nvme.write_policy           KVTIER_NVME_WRITE_POLICY         write_through|write_back
//   nvme.allow_buffered_io      KVTIER_NVME_ALLOW_BUFFERED_IO    bool
//   nvme.wipe_on_mismatch       KVTIER_NVME_WIPE_ON_MISMATCH     bool
//   nvme.codec                  KVTIER_NVME_CODEC                raw|int8|fp8
//   nvme.write_queue_blocks     KVTIER_NVME_WRITE_QUEUE_BLOCKS   integer
//   nvme.checksum_key           KVTIER_NVME_CHECKSUM_KEY         string (>= 16 bytes)
//   nvme.checksum_key_file      KVTIER_NVME_CHECKSUM_KEY_FILE    path
//   nvme.create_checksum_key_file KVTIER_NVME_CREATE_CHECKSUM_KEY_FILE bool
//   remote.endpoints            KVTIER_REMOTE_ENDPOINTS          host:port list ("a:6379,b:6379";
//                                                                JSON: list)
//   remote.kind                 KVTIER_REMOTE_KIND               redis|redis_cluster
//   remote.username             KVTIER_REMOTE_USERNAME           string
//   remote.password             KVTIER_REMOTE_PASSWORD           string
//   remote.key_prefix           KVTIER_REMOTE_KEY_PREFIX         string
//   remote.checksum_key         KVTIER_REMOTE_CHECKSUM_KEY       string (>= 16 bytes)
//   remote.ttl_seconds          KVTIER_REMOTE_TTL_SECONDS        integer
//   remote.queue_blocks         KVTIER_REMOTE_QUEUE_BLOCKS       integer
//   remote.exists_cache_ms      KVTIER_REMOTE_EXISTS_CACHE_MS    integer
//   remote.tls_ca_file          KVTIER_REMOTE_TLS_CA_FILE        path (TLS on)
//   remote.tls_ca_dir           KVTIER_REMOTE_TLS_CA_DIR         path (TLS on)
//   remote.tls_cert_file        KVTIER_REMOTE_TLS_CERT_FILE      path
//   remote.tls_key_file         KVTIER_REMOTE_TLS_KEY_FILE       path
//   remote.tls_server_name      KVTIER_REMOTE_TLS_SERVER_NAME    string
//   eviction                    KVTIER_EVICTION                  lru|slru
//   swa_checkpoint_blocks       KVTIER_SWA_CHECKPOINT_BLOCKS     integer
//   log_level                   KVTIER_LOG debug|info|warning|error|off
//   shadow.sample_rate          KVTIER_SHADOW_SAMPLE_RATE        number (0..1)
//   shadow.max_pending_blocks   KVTIER_SHADOW_MAX_PENDING_BLOCKS integer
//   load_cost.prefill_tokens_per_second KVTIER_PREFILL_TOKENS_PER_SECOND number
//   load_cost.measurement_weight KVTIER_LOAD_COST_MEASUREMENT_WEIGHT number (0..1]
//
// A size is bytes, optionally with a binary suffix: 512MiB, 8GiB, 1TiB (K,
// M, G, T and KB..TB mean the same powers of 1024); JSON also takes a
// number. A bool is true|false|1|0|yes|no|on|off. Values replace what
// *options held; options not mentioned keep theirs.
//
// Errors (InvalidArgument) name the key or variable and the value, and
// leave *options unchanged: an unknown JSON key, an unknown KVTIER_*
// variable (except KVTIER_LIBRARY, read by the Python package, and
// KVTIER_BUILD_TYPE, read by scripts/), a value that does not parse or does
// not fit its field.
//
// Thread safety: ApplyEnvironment reads the process environment (getenv is
// not safe against a concurrent setenv); the others are pure.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/options.h"
#include "kvtier/status.h"

namespace kvtier {

// Applies every KVTIER_* variable of the process environment.
KVTIER_EXPORT Status ApplyEnvironment(Options* options);
// The same over explicit NAME=value pairs (tests, launchers).
KVTIER_EXPORT Status ApplyEnvironment(
    const std::vector<std::pair<std::string, std::string>>& variables, Options* options);

// Applies a JSON object of the keys above (nesting as in the table:
// {"host": {"capacity_bytes": "8GiB"}}). Errors name the file and the key.
KVTIER_EXPORT Status ApplyConfigFile(const std::string& path, Options* options);
KVTIER_EXPORT Status ApplyConfigJson(std::string_view json, Options* options);

}  // namespace kvtier
