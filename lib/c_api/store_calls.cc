// The C API's store calls (kvtier_c.h): a thin shell over Store that checks
// every pointer and count (overflow-safe) before C++ sees them, converts
// types and Status, and never lets an exception cross into C.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "lib/c_api/c_api_support.h"

namespace {

using kvtier::Status;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::ChainOf;
using kvtier::internal::CheckedMultiply;
using kvtier::internal::CheckOptionsArgument;
using kvtier::internal::CheckSaveRange;
using kvtier::internal::CNull;
using kvtier::internal::SegmentsOf;

}  // namespace

extern "C" {

kvtier_code kvtier_open(const kvtier_options* options, kvtier_store** out,
                        kvtier_error* err) {
  if (kvtier_code c = CheckOptionsArgument(options, err); c != KVTIER_OK) return c;
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    auto handle = std::make_unique<kvtier_store>();
    handle->log = std::make_unique<kvtier_c_log_target>();
    auto store =
        kvtier::Store::Open(kvtier::internal::OptionsFromC(*options, handle->log.get()));
    if (!store.ok()) return CFail(store.status(), err);
    handle->store = std::move(store).value();
    *out = handle.release();
    return KVTIER_OK;
  });
}

void kvtier_close(kvtier_store* store) {
  try {
    delete store;
  } catch (...) {  // a destructor that throws would terminate anyway; keep C safe
  }
}

size_t kvtier_segment_bytes(const kvtier_store* store) {
  return store != nullptr ? store->store->layout().SegmentBytes() : 0;
}

size_t kvtier_segments_per_block(const kvtier_store* store) {
  return store != nullptr ? store->store->layout().SegmentsPerBlock() : 0;
}

kvtier_code kvtier_hash_chain(const kvtier_store* store, const uint32_t* tokens,
                              size_t n_tokens, kvtier_block_hash* out, size_t n_blocks,
                              kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (tokens == nullptr && n_tokens > 0) return CNull("tokens", err);
  if (out == nullptr && n_blocks > 0) return CNull("out", err);
  const size_t block_tokens = store->store->hasher().block_tokens();
  if (block_tokens == 0 || n_blocks > n_tokens / block_tokens) {
    return CFail(kvtier::InvalidArgument(
                     "hash_chain.n_blocks: " + std::to_string(n_blocks) + " blocks of " +
                     std::to_string(block_tokens) + " tokens need more than the " +
                     std::to_string(n_tokens) + " tokens given"),
                 err);
  }
  return CGuarded(err, [&] {
    std::span<kvtier::BlockHash> hashes(reinterpret_cast<kvtier::BlockHash*>(out),
                                        n_blocks);
    Status s = store->store->hasher().ChainInto({tokens, n_tokens}, hashes);
    return s.ok() ? KVTIER_OK : CFail(s, err);
  });
}

kvtier_code kvtier_lookup(kvtier_store* store, const kvtier_block_hash* chain,
                          size_t n_blocks, size_t* hit_blocks, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (hit_blocks == nullptr) return CNull("hit_blocks", err);
  return CGuarded(err, [&] {
    *hit_blocks = store->store->Lookup(ChainOf(chain, n_blocks)).blocks;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_load(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, const kvtier_segment* dst, size_t n_segments,
                        size_t* loaded, kvtier_error* err) {
  return kvtier_load_leased(store, chain, n_blocks, dst, n_segments, /*lease=*/0, loaded,
                            err);
}

kvtier_code kvtier_save(kvtier_store* store, const kvtier_block_hash* chain,
                        size_t n_blocks, size_t first_block, const kvtier_segment* src,
                        size_t n_segments, size_t* stored, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (src == nullptr && n_segments > 0) return CNull("src", err);
  if (Status s = CheckSaveRange(store, n_blocks, first_block); !s.ok()) {
    return CFail(s, err);
  }
  return CGuarded(err, [&] {
    const std::vector<kvtier::Segment> segs = SegmentsOf(src, n_segments);
    auto r = store->store->Save(ChainOf(chain, n_blocks), segs, first_block);
    if (!r.ok()) return CFail(r.status(), err);
    if (stored != nullptr) *stored = r->stored;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_prefetch_start(kvtier_store* store, const kvtier_block_hash* chain,
                                  size_t n_blocks, kvtier_prefetch** out,
                                  kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    auto handle = std::make_unique<kvtier_prefetch>();
    handle->handle = store->store->Prefetch(ChainOf(chain, n_blocks));
    *out = handle.release();
    return KVTIER_OK;
  });
}

int kvtier_prefetch_done(const kvtier_prefetch* prefetch) {
  return prefetch == nullptr || prefetch->handle.Done() ? 1 : 0;
}

size_t kvtier_prefetch_wait(const kvtier_prefetch* prefetch) {
  if (prefetch == nullptr) return 0;
  try {
    return prefetch->handle.Wait();
  } catch (...) {
    return 0;
  }
}

void kvtier_prefetch_release(kvtier_prefetch* prefetch) { delete prefetch; }

kvtier_code kvtier_flush(kvtier_store* store, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  return CGuarded(err, [&] {
    store->store->Flush();
    return KVTIER_OK;
  });
}

kvtier_code kvtier_erase(kvtier_store* store, const kvtier_block_hash* chain,
                         size_t n_blocks, size_t* erased, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (erased != nullptr) *erased = 0;
  return CGuarded(err, [&] {
    auto r = store->store->Erase(ChainOf(chain, n_blocks));
    if (!r.ok()) return CFail(r.status(), err);
    if (erased != nullptr) *erased = r->blocks;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_shadow_sampled(kvtier_store* store, const kvtier_block_hash* chain,
                                  size_t n_blocks, size_t* indices, size_t capacity,
                                  size_t* count, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (indices == nullptr && capacity > 0) return CNull("indices", err);
  if (count == nullptr) return CNull("count", err);
  *count = 0;
  return CGuarded(err, [&] {
    const std::vector<size_t> sampled =
        store->store->ShadowSampled(ChainOf(chain, n_blocks));
    for (size_t i = 0; i < sampled.size() && i < capacity; ++i) indices[i] = sampled[i];
    *count = sampled.size();
    return KVTIER_OK;
  });
}

kvtier_code kvtier_shadow_verify(kvtier_store* store, const kvtier_block_hash* block,
                                 const kvtier_segment* recomputed, size_t n_segments,
                                 int* diverged, kvtier_tier* tier, double* relative_rms,
                                 kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (block == nullptr) return CNull("block", err);
  if (recomputed == nullptr && n_segments > 0) return CNull("recomputed", err);
  if (diverged == nullptr) return CNull("diverged", err);
  if (tier == nullptr) return CNull("tier", err);
  return CGuarded(err, [&] {
    auto r = store->store->ShadowVerify(ChainOf(block, 1)[0],
                                        SegmentsOf(recomputed, n_segments));
    if (!r.ok()) return CFail(r.status(), err);
    *diverged = r->diverged ? 1 : 0;
    *tier = static_cast<kvtier_tier>(r->tier);
    if (relative_rms != nullptr) *relative_rms = r->relative_rms;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_clear(kvtier_store* store, size_t* erased, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (erased != nullptr) *erased = 0;
  return CGuarded(err, [&] {
    auto r = store->store->Clear();
    if (!r.ok()) return CFail(r.status(), err);
    if (erased != nullptr) *erased = r->blocks;
    return KVTIER_OK;
  });
}

}  // extern "C"
