// The C API (kvtier_c.h): a thin shell over Store that converts types and
// Status, and never lets an exception or a null pointer cross into C.
#include "kvtier/kvtier_c.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "kvtier/store.h"

struct kvtier_store {
  std::unique_ptr<kvtier::Store> store;
};

namespace {

using kvtier::Status;

kvtier_code Fail(const Status& s, kvtier_error* err) {
  if (err != nullptr) {
    std::snprintf(err->message, sizeof(err->message), "%s", s.ToString().c_str());
  }
  return static_cast<kvtier_code>(s.code());
}

// Runs `body`, turning an escaping exception (std::bad_alloc) into an error.
template <typename Body>
kvtier_code Guarded(kvtier_error* err, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(kvtier::Internal(std::string("unexpected exception: ") + e.what()), err);
  } catch (...) {
    return Fail(kvtier::Internal("unexpected exception"), err);
  }
}

kvtier_code Null(const char* field, kvtier_error* err) {
  return Fail(kvtier::InvalidArgument(std::string(field) + ": null"), err);
}

std::span<const kvtier::BlockHash> ChainOf(const kvtier_block_hash* chain, size_t n) {
  static_assert(sizeof(kvtier_block_hash) == sizeof(kvtier::BlockHash));
  return {reinterpret_cast<const kvtier::BlockHash*>(chain), n};
}

std::vector<kvtier::Segment> SegmentsOf(const kvtier_segment* segs, size_t n) {
  std::vector<kvtier::Segment> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = kvtier::Segment{
        segs[i].data, segs[i].bytes,
        segs[i].device ? kvtier::MemoryKind::kDevice : kvtier::MemoryKind::kHost};
  }
  return out;
}

kvtier::Options ToOptions(const kvtier_options& c) {
  kvtier::Options o;
  o.layout.num_layers = c.num_layers;
  o.layout.kv_heads = c.kv_heads;
  o.layout.head_dim = c.head_dim;
  o.layout.dtype = static_cast<kvtier::DType>(c.dtype);
  o.layout.block_tokens = c.block_tokens;
  o.layout.parts_per_layer = c.parts_per_layer;
  if (c.layer_windows != nullptr) {
    o.layout.layer_windows.assign(c.layer_windows, c.layer_windows + c.num_layers);
  }
  o.model_id = c.model_id != nullptr ? c.model_id : "";
  o.tenant_salt = c.tenant_salt != nullptr ? c.tenant_salt : "";
  o.rank = c.rank;
  o.gpu.capacity_bytes = c.gpu_capacity_bytes;
  o.host.capacity_bytes = c.host_capacity_bytes;
  o.host.lock_memory = c.host_lock_memory != 0;
  o.host.codec = static_cast<kvtier::Codec>(c.host_codec);
  o.nvme.capacity_bytes = c.nvme_capacity_bytes;
  o.swa_checkpoint_blocks = c.swa_checkpoint_blocks;
  return o;
}

}  // namespace

extern "C" {

void kvtier_options_init(kvtier_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof(*options));
  const kvtier::Options defaults;
  options->struct_size = sizeof(*options);
  options->dtype = static_cast<kvtier_dtype>(defaults.layout.dtype);
  options->block_tokens = defaults.layout.block_tokens;
  options->parts_per_layer = defaults.layout.parts_per_layer;
  options->host_lock_memory = defaults.host.lock_memory ? 1 : 0;
  options->host_codec = KVTIER_CODEC_RAW;
}

kvtier_code kvtier_open(const kvtier_options* options, kvtier_store** out,
                        kvtier_error* err) {
  if (options == nullptr) return Null("options", err);
  if (out == nullptr) return Null("out", err);
  if (options->struct_size != sizeof(kvtier_options)) {
    return Fail(kvtier::InvalidArgument(
                    "options.struct_size: " + std::to_string(options->struct_size) +
                    ", expected " + std::to_string(sizeof(kvtier_options)) +
                    " (call kvtier_options_init first)"),
                err);
  }
  return Guarded(err, [&] {
    auto store = kvtier::Store::Open(ToOptions(*options));
    if (!store.ok()) return Fail(store.status(), err);
    *out = new kvtier_store{std::move(store).value()};
    return KVTIER_OK;
  });
}

void kvtier_close(kvtier_store* store) { delete store; }

size_t kvtier_segment_bytes(const kvtier_store* store) {
  return store != nullptr ? store->store->layout().SegmentBytes() : 0;
}

size_t kvtier_segments_per_block(const kvtier_store* store) {
  return store != nullptr ? store->store->layout().SegmentsPerBlock() : 0;
}

kvtier_code kvtier_hash_chain(const kvtier_store* store, const uint32_t* tokens,
                              size_t n_tokens, kvtier_block_hash* out, size_t n_blocks,
                              kvtier_error* err) {
  if (store == nullptr) return Null("store", err);
  if (tokens == nullptr && n_tokens > 0) return Null("tokens", err);
  if (out == nullptr && n_blocks > 0) return Null("out", err);
  std::span<kvtier::BlockHash> hashes(reinterpret_cast<kvtier::BlockHash*>(out),
                                      n_blocks);
  Status s = store->store->hasher().ChainInto({tokens, n_tokens}, hashes);
  return s.ok() ? KVTIER_OK : Fail(s, err);
}

kvtier_code kvtier_lookup(kvtier_store* store, const kvtier_block_hash* chain,
                          size_t n_blocks, size_t* hit_blocks, kvtier_error* err) {
  if (store == nullptr) return Null("store", err);
  if (chain == nullptr && n_blocks > 0) return Null("chain", err);
  if (hit_blocks == nullptr) return Null("hit_blocks", err);
  *hit_blocks = store->store->Lookup(ChainOf(chain, n_blocks)).blocks;
  return KVTIER_OK;
}

kvtier_code kvtier_load(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, const kvtier_segment* dst, size_t n_segments,
                        size_t* loaded, kvtier_error* err) {
  if (store == nullptr) return Null("store", err);
  if (chain == nullptr && n_blocks > 0) return Null("chain", err);
  if (dst == nullptr && n_segments > 0) return Null("dst", err);
  if (loaded == nullptr) return Null("loaded", err);
  *loaded = 0;
  return Guarded(err, [&] {
    const std::vector<kvtier::Segment> segs = SegmentsOf(dst, n_segments);
    auto r = store->store->Load(ChainOf(chain, n_blocks), segs);
    if (!r.ok()) return Fail(r.status(), err);
    *loaded = r->blocks;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_save(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, size_t first_block, const kvtier_segment* src,
                        size_t n_segments, size_t* stored, kvtier_error* err) {
  if (store == nullptr) return Null("store", err);
  if (chain == nullptr && n_blocks > 0) return Null("chain", err);
  if (src == nullptr && n_segments > 0) return Null("src", err);
  return Guarded(err, [&] {
    const std::vector<kvtier::Segment> segs = SegmentsOf(src, n_segments);
    auto r = store->store->Save(ChainOf(chain, n_blocks), segs, first_block);
    if (!r.ok()) return Fail(r.status(), err);
    if (stored != nullptr) *stored = r->stored;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_stats_get(const kvtier_store* store, kvtier_stats* out) {
  if (store == nullptr || out == nullptr) return KVTIER_INVALID_ARGUMENT;
  const kvtier::StoreStats s = store->store->Stats();
  const kvtier::TierStats& h = s.tier(kvtier::Tier::kHost);
  *out = kvtier_stats{};
  out->host_capacity_bytes = h.capacity_bytes;
  out->host_used_bytes = h.used_bytes;
  out->host_blocks = h.blocks;
  out->host_hits = h.hits;
  out->host_evictions = h.evictions;
  out->host_checksum_errors = h.checksum_errors;
  out->lookups = s.lookups;
  out->lookup_hit_blocks = s.lookup_hit_blocks;
  out->load_hit_blocks = s.load_hit_blocks;
  out->save_new_blocks = s.save_new_blocks;
  out->save_refreshed_blocks = s.save_refreshed_blocks;
  out->invalid_calls = s.invalid_calls;
  out->host_memory_locked = s.host_memory_locked ? 1 : 0;
  out->save_trimmed_blocks = s.save_trimmed_blocks;
  out->trim_bytes_saved = s.trim_bytes_saved;
  return KVTIER_OK;
}

}  // extern "C"
