// RequestContext: what the engine knows about a request beyond its tokens,
// passed along with it so that eviction can use it. Every field is optional
// (the defaults say "unknown"); a store given no context behaves exactly as
// without one. Plain data, std-only; copying it is free.
#pragma once

#include <cstdint>

#include "kvtier/export.h"

namespace kvtier {

enum class SessionState : uint8_t {
  kUnknown = 0,
  // More requests of this session may follow: its blocks may be re-sent.
  kOpen = 1,
  // This is the session's last request (the conversation or agent ended):
  // blocks only this session used will not be asked for again, so they are
  // the first to go (EvictionPolicy::kSession: those of its first request
  // after the rest, options.h). Blocks other sessions used too (system
  // prompts, shared documents) are kept as before.
  kClosed = 2,
};

struct RequestContext {
  // The conversation, agent or sub-agent the request belongs to, as the
  // engine numbers them; 0 = unknown.
  uint64_t session_id = 0;
  SessionState session = SessionState::kUnknown;
  // Higher is kept longer: a request with priority > 0 counts its blocks as
  // reused (a frequency-aware order protects them). 0 = normal.
  uint8_t priority = 0;
  // Seconds until the engine expects this session's next request (which
  // re-sends this prefix), from now: an agent framework's estimate of its
  // tool call, say; 0 = unknown. With EvictionPolicy::kSession, the blocks
  // only this open session used, past its first request, are kept until
  // then unless the cache needs room sooner than they return; a guess off
  // by a factor of e still closes most of LRU's gap to the optimum on the
  // evaluation traces (bench/RESULTS.md). Must be finite and >= 0.
  double ttl_s = 0;
};

// nullptr when `context` is valid, else the name of the field that is not
// ("session": not a SessionState; "ttl_s": negative, NaN or infinite). The
// Store checks it on Load and Save.
KVTIER_EXPORT const char* InvalidRequestContextField(const RequestContext& context);

}  // namespace kvtier
