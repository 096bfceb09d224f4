// Options for Store::Open. Plain aggregates with defaults in place; Open()
// validates them once and names the offending field in its error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvtier/layout.h"

namespace kvtier {

// How a tier keeps a block's bytes. The codec is part of the namespace: a
// block stored under one codec configuration is never served to a store
// opened with another, and each stored block's header names its codec.
// The 8-bit codecs halve an fp16/bf16 block (quarter an fp32 one) plus one
// 4-byte float scale per (token, head) group of head_dim values, i.e.
// stored/raw = (head_dim + 4) / (head_dim * dtype bytes): 0.52 for fp16 with
// head_dim 128. They are lossy (relative RMS error about 0.5% for int8, 2.5%
// for fp8 on Gaussian data) and cost ~one memcpy of CPU time per save and
// load (AVX2+F16C when the CPU has it). They need an fp16, bf16 or fp32
// layout (Open: InvalidArgument for an fp8 layout). NaN decodes as 0; +-Inf
// as the largest finite magnitude of its group.
enum class Codec : uint8_t {
  kRaw = 0,   // bytes as the engine holds them; loads are byte-exact
  kInt8 = 1,  // symmetric int8 in [-127, 127], scale = group absmax / 127
  kFp8 = 2,   // FP8 E4M3, scale = group absmax / 448
};

// The tiers a store may have, fastest first: a store's tier stack is the
// enabled ones in this order. kRemote is shared with other stores (Redis).
enum class Tier : uint8_t { kGpu = 0, kHost = 1, kNvme = 2, kRemote = 3 };
inline constexpr int kNumTiers = 4;
inline const char* TierName(Tier tier) {
  switch (tier) {
    case Tier::kGpu:
      return "gpu";
    case Tier::kHost:
      return "host";
    case Tier::kNvme:
      return "nvme";
    case Tier::kRemote:
      return "remote";
  }
  return "unknown";
}

enum class EvictionPolicy : uint8_t {
  kLru = 0,  // least recently used, chain tails first
  // Segmented LRU: a block loaded again (a hit) moves from a probation
  // segment to a protected one (at most 10% of the tier); victims come from
  // probation first, chain tails first, so blocks used once cannot flush the
  // prefixes that were reused. Compared with LRU in bench/RESULTS.md.
  kSlru = 1,
  // Frequency-admitted SLRU: as kSlru, but a block enters the protected
  // segment (half the tier) once it was referenced twice lately, hit or
  // missed, counted in a sketch that remembers evicted blocks. Compared in
  // bench/RESULTS.md.
  kFrequency = 2,
  // kSlru plus the engine's hints (kvtier/request_context.h): when a
  // session's last request is done, the blocks only that session used go to
  // the cold end, except those of its first request (they may be a document
  // the next session reads): these go next, oldest closing first, unless a
  // live block is far older. priority > 0 protects. With a TTL (ttl_s) on
  // an open session's request, that session's later blocks wait for its
  // expected return, and the one expected furthest goes first once that is
  // further off than the coldest other block has been idle. Without hints
  // it is kSlru.
  kSession = 3,
};

// When a block saved to a faster tier is written to NVMe.
enum class WritePolicy : uint8_t {
  kWriteThrough = 0,  // every saved block goes down in the background
  kWriteBack = 1,     // only when it is evicted from the tier above
};

// How much the store says (Options::logging). Each level includes the ones
// above it in this list read upwards: kDebug shows everything.
enum class LogLevel : uint8_t {
  kDebug = 0,
  kInfo = 1,
  kWarning = 2,
  kError = 3,
  kOff = 4
};

// Receives one log line. Called from any of the store's threads, possibly
// concurrently; must not call back into the store. `message` is valid
// during the call only.
using LogFn = void (*)(void* user_data, LogLevel level, const char* message);

struct LogOptions {
  // nullptr: `Options::log` if set (warnings and errors), else stderr at the
  // level the environment variable KVTIER_LOG names (debug, info, warning,
  // error, off; default warning).
  LogFn sink = nullptr;
  void* user_data = nullptr;            // passed to `sink`; borrowed for the store's life
  LogLevel level = LogLevel::kWarning;  // least level `sink` receives
};

struct GpuTierOptions {
  // Bytes of device (HBM) memory for stored blocks, allocated once at Open
  // and freed with the store; 0 = no GPU tier. The fastest tier: saves from
  // device segments land here and are written down to host. Open returns
  // NotSupported with the CUDA runtime's reason when this build has no CUDA
  // or there is no usable device.
  uint64_t capacity_bytes = 0;
  // The CUDA device the store copies with and the GPU tier lives on; device
  // segments must be on it.
  int device = 0;
  // How blocks are kept in HBM. kInt8/kFp8: half the HBM per block, encoded
  // on the host as they enter. A hit into device memory is device to device:
  // raw blocks copied, 8-bit ones decoded by the CUDA codec kernels (the CPU
  // codec's math and bytes); the header is checked on the host, the payload
  // not re-verified (see "Device memory" in kvtier/store.h).
  Codec codec = Codec::kRaw;
};

struct HostTierOptions {
  // Bytes of DRAM for stored blocks, allocated once at Open and never freed
  // until the store is destroyed. Rounded down to whole slots; must hold at
  // least one block. 0 = no host tier.
  uint64_t capacity_bytes = 0;
  // Page-lock the arena (mmap + mlock) so DMA can reach it; it is also
  // registered with CUDA (cudaHostRegister) once the store copies device
  // memory. If the memlock limit refuses, the arena stays unlocked,
  // a warning is logged and Stats().host_memory_locked is false.
  bool lock_memory = true;
  Codec codec = Codec::kRaw;
};

struct NvmeTierOptions {
  // Bytes of disk for stored blocks across all directories; 0 = no NVMe tier.
  // Rounded down to whole slots (a block + 64-byte header, rounded up to
  // 4 KiB); must hold one, and no more than the tier indexes (2^31 pages).
  // Preallocated at Open (fallocate), after checking that each directory's
  // filesystem has its share free plus the manifest's reserve, 80 MiB +
  // 512 bytes a slot (RocksDB's logs, tables and info logs, bounded to fit
  // it); else Open fails naming this field and leaves no file behind. While
  // running, a filesystem with less than 16 MiB free (something else filled
  // it) stops the manifest: new blocks are refused as a full disk (counted in
  // full_events) until space returns, never a crash. Reopening with another capacity grows or cuts the files,
  // keeping the blocks that fit. A build without liburing/RocksDB makes a
  // non-zero value NotSupported.
  uint64_t capacity_bytes = 0;
  // One cache file (kvtier-nvme.cache, mode 0600, locked while the store is
  // open: one store per directory) per directory, slots striped over them;
  // the manifest (RocksDB) lives in the first. Each must exist, be owned by
  // this process's user, not be writable by group or others, be listed once
  // and accept O_DIRECT. A cache file that is a link, not a regular file or
  // another user's is refused.
  std::vector<std::string> directories = {};
  // I/Os in flight per batch. Measured here: deeper than 16 only adds latency.
  uint32_t queue_depth = 16;
  WritePolicy write_policy = WritePolicy::kWriteThrough;
  bool allow_buffered_io = false;  // use the page cache if O_DIRECT is refused
  // A directory written with another namespace or layout, or whose manifest
  // is damaged (RocksDB files deleted or corrupted): false = Open fails
  // naming the difference (InvalidArgument) or the damage (Corruption);
  // true = its cache is wiped and reused, the tier starting empty.
  bool wipe_on_mismatch = false;
  Codec codec = Codec::kRaw;
  // Write-through copy-downs waiting for the background writer, in blocks.
  // Beyond it Save does not wait: the copy is dropped and counted
  // (Stats().nvme.copy_down_dropped). Costs nothing until used.
  uint32_t write_queue_blocks = 1024;
  // Keyed checksum. Without a key, whoever can write a directory can plant a
  // block that verifies (its checksums are XXH3, which anyone recomputes).
  // With one, every slot also carries an HMAC-SHA256 of its stored block
  // under the key, checked before anything is served: a block written
  // without the key (forged, or by a keyless store) or under another key is
  // a miss counted in checksum_errors. The directory's identity records
  // that its blocks are keyed (not the key): a keyless store refuses a keyed
  // directory at Open, and a keyed one a keyless directory, like any other
  // mismatch (wipe_on_mismatch). Cost: bench/RESULTS.md. Set at most one of
  // the two sources:
  //   checksum_key       the secret itself, >= 16 bytes; empty = none.
  //   checksum_key_file  a file whose bytes (16..4096) are the secret. It
  //                      must be a regular file (not a link) owned by this
  //                      process's user, readable and writable by nobody
  //                      else (mode 0600 or 0400); keep it outside the cache
  //                      directories. Missing, it is an error unless
  //                      create_checksum_key_file, which creates it (0600,
  //                      32 random bytes).
  std::string checksum_key;
  std::string checksum_key_file;
  bool create_checksum_key_file = false;
};

// How the remote tier's endpoints are to be read.
enum class RemoteKind : uint8_t {
  kRedis = 0,         // one Redis or Valkey server (the first endpoint)
  kRedisCluster = 1,  // seed nodes of a Redis Cluster; the slot map does the rest
};

// A Redis (or Valkey) deployment that stores share: blocks one saves,
// others load (prefill on one machine, decode on another). It is not the
// authority on what it holds: Redis evicts on its own (run it with
// `maxmemory-policy allkeys-lru`), keys expire, others overwrite them; so
// Lookup asks it (one pipelined EXISTS per call past the local prefix) and
// every block read is verified (a gone or bad block is a miss). Blocks are
// stored with the host tier's codec; saves reach it write-through from the
// host tier in the background, loads promote what they read into host.
// docs/design.md, "The shared remote tier".
struct RemoteTierOptions {
  // "host:port" of the server or of cluster nodes; empty = no remote tier.
  std::vector<std::string> endpoints = {};
  RemoteKind kind = RemoteKind::kRedis;
  std::string username;  // ACL user; empty = `AUTH password` (requirepass)
  std::string password;  // empty = no AUTH
  // TLS (1.2 or newer, kvtier's own OpenSSL client; no hiredis TLS needed)
  // is on when tls_ca_file or tls_ca_dir is set, for every node alike
  // (cluster too). The server's certificate is always verified: its chain
  // against these CAs, its name against tls_server_name (empty = the
  // endpoint's host; an IP address must be among its IP SANs). A certificate
  // that does not verify, or a server that refuses ours, fails Open with
  // InvalidArgument naming the field to fix; a file that is missing or
  // unreadable, too. For a public CA, tls_ca_dir = "/etc/ssl/certs".
  std::string tls_ca_file;      // PEM bundle of the CAs to trust
  std::string tls_ca_dir;       // directory of hashed CA certificates (c_rehash)
  std::string tls_cert_file;    // PEM client certificate, for mutual TLS
                                // (tls-auth-clients yes); with tls_key_file
  std::string tls_key_file;     // its unencrypted PEM private key
  std::string tls_server_name;  // name (or IP) the server's certificate must carry
  // Seconds a written block lives (SET EX); 0 = until Redis evicts it.
  uint32_t ttl_seconds = 0;
  // First part of every key: <key_prefix>:<namespace id>:<block hash>. The
  // namespace id (model, layout, codecs, rank, tenant) keeps models and
  // tenants apart; the prefix separates deployments sharing one Redis.
  std::string key_prefix = "kvtier";
  // Secret shared by every store of the deployment (>= 16 bytes; empty =
  // none). Each value then carries an HMAC-SHA256 of its key and bytes,
  // checked before anything is served, so whoever can write to Redis
  // without the secret cannot plant a block that loads. Cost: bench/RESULTS.md.
  std::string checksum_key;
  // Write-throughs waiting for the remote writer, in blocks. Beyond it Save
  // does not wait: the copy is dropped and counted (Stats().remote).
  uint32_t queue_blocks = 256;
  // Blocks per pipelined SET batch of the writer.
  uint32_t batch_blocks = 16;
  uint32_t connect_timeout_ms = 500;
  uint32_t io_timeout_ms = 2000;  // per pipeline read or write
  // After a failed connect a node is not tried again for this long (its
  // blocks are misses meanwhile).
  uint32_t reconnect_backoff_ms = 1000;
  // How long Lookup trusts an EXISTS answer (saves round trips between a
  // Lookup and its Load); 0 = ask every time. A stale answer costs one miss.
  uint32_t exists_cache_ms = 200;
};

// Shadow verification (Store::ShadowSampled, Store::ShadowVerify;
// kvtier/shadow.h). Checksums prove a block is the bytes saved under its
// hash, not that those bytes are the right KV: a block saved from the wrong
// buffer, a model revision served under an old model_id, or a codec that
// loses too much all load "verified". An engine that recomputes a sampled
// share of its hits and hands the result back finds them.
struct ShadowOptions {
  // Share of served blocks kvtier samples, 0..1 (0 = off: no copy, no
  // cost). Each block a Load serves is sampled with this probability; its
  // served bytes (after decode: what the engine received) are copied and
  // kept until ShadowVerify names it or it ages out. Cost per sampled
  // block: one memcpy of the block and its bytes held meanwhile.
  double sample_rate = 0;
  // Sampled blocks held at once, 1..65536; beyond it the oldest is dropped
  // (Stats().shadow_expired). Memory: up to this many blocks of engine bytes.
  uint32_t max_pending_blocks = 64;
};

// Load or recompute: Lookup (and LookupAndLease) offer a prefix only as far
// as loading it pays off against the engine recomputing it. Each tier's
// load cost is measured online from its completed reads (every Read and
// read batch: stored bytes and time, verification and decode included),
// fitted as seconds = latency + bytes / bandwidth by least squares over
// exponentially weighted sums (a batch of one size only gives bandwidth).
// Loading the first k blocks of a prefix is estimated at each tier's
// latency once (its blocks go in one batch) plus their stored bytes over
// its bandwidth, each block counted at the fastest tier holding it;
// recomputing them at k * block_tokens / prefill_tokens_per_second.
// Lookup offers the k that saves the most time (ties to the longer): the
// blocks past it would arrive later than the engine could compute them. A
// tier not measured yet is assumed free (its blocks are offered). Capped
// blocks are counted (Stats().lookup_capped_blocks). Load still serves
// whatever prefix it is asked for. Cost when on: one more index probe per
// block in Lookup.
struct LoadCostOptions {
  // The engine's prefill speed in tokens per second for this model on this
  // device, >= 0 and finite; 0 = off (the default: Lookup offers every
  // servable block).
  double prefill_tokens_per_second = 0;
  // Weight of a new read in the running fit, in (0, 1]: higher follows a
  // tier that changed speed faster, lower smooths noise.
  double measurement_weight = 0.1;
};

struct Options {
  KvLayout layout;

  // Namespace: what must match for KV to be reusable (see hash.h).
  std::string model_id;  // required: model name and revision
  std::string tenant_salt;
  uint32_t rank = 0;

  GpuTierOptions gpu;
  HostTierOptions host;
  NvmeTierOptions nvme;
  RemoteTierOptions remote;

  // Which block a full tier gives up (always a chain tail). SLRU won over
  // LRU on every trace and capacity measured (bench/RESULTS.md, issue 6);
  // kLru is the plain recency order.
  EvictionPolicy eviction = EvictionPolicy::kSlru;

  // Sliding-window trimming (for layouts with layer_windows): a saved block
  // keeps its sliding-window layers only if it lies within the window before
  // the chain's end or before a checkpoint, one every this many blocks
  // (0 = chain ends only). Elsewhere it keeps its full-attention layers only
  // (nothing at all when every layer slides), so a prefix that ends between
  // checkpoints is served up to the last checkpoint before it. Smaller =
  // more prefixes served, more bytes; about window/checkpoint of the
  // sliding layers' bytes are kept. Ignored when no layer slides.
  uint32_t swa_checkpoint_blocks = 0;

  // Threads that run asynchronous transfers (BeginLoad, BeginSave,
  // Prefetch), 1..64. Each copies at about memcpy speed while it runs.
  uint32_t transfer_threads = 2;

  ShadowOptions shadow;
  LoadCostOptions load_cost;

  // Where warnings go (e.g. "memlock refused"); nullptr = stderr. Kept for
  // callers built before `logging`, which supersedes it when its sink is set.
  void (*log)(const char* message) = nullptr;

  // The codec_tag of this store's namespace: every tier's codec, so a store
  // with an int8 tier and one with only raw tiers never share a block.
  uint32_t CodecTag() const {
    return uint32_t{static_cast<uint8_t>(gpu.codec)} |
           uint32_t{static_cast<uint8_t>(host.codec)} << 8 |
           uint32_t{static_cast<uint8_t>(nvme.codec)} << 16;
  }

  // Levels, a user-data pointer and the default sink (LogOptions).
  LogOptions logging;
};

}  // namespace kvtier
