// Helpers for the NVMe tier's tests: options over a real directory (ext4
// here, so O_DIRECT and io_uring run for real) and a store opened with the
// fault-injecting queue installed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/testing/faulty_io_queue.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier::testing {

// A store whose host tier holds `host_blocks` blocks and NVMe
// `nvme_blocks` 4 KiB slots (one SmallLayout block each).
inline Options NvmeOptions(const std::string& dir, size_t host_blocks, size_t nvme_blocks,
                           KvLayout layout = SmallLayout()) {
  Options o;
  o.layout = layout;
  o.model_id = "nvme-model@1";
  o.host.capacity_bytes =
      host_blocks * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
  o.host.lock_memory = false;
  o.nvme.capacity_bytes = nvme_blocks * 4096;
  o.nvme.directories = {dir};
  return o;
}

struct NvmeStore {
  explicit NvmeStore(const Options& o, internal::NvmeHooks hooks = {})
      : faults(std::make_shared<IoFaults>()) {
    if (!hooks.wrap_queue) hooks.wrap_queue = FaultyIoQueue::Wrapper(faults);
    auto opened = internal::OpenStore(o, hooks);
    status = opened.status();
    if (opened.ok()) store = std::move(opened).value();
  }
  std::shared_ptr<IoFaults> faults;
  Status status;
  std::unique_ptr<Store> store;
};

// Chain `n` blocks long whose tokens derive from `seed`.
inline std::vector<BlockHash> ChainOf(const Store& store, uint32_t seed, size_t n) {
  std::vector<uint32_t> tokens(n * store.layout().block_tokens);
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = seed * 7919 + static_cast<uint32_t>(i);
  return store.hasher().Chain(tokens);
}

// Saves the chain with FillFromHash content.
inline SaveResult SaveChain(Store& store, std::span<const BlockHash> chain) {
  EngineBuffers src(store.layout(), chain.size());
  src.FillFrom(chain);
  auto r = store.Save(chain, src.all());
  return r.ok() ? *r : SaveResult{};
}

// Loads the chain and checks every delivered byte; returns blocks loaded,
// or SIZE_MAX if any delivered block held wrong bytes.
inline size_t LoadChecked(Store& store, std::span<const BlockHash> chain) {
  EngineBuffers dst(store.layout(), chain.size());
  auto r = store.Load(chain, dst.all());
  if (!r.ok()) return 0;
  for (size_t b = 0; b < r->blocks; ++b) {
    if (!dst.Matches(b, chain[b])) return SIZE_MAX;
  }
  return r->blocks;
}

}  // namespace kvtier::testing
