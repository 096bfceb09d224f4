// MakeEvictionOrder: the one place a policy name becomes an implementation.
#include "lib/index/eviction_order.h"

#include "lib/index/frequency_order.h"
#include "lib/index/lru_order.h"
#include "lib/index/session_order.h"
#include "lib/index/slru_order.h"

namespace kvtier::internal {

std::unique_ptr<EvictionOrder> MakeEvictionOrder(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kLru:
      return std::make_unique<LruOrder>();
    case EvictionPolicy::kSlru:
      return std::make_unique<SlruOrder>();
    case EvictionPolicy::kFrequency:
      return std::make_unique<FrequencyOrder>();
    case EvictionPolicy::kSession:
      return std::make_unique<SessionOrder>();
  }
  return nullptr;  // unreachable: Options validation rejects unknown policies
}

}  // namespace kvtier::internal

namespace kvtier {

const char* EvictionPolicyName(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kLru:
      return "lru";
    case EvictionPolicy::kSlru:
      return "slru";
    case EvictionPolicy::kFrequency:
      return "freq";
    case EvictionPolicy::kSession:
      return "session";
  }
  return "unknown";
}

std::optional<EvictionPolicy> ParseEvictionPolicy(std::string_view name) {
  if (name == "lru") return EvictionPolicy::kLru;
  if (name == "slru") return EvictionPolicy::kSlru;
  if (name == "freq") return EvictionPolicy::kFrequency;
  if (name == "session") return EvictionPolicy::kSession;
  return std::nullopt;
}

}  // namespace kvtier
