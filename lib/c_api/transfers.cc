// The C API's leases and asynchronous transfers (kvtier_c.h): the same
// checks as the synchronous calls, then Store::LookupAndLease, BeginLoad
// and BeginSave behind an opaque handle.
#include <memory>
#include <string>
#include <vector>

#include "kvtier/transfer.h"
#include "lib/c_api/c_api_support.h"

namespace {

using kvtier::Status;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::ChainOf;
using kvtier::internal::CheckSaveRange;
using kvtier::internal::CheckSegmentCount;
using kvtier::internal::CNull;
using kvtier::internal::SegmentsOf;

// Starts the transfer `begin` makes of the handle's own segment list.
template <typename Begin>
kvtier_code Start(const kvtier_segment* segs, size_t n, bool is_load, Begin begin,
                  kvtier_transfer** out, kvtier_error* err) {
  auto t = std::make_unique<kvtier_transfer>();
  t->segments = SegmentsOf(segs, n);
  t->is_load = is_load;
  kvtier::Result<kvtier::TransferHandle> handle = begin(t->segments);
  if (!handle.ok()) return CFail(handle.status(), err);
  t->handle = std::move(handle).value();
  *out = t.release();
  return KVTIER_OK;
}

}  // namespace

extern "C" {

kvtier_code kvtier_lookup_and_lease(kvtier_store* store, const kvtier_block_hash* chain,
                                    size_t n_blocks, uint32_t lease_ms,
                                    size_t* hit_blocks, uint64_t* lease,
                                    kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (hit_blocks == nullptr) return CNull("hit_blocks", err);
  if (lease == nullptr) return CNull("lease", err);
  *hit_blocks = 0;
  *lease = 0;
  return CGuarded(err, [&] {
    auto r = store->store->LookupAndLease(ChainOf(chain, n_blocks), lease_ms);
    if (!r.ok()) return CFail(r.status(), err);
    *hit_blocks = r->blocks;
    *lease = r->lease;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_release_lease(kvtier_store* store, uint64_t lease, int* released,
                                 kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  return CGuarded(err, [&] {
    const bool ended = store->store->ReleaseLease(lease);
    if (released != nullptr) *released = ended ? 1 : 0;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_load_leased(kvtier_store* store, const kvtier_block_hash* chain,
                               size_t n_blocks, const kvtier_segment* dst,
                               size_t n_segments, uint64_t lease, size_t* loaded,
                               kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (dst == nullptr && n_segments > 0) return CNull("dst", err);
  if (loaded == nullptr) return CNull("loaded", err);
  *loaded = 0;
  if (Status s = CheckSegmentCount(store, "load", n_blocks); !s.ok())
    return CFail(s, err);
  return CGuarded(err, [&] {
    auto r = store->store->Load(ChainOf(chain, n_blocks), SegmentsOf(dst, n_segments),
                                kvtier::LoadOptions{.lease = lease, .context = {}});
    if (!r.ok()) return CFail(r.status(), err);
    *loaded = r->blocks;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_load_start(kvtier_store* store, const kvtier_block_hash* chain,
                              size_t n_blocks, const kvtier_segment* dst,
                              size_t n_segments, uint64_t lease, kvtier_transfer** out,
                              kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (dst == nullptr && n_segments > 0) return CNull("dst", err);
  if (out == nullptr) return CNull("out", err);
  *out = nullptr;
  if (Status s = CheckSegmentCount(store, "load", n_blocks); !s.ok())
    return CFail(s, err);
  return CGuarded(err, [&] {
    return Start(
        dst, n_segments, /*is_load=*/true,
        [&](std::span<const kvtier::Segment> segs) {
          return store->store->BeginLoad(
              ChainOf(chain, n_blocks), segs,
              kvtier::LoadOptions{.lease = lease, .context = {}});
        },
        out, err);
  });
}

kvtier_code kvtier_save_start(kvtier_store* store, const kvtier_block_hash* chain,
                              size_t n_blocks, size_t first_block,
                              const kvtier_segment* src, size_t n_segments,
                              kvtier_transfer** out, kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (src == nullptr && n_segments > 0) return CNull("src", err);
  if (out == nullptr) return CNull("out", err);
  *out = nullptr;
  if (Status s = CheckSaveRange(store, n_blocks, first_block); !s.ok()) {
    return CFail(s, err);
  }
  return CGuarded(err, [&] {
    return Start(
        src, n_segments, /*is_load=*/false,
        [&](std::span<const kvtier::Segment> segs) {
          return store->store->BeginSave(ChainOf(chain, n_blocks), segs, first_block);
        },
        out, err);
  });
}

int kvtier_transfer_done(const kvtier_transfer* t) {
  return t == nullptr || t->handle.Done() ? 1 : 0;
}

size_t kvtier_transfer_wait(const kvtier_transfer* t) {
  if (t == nullptr) return 0;
  return t->is_load ? t->handle.WaitLoad().blocks : t->handle.WaitSave().stored;
}

int kvtier_transfer_layer_done(const kvtier_transfer* t, uint32_t layer) {
  return t == nullptr || t->handle.LayerDone(layer) ? 1 : 0;
}

size_t kvtier_transfer_wait_layer(const kvtier_transfer* t, uint32_t layer) {
  return t == nullptr ? 0 : t->handle.WaitLayer(layer);
}

void kvtier_transfer_cancel(kvtier_transfer* t) {
  if (t != nullptr) t->handle.Cancel();
}

size_t kvtier_transfer_block_count(const kvtier_transfer* t) {
  return t == nullptr ? 0 : t->handle.block_count();
}

kvtier_block_outcome kvtier_transfer_outcome(const kvtier_transfer* t, size_t block) {
  if (t == nullptr || block >= t->handle.block_count()) return KVTIER_BLOCK_PENDING;
  return static_cast<kvtier_block_outcome>(t->handle.Outcome(block));
}

void kvtier_transfer_release(kvtier_transfer* t) {
  if (t == nullptr) return;
  t->handle.Wait();  // the store reads t->segments until then
  delete t;
}

}  // extern "C"
