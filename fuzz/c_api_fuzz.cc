// Fuzzes the C API's checks. The first byte picks what: a kvtier_options
// made of fuzz bytes (every field, struct_size and enums included, strings
// and null pointers; NVMe and remote pointed only at places that cannot
// open, so no file is made and no server reached) through kvtier_open; or
// the counts, sizes, pointers and struct sizes of the data-path calls
// (hash_chain, lookup, load, save, leases, erase, stats, metrics) on a store
// opened once. Every call returns a code, never crashes, throws, or reads or
// writes past the buffers the caller gave; the fuzzer keeps to the C API's
// contract where the library cannot check (a chain holds n_blocks hashes).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "kvtier/kvtier_c.h"

namespace {

using kvtier::fuzz::FuzzBytes;

// An enum field set to any int (a C caller may store one; the library must
// refuse it without loading it as the enum).
template <typename E>
void SetRaw(E* field, int32_t value) {
  static_assert(sizeof(E) == sizeof(value));
  std::memcpy(field, &value, sizeof(value));
}

// Strings and arrays the options point into, alive for the call.
struct Pointees {
  std::string model_id, tenant_salt, username, password, key_prefix, remote_key, nvme_key;
  std::vector<uint32_t> windows;
  std::vector<const char*> directories, endpoints;
};

void NoLog(void*, kvtier_log_level, const char*) {}

// A string field: null, or up to 40 fuzz bytes.
const char* TakeString(FuzzBytes& in, std::string* keep) {
  if ((in.Take<uint8_t>() & 3) == 0) return nullptr;
  *keep = in.TakeString(40);
  return keep->c_str();
}

// Places an NVMe tier or a secret file can never be opened or made in.
constexpr const char* kNoDirectory[] = {"/nonexistent-kvtier-fuzz", "", "/dev/null",
                                        "/proc/self"};
constexpr const char* kNoKeyFile[] = {"/nonexistent-kvtier-fuzz/nvme.key", "",
                                      "/dev/null", "/etc/passwd"};
// Endpoints that parse badly or name no server (never a real one).
constexpr const char* kNoEndpoint[] = {"", "no-port", ":", "[::1]", "host:99999"};

void SetLayout(FuzzBytes& in, kvtier_options* o, Pointees* p) {
  o->num_layers = in.Take<uint32_t>();
  o->kv_heads = in.Take<uint32_t>();
  o->head_dim = in.Take<uint32_t>();
  SetRaw(&o->dtype, in.Take<int32_t>());
  o->block_tokens = in.Take<uint32_t>();
  o->parts_per_layer = in.Take<uint32_t>();
  const uint32_t window = in.Take<uint32_t>();
  if ((window & 1) != 0 && o->num_layers <= 4096) {
    p->windows.resize(o->num_layers);
    for (size_t i = 0; i < p->windows.size(); ++i) p->windows[i] = i % 3 ? window : 0;
    o->layer_windows = p->windows.data();
  }
}

void SetTiers(FuzzBytes& in, kvtier_options* o, Pointees* p) {
  const uint8_t which = in.Take<uint8_t>();
  o->gpu_capacity_bytes = (which & 1) ? in.Take<uint32_t>() % (4 << 20) : 0;
  o->host_capacity_bytes = in.Take<uint32_t>() % ((4 << 20) + 1);
  o->host_lock_memory = (which & 2) ? 1 : 0;
  SetRaw(&o->host_codec, in.Take<int32_t>());
  o->nvme_capacity_bytes = (which & 4) ? in.Take<uint64_t>() : 0;
  o->swa_checkpoint_blocks = in.Take<uint32_t>();
  const uint8_t dirs = in.Take<uint8_t>();
  if ((dirs & 0x80) != 0) {
    o->nvme_directories = nullptr;
    o->nvme_directory_count = dirs & 0x7f;
  } else {
    for (size_t i = 0; i < (dirs & 3u); ++i) {
      p->directories.push_back(kNoDirectory[(dirs >> (2 + i)) % 4]);
    }
    o->nvme_directories = p->directories.data();
    o->nvme_directory_count = p->directories.size();
  }
  o->nvme_queue_depth = in.Take<uint32_t>();
  SetRaw(&o->nvme_write_policy, in.Take<int32_t>());
  o->nvme_allow_buffered_io = in.Take<int8_t>();
  o->nvme_wipe_on_mismatch = in.Take<int8_t>();
  SetRaw(&o->nvme_codec, in.Take<int32_t>());
  o->nvme_write_queue_blocks = in.Take<uint32_t>();
  o->gpu_device = in.Take<int32_t>();
  SetRaw(&o->gpu_codec, in.Take<int32_t>());
  o->nvme_checksum_key = TakeString(in, &p->nvme_key);
  const uint8_t key_file = in.Take<uint8_t>();
  o->nvme_checksum_key_file = (key_file & 4) ? kNoKeyFile[key_file % 4] : nullptr;
  o->nvme_create_checksum_key_file = (key_file >> 3) & 1;
}

void SetRemote(FuzzBytes& in, kvtier_options* o, Pointees* p) {
  const uint8_t endpoints = in.Take<uint8_t>();
  if ((endpoints & 0x80) != 0) {
    o->remote_endpoints = nullptr;
    o->remote_endpoint_count = endpoints & 0x7f;
  } else if ((endpoints & 0x40) != 0) {
    p->endpoints.push_back(kNoEndpoint[endpoints % 5]);
    o->remote_endpoints = p->endpoints.data();
    o->remote_endpoint_count = 1;
  }
  SetRaw(&o->remote_kind, in.Take<int32_t>());
  o->remote_username = TakeString(in, &p->username);
  o->remote_password = TakeString(in, &p->password);
  o->remote_key_prefix = TakeString(in, &p->key_prefix);
  o->remote_checksum_key = TakeString(in, &p->remote_key);
  o->remote_ttl_seconds = in.Take<uint32_t>();
  o->remote_queue_blocks = in.Take<uint32_t>();
  o->remote_exists_cache_ms = in.Take<uint32_t>();
}

void FuzzOpen(FuzzBytes& in) {
  kvtier_options o;
  kvtier_options_init(&o);
  Pointees p;
  switch (in.Take<uint8_t>() % 4) {
    case 0:
      break;  // sizeof
    case 1:
      o.struct_size = KVTIER_OPTIONS_SIZE_V1;
      break;
    case 2:
      o.struct_size = offsetof(kvtier_options, nvme_checksum_key);
      break;
    default:
      o.struct_size = in.Take<size_t>();
      break;
  }
  SetLayout(in, &o, &p);
  o.model_id = TakeString(in, &p.model_id);
  o.tenant_salt = TakeString(in, &p.tenant_salt);
  o.rank = in.Take<uint32_t>();
  SetTiers(in, &o, &p);
  SetRaw(&o.eviction, in.Take<int32_t>());
  if ((in.Take<uint8_t>() & 1) != 0) o.log = NoLog;
  SetRaw(&o.log_level, in.Take<int32_t>());
  SetRemote(in, &o, &p);
  kvtier_store* store = nullptr;
  kvtier_error err;
  if (kvtier_open(&o, &store, &err) == KVTIER_OK) kvtier_close(store);
}

// ---- the data path --------------------------------------------------------

constexpr size_t kChain = 512;  // hashes every chain buffer holds

struct Fixture {
  kvtier_store* store = nullptr;
  size_t per_block = 0, seg_bytes = 0;
  std::vector<kvtier_block_hash> chain = std::vector<kvtier_block_hash>(kChain);

  Fixture() {
    kvtier_options o;
    kvtier_options_init(&o);
    o.num_layers = 2;
    o.kv_heads = 2;
    o.head_dim = 8;
    o.block_tokens = 4;
    o.model_id = "c-api-fuzz";
    o.host_capacity_bytes = 256 << 10;
    o.host_lock_memory = 0;
    kvtier_error err;
    if (kvtier_open(&o, &store, &err) != KVTIER_OK) __builtin_trap();
    per_block = kvtier_segments_per_block(store);
    seg_bytes = kvtier_segment_bytes(store);
    std::vector<uint32_t> tokens(kChain * 4);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i);
    if (kvtier_hash_chain(store, tokens.data(), tokens.size(), chain.data(), kChain,
                          &err) != KVTIER_OK) {
      __builtin_trap();
    }
  }
};

// Segments of fuzzed count, sizes, null data and device flags; each holds
// at least the bytes it claims (up to 64 KiB; a larger claim is a lie the
// library must refuse, as it is not the layout's segment size).
struct Segments {
  std::vector<std::vector<unsigned char>> memory;
  std::vector<kvtier_segment> list;

  Segments(FuzzBytes& in, size_t seg_bytes) {
    const size_t n = in.Take<uint16_t>() % 1024;
    const uint8_t mode = in.Take<uint8_t>();
    null_list = (mode & 8) != 0;
    memory.resize(n);
    for (size_t i = 0; i < n; ++i) {
      size_t bytes = seg_bytes;
      if ((mode & 1) != 0 && i == mode % (n + 1)) bytes = in.Take<size_t>();
      memory[i].resize(std::max(seg_bytes, std::min<size_t>(bytes, 64 << 10)), 0x5a);
      void* data = (mode & 2) != 0 && i == 0 ? nullptr : memory[i].data();
      const int device = (mode & 4) != 0 && i == n / 2 ? in.Take<int8_t>() : 0;
      list.push_back(kvtier_segment{data, bytes, device});
    }
  }
  const kvtier_segment* data() const { return null_list ? nullptr : list.data(); }
  bool null_list = false;  // the pointer null, whatever the count says
};

// True when the C API's contract would have the library read `n_blocks`
// hashes (the counts agree), more than the chain buffer holds: the fuzzer
// then keeps to the contract and skips the call.
bool ReadsPastChain(size_t n_blocks, size_t first_block, size_t per_block,
                    size_t n_segments) {
  if (n_blocks <= kChain || first_block > n_blocks) return false;
  const size_t blocks = n_blocks - first_block;
  return per_block != 0 && blocks <= SIZE_MAX / per_block &&
         blocks * per_block == n_segments;
}

void FuzzHashChain(FuzzBytes& in, const Fixture& f) {
  std::vector<uint32_t> tokens(in.Take<uint16_t>() % 4096);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = in.Take<uint8_t>();
  std::vector<kvtier_block_hash> out(tokens.size() + 1);
  const size_t n_blocks = in.Take<size_t>();
  const uint8_t nulls = in.Take<uint8_t>();
  kvtier_error err;
  (void)kvtier_hash_chain(f.store, (nulls & 1) ? nullptr : tokens.data(), tokens.size(),
                          (nulls & 2) ? nullptr : out.data(), n_blocks, &err);
}

void FuzzTransfer(FuzzBytes& in, const Fixture& f, bool save) {
  const size_t n_blocks = in.Take<size_t>();
  const size_t first_block = save ? in.Take<size_t>() : 0;
  Segments segs(in, f.seg_bytes);
  if (ReadsPastChain(n_blocks, first_block, f.per_block, segs.list.size())) return;
  const kvtier_block_hash* chain =
      (in.Take<uint8_t>() & 7) == 0 ? nullptr : f.chain.data();
  size_t done = 0;
  kvtier_error err;
  if (save) {
    (void)kvtier_save(f.store, chain, n_blocks, first_block, segs.data(),
                      segs.list.size(), &done, &err);
  } else {
    (void)kvtier_load(f.store, chain, n_blocks, segs.data(), segs.list.size(), &done,
                      &err);
  }
}

void FuzzLookupAndLease(FuzzBytes& in, const Fixture& f) {
  const size_t n_blocks = in.Take<uint16_t>() % (kChain + 1);
  const uint32_t lease_ms = in.Take<uint32_t>();
  size_t hits = 0;
  uint64_t lease = 0;
  kvtier_error err;
  (void)kvtier_lookup(f.store, f.chain.data(), n_blocks, &hits, &err);
  (void)kvtier_lookup_and_lease(f.store, f.chain.data(), n_blocks, lease_ms, &hits,
                                &lease, &err);
  if ((in.Take<uint8_t>() & 1) != 0) lease = in.Take<uint64_t>();
  int released = 0;
  (void)kvtier_release_lease(f.store, lease, &released, &err);
  size_t erased = 0;
  if ((in.Take<uint8_t>() & 15) == 0) {
    (void)kvtier_erase(f.store, f.chain.data(), in.Take<uint16_t>() % (kChain + 1),
                       &erased, &err);
  }
}

// Stats structs claim any struct_size; each is exactly sizeof, so a library
// that believed a larger claim would write past it.
void FuzzStats(FuzzBytes& in, const Fixture& f) {
  kvtier_error err;
  kvtier_tier_stats tier;
  tier.struct_size = in.Take<size_t>();
  kvtier_tier t;
  SetRaw(&t, in.Take<int32_t>());
  (void)kvtier_tier_stats_get(f.store, t, &tier, &err);
  kvtier_nvme_stats nvme;
  nvme.struct_size = in.Take<size_t>();
  (void)kvtier_nvme_stats_get(f.store, &nvme, &err);
  kvtier_call_stats calls;
  calls.struct_size = in.Take<size_t>();
  (void)kvtier_call_stats_get(f.store, &calls, &err);
  std::vector<char> text(in.Take<uint16_t>());
  size_t needed = 0;
  (void)kvtier_metrics_text(f.store, text.empty() ? nullptr : text.data(), text.size(),
                            &needed, &err);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzBytes in(data, size);
  const uint8_t what = in.Take<uint8_t>() % 6;
  if (what == 0) {
    FuzzOpen(in);
    return 0;
  }
  static const Fixture fixture;
  switch (what) {
    case 1:
      FuzzHashChain(in, fixture);
      break;
    case 2:
      FuzzTransfer(in, fixture, /*save=*/false);
      break;
    case 3:
      FuzzTransfer(in, fixture, /*save=*/true);
      break;
    case 4:
      FuzzLookupAndLease(in, fixture);
      break;
    default:
      FuzzStats(in, fixture);
      break;
  }
  return 0;
}
