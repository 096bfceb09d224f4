// TTL hints from the trace's own future, blurred by a lognormal error.
#include "bench/replay/ttl_hints.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace kvtier::replay {
namespace {

// Standard normal by Box-Muller from mt19937_64's bits: the same numbers on
// every platform for a seed (std::normal_distribution's are not specified).
class Normal {
 public:
  explicit Normal(uint64_t seed) : bits_(seed) {}
  double operator()() {
    const double u1 = Uniform(), u2 = Uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }

 private:
  double Uniform() { return (static_cast<double>(bits_() >> 11) + 0.5) * 0x1p-53; }
  std::mt19937_64 bits_;
};

}  // namespace

Status AddTtlHints(Trace& trace, double sigma, uint64_t seed) {
  if (!(sigma >= 0 && sigma <= kMaxTtlHintSigma)) {
    return InvalidArgument("ttl hint sigma: " + std::to_string(sigma) +
                           " is not in [0, " + std::to_string(kMaxTtlHintSigma) + "]");
  }
  const size_t n = trace.requests();
  if (trace.session_ids.size() != n || trace.timestamps.size() != n) {
    return InvalidArgument(
        "ttl hints need a session and a timestamp on every request (the sessions "
        "format has both)");
  }
  // The next request of each request's session, found back to front.
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  std::vector<size_t> next_of_session(trace.session_count, kNone);
  trace.ttl_hints.assign(n, 0);
  Normal normal(seed);
  for (size_t r = n; r-- > 0;) {
    const uint32_t session = trace.session_ids[r];
    const double z = normal();  // drawn for every request: hints stable per request
    if (session >= next_of_session.size()) continue;
    const size_t next = next_of_session[session];
    next_of_session[session] = r;
    if (next == kNone) continue;
    const double gap = trace.TimeOf(next) - trace.TimeOf(r);
    // A gap of 0 (requests at the same second) still says "soon".
    trace.ttl_hints[r] = static_cast<float>(std::max(gap, 1e-3) * std::exp(sigma * z));
  }
  return Status::Ok();
}

}  // namespace kvtier::replay
