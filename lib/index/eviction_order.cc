// MakeEvictionOrder: the one place a policy name becomes an implementation.
#include "lib/index/eviction_order.h"

#include "lib/index/lru_order.h"

namespace kvtier::internal {

std::unique_ptr<EvictionOrder> MakeEvictionOrder(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kLru:
      return std::make_unique<LruOrder>();
  }
  return nullptr;  // unreachable: Options validation rejects unknown policies
}

}  // namespace kvtier::internal
