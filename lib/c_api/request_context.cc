// The C API's request context (kvtier_c.h): kvtier_request_context checked
// and turned into a kvtier::RequestContext for Load and Save.
#include <string>

#include "lib/c_api/c_api_support.h"

namespace {

using kvtier::RequestContext;
using kvtier::Result;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::ChainOf;
using kvtier::internal::CheckSaveRange;
using kvtier::internal::CheckSegmentCount;
using kvtier::internal::CheckStructSize;
using kvtier::internal::CNull;
using kvtier::internal::SegmentsOf;

// The C struct as a RequestContext; NULL is "no context". The session
// state is checked here (a cast could wrap an int into a valid enum); the
// Store checks the rest, naming load.context.* or save.context.*.
Result<RequestContext> ContextOf(const kvtier_request_context* c) {
  RequestContext context;
  if (c == nullptr) return context;
  if (kvtier::Status s =
          CheckStructSize("context", c->struct_size, sizeof(kvtier_request_context),
                          sizeof(kvtier_request_context));
      !s.ok()) {
    return s;
  }
  if (c->session_state < KVTIER_SESSION_UNKNOWN ||
      c->session_state > KVTIER_SESSION_CLOSED) {
    return kvtier::InvalidArgument(
        "context.session_state: " + std::to_string(c->session_state) +
        " is not a kvtier_session_state");
  }
  context.session_id = c->session_id;
  context.session = static_cast<kvtier::SessionState>(c->session_state);
  context.priority = c->priority;
  context.ttl_s = c->ttl_s;
  return context;
}

}  // namespace

extern "C" {

void kvtier_request_context_init(kvtier_request_context* context) {
  if (context == nullptr) return;
  *context = kvtier_request_context{};
  context->struct_size = sizeof(kvtier_request_context);
  context->session_state = KVTIER_SESSION_UNKNOWN;
}

kvtier_code kvtier_load_in_context(kvtier_store* store, const kvtier_block_hash* chain,
                                   size_t n_blocks, const kvtier_segment* dst,
                                   size_t n_segments, uint64_t lease,
                                   const kvtier_request_context* context, size_t* loaded,
                                   kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (dst == nullptr && n_segments > 0) return CNull("dst", err);
  if (loaded == nullptr) return CNull("loaded", err);
  *loaded = 0;
  if (kvtier::Status s = CheckSegmentCount(store, "load", n_blocks); !s.ok())
    return CFail(s, err);
  Result<RequestContext> c = ContextOf(context);
  if (!c.ok()) return CFail(c.status(), err);
  return CGuarded(err, [&] {
    auto r = store->store->Load(ChainOf(chain, n_blocks), SegmentsOf(dst, n_segments),
                                kvtier::LoadOptions{lease, *c});
    if (!r.ok()) return CFail(r.status(), err);
    *loaded = r->blocks;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_save_in_context(kvtier_store* store, const kvtier_block_hash* chain,
                                   size_t n_blocks, size_t first_block,
                                   const kvtier_segment* src, size_t n_segments,
                                   const kvtier_request_context* context, size_t* stored,
                                   kvtier_error* err) {
  if (store == nullptr) return CNull("store", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (src == nullptr && n_segments > 0) return CNull("src", err);
  if (kvtier::Status s = CheckSaveRange(store, n_blocks, first_block); !s.ok()) {
    return CFail(s, err);
  }
  Result<RequestContext> c = ContextOf(context);
  if (!c.ok()) return CFail(c.status(), err);
  return CGuarded(err, [&] {
    const std::vector<kvtier::Segment> segs = SegmentsOf(src, n_segments);
    auto r = store->store->Save(ChainOf(chain, n_blocks), segs, first_block,
                                kvtier::SaveOptions{*c});
    if (!r.ok()) return CFail(r.status(), err);
    if (stored != nullptr) *stored = r->stored;
    return KVTIER_OK;
  });
}

}  // extern "C"
