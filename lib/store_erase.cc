// StoreImpl: Erase and Clear. Placement removes what is not in use and
// hands back the slots; their persistent records are forgotten here, after
// its lock, before the call returns. Blocks in use are tried again shortly.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "lib/store_impl.h"

namespace kvtier::internal {
namespace {

// How long Erase waits for transfers that use its blocks, and how often it
// looks again: transfers take milliseconds; a longer wait is a stuck one.
constexpr auto kEraseWait = std::chrono::seconds(10);
constexpr auto kEraseRetry = std::chrono::milliseconds(1);

}  // namespace

Result<EraseResult> StoreImpl::EraseUntilFree(const ErasePass& pass) {
  const auto deadline = std::chrono::steady_clock::now() + kEraseWait;
  EraseResult result;
  for (;;) {
    std::vector<SlotRelease> releases;
    const EraseCount count = pass(&releases);
    mover_.Forget(releases);
    result.blocks += count.erased;
    if (count.busy == 0) return result;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Unavailable("erase: " + std::to_string(count.busy) +
                         " blocks still in use by a transfer or a write-down after " +
                         std::to_string(kEraseWait.count()) + " s; " +
                         std::to_string(result.blocks) + " erased");
    }
    std::this_thread::sleep_for(kEraseRetry);
  }
}

Result<EraseResult> StoreImpl::Erase(std::span<const BlockHash> chain) {
  const std::vector<BlockHash> roots(chain.begin(), chain.end());
  return EraseUntilFree([this, &roots](std::vector<SlotRelease>* releases) {
    return placement_.Erase(roots, releases);
  });
}

Result<EraseResult> StoreImpl::Clear() {
  return EraseUntilFree([this](std::vector<SlotRelease>* releases) {
    return placement_.EraseAll(releases);
  });
}

}  // namespace kvtier::internal
