// TTL hints for replay: what an engine that predicts when each session
// sends its next request would pass as RequestContext::ttl_s, so that an
// operator can see what such a predictor is worth before building one.
// The truth is in the trace (the time from a request to its session's
// next one); the hint is that time multiplied by e^(sigma * Z), Z drawn
// from a standard normal per request: sigma 0 is an exact predictor, 0.5
// one typically off by a factor of 1.6, 1 by a factor of e. A session's
// last request gets none (it is closed: SessionState::kClosed says more).
#pragma once

#include <cstdint>

#include "bench/replay/trace.h"
#include "kvtier/status.h"

namespace kvtier::replay {

// Fills trace.ttl_hints. InvalidArgument when the trace has no sessions or
// no timestamps (the sessions format has both), or sigma is not in
// [0, kMaxTtlHintSigma].
inline constexpr double kMaxTtlHintSigma = 10;
Status AddTtlHints(Trace& trace, double sigma, uint64_t seed = 1);

}  // namespace kvtier::replay
