// RequestContext's validity check (kvtier/request_context.h).
#include "kvtier/request_context.h"

#include <cmath>

namespace kvtier {

const char* InvalidRequestContextField(const RequestContext& context) {
  switch (context.session) {
    case SessionState::kUnknown:
    case SessionState::kOpen:
    case SessionState::kClosed:
      break;
    default:
      return "session";
  }
  if (!std::isfinite(context.ttl_s) || context.ttl_s < 0) return "ttl_s";
  return nullptr;
}

}  // namespace kvtier
