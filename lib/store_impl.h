// StoreImpl: the Store over a BlockIndex and one TierBackend per enabled tier
// (host above NVMe).
//
// Data flow of one call, and the DESIGN invariant each step keeps:
//   Lookup: shared lock -> BlockIndex::LongestPrefix              (2: a prefix)
//           (with sliding-window layers: the last window_blocks blocks of
//           the prefix must be held whole somewhere; lib/sliding_window.h)
//   Load:   lock -> plan the longest servable prefix P; pin each block at
//           the fastest tier holding it in the form P needs -> unlock
//           -> host blocks: TierBackend::Read; NVMe-only blocks: one
//              ReadBatch (one device submission); each verifies hash +
//              checksum while copying into dst                    (1: exact bytes)
//              (a whole copy read for a block outside P's window writes
//              only its full-attention segments; the rest is verified)
//           -> lock -> unpin, drop failed blocks, TouchChain       (5: tail first)
//           -> promote the NVMe hits to host from dst (store_load.cc)
//           A block that fails moves P: the load is planned again for the
//           blocks before it (a window needs other segments).
//   Save:   per block the form it keeps (SlidingWindow::SaveForm, and
//           trimmed when the engine passed null sliding segments) ->
//           lock -> per new block Admit (evicts until its size class fits,
//           never past capacity; a trimmed copy that must now be whole is
//           replaced: growth) -> unlock                            (4: bound)
//           -> write-back: host victims go down to NVMe first
//           -> TierBackend::Write (header + checksum) outside the lock
//           -> lock -> MarkReady, or Remove on failure -> TouchChain (3: degrade)
//           -> write-through: queue a copy-down per new block
//   Copy-down (background writer, store_copy_down.cc): pin the host copy,
//           admit to NVMe, read host, NVMe WriteBatch (slot, then manifest:
//           6), MarkReady.
// Pinned and pending blocks are never evicted, so no slot is rewritten while
// another thread copies it. All index state is guarded by mu_ (7).
//
// Thread safety: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "backends/nvme/open_nvme.h"
#include "kvtier/store.h"
#include "lib/index/admission.h"
#include "lib/index/block_index.h"
#include "lib/index/page_space.h"
#include "lib/mutex.h"
#include "lib/prefetch_state.h"
#include "lib/sliding_window.h"
#include "lib/tier_backend.h"
#include "lib/write_behind.h"

namespace kvtier::internal {

using TierBackends = std::array<std::unique_ptr<TierBackend>, kNumTiers>;

// Checks everything Open can check before allocating anything.
Status ValidateOptions(const Options& options);

// Opens a store over the given backends (nullptr = tier disabled). Store::Open
// builds the real ones; tests pass fakes and fault-injecting tiers here.
Result<std::unique_ptr<Store>> OpenStoreWithTiers(const Options& options,
                                                  TierBackends backends,
                                                  bool host_memory_locked = true);

// Store::Open with test seams for the NVMe tier's queues.
Result<std::unique_ptr<Store>> OpenStore(const Options& options, const NvmeHooks& hooks);

class StoreImpl final : public Store {
 public:
  StoreImpl(const Options& options, TierBackends backends, bool host_memory_locked);
  ~StoreImpl() override;

  LookupResult Lookup(std::span<const BlockHash> chain) override;
  Result<LoadResult> Load(std::span<const BlockHash> chain,
                          std::span<const Segment> dst) override;
  Result<SaveResult> Save(std::span<const BlockHash> chain, std::span<const Segment> src,
                          size_t first_block) override;
  PrefetchHandle Prefetch(std::span<const BlockHash> chain) override;
  void Flush() override;
  StoreStats Stats() const override;

 private:
  // A block a call works on outside the lock.
  struct SlotWork {
    size_t block;  // index in the chain
    Tier tier;
    uint32_t slot;
    BlockForm form = BlockForm::kWhole;  // of the copy in that slot
    BlockForm need = BlockForm::kWhole;  // loads: what the prefix needs of it
  };
  struct TierCounters {
    uint64_t hits = 0, inserts = 0, evictions = 0, orphans = 0, rejected = 0;
    uint64_t placement_evictions = 0;
  };
  // A host victim that write-back moves to NVMe before its slot is reused.
  struct Demotion {
    CopyDownJob block;
    uint32_t host_slot;
    uint32_t nvme_slot;
  };
  // NVMe hits being copied up to host during a Load.
  struct Promotion {
    std::vector<SlotWork> work;  // host slots reserved (pending)
    std::vector<BlockIo> io;     // the host writes, one per work item
    std::vector<int> of_block;   // chain index -> work index, or -1
    SaveResult result;
  };
  // Where block i's bytes are (all its segments), for writing it into a tier.
  using SourceOf = std::function<std::span<const Segment>(size_t block)>;

  // `blocks` blocks of a staging buffer cut into the layout's segments,
  // block-major. The 8-bit stored format is laid out per segment, so a
  // block moved between tiers through a buffer must keep the engine's
  // segmentation, or it would be decoded under another one.
  std::vector<Segment> StagingSegments(std::byte* buffer, size_t blocks) const;
  // `sliding_may_be_null`: Save's sources, where a null sliding-window
  // segment means the engine no longer holds that layer.
  Status CheckSegments(std::span<const Segment> segments, size_t blocks, const char* what,
                       bool sliding_may_be_null = false) const;
  Status Reject(Status status);  // counts invalid calls
  void IndexRecovered() ABSL_LOCKS_EXCLUDED(mu_);

  // Load (store_load.cc).
  size_t LoadOnce(std::span<const BlockHash> chain, std::span<const Segment> dst,
                  bool* partial) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<SlotWork> PinPrefix(std::span<const BlockHash> chain)
      ABSL_LOCKS_EXCLUDED(mu_);
  Promotion ReservePromotions(std::span<const BlockHash> chain,
                              const std::vector<SlotWork>& pinned)
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t ReadPinned(std::span<const BlockHash> chain, std::span<const Segment> dst,
                    const std::vector<SlotWork>& pinned, Promotion& promo,
                    Status* failure);
  void FinishLoad(std::span<const BlockHash> chain, const std::vector<SlotWork>& pinned,
                  size_t loaded, bool count_hits) ABSL_LOCKS_EXCLUDED(mu_);
  void FinishPromotions(std::span<const BlockHash> chain, Promotion& promo)
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t PrefetchNow(std::vector<BlockHash> chain);

  // Save (store_save.cc).
  // `forms[k]`: the form blocks[k] is to be kept in.
  std::vector<SlotWork> ReserveSlots(std::span<const BlockHash> chain,
                                     std::span<const size_t> blocks,
                                     std::span<const BlockForm> forms,
                                     bool refresh_anywhere, SaveResult* result,
                                     std::vector<Demotion>* demotions)
      ABSL_LOCKS_EXCLUDED(mu_);
  // CopyNeeded for host; with `refresh_anywhere` (Save) a copy on NVMe
  // that covers `form` is enough too.
  CopyNeed HostCopyNeeded(const BlockHash& hash, BlockForm form,
                          bool refresh_anywhere) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<uint32_t> AdmitLocked(Tier tier, const BlockHash& hash,
                                      const BlockHash* parent, BlockForm form,
                                      std::vector<Demotion>* demotions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<uint32_t> UpgradeLocked(Tier tier, const BlockHash& hash,
                                        const BlockHash* parent,
                                        std::vector<Demotion>* demotions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterEvictions(Tier tier, const Admission& a, BlockForm form,
                      std::vector<Demotion>* demotions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeSlotLocked(Tier tier, uint32_t slot, BlockForm form)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the block's copy in `tier` and frees its slot.
  // REQUIRES: present there and not pinned.
  void DropLocked(Tier tier, const BlockHash& hash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishSave(std::span<const BlockHash> chain, const std::vector<SlotWork>& work,
                  const std::vector<BlockIo>& written, SaveResult* result)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Writes `blocks` of `chain` into the host tier (Save, promotion).
  // `copy_down`: queue write-through copies (not for blocks NVMe served).
  SaveResult StoreInHost(std::span<const BlockHash> chain, std::span<const size_t> blocks,
                         std::span<const BlockForm> forms, const SourceOf& source,
                         bool copy_down);
  void CountTrimming(const std::vector<SlotWork>& work,
                     const std::vector<BlockIo>& written);
  void QueueCopyDowns(std::span<const BlockHash> chain, const std::vector<SlotWork>& work,
                      const std::vector<BlockIo>& written);

  // Moving blocks down to NVMe (store_copy_down.cc).
  void CopyDown(std::span<const CopyDownJob> jobs) ABSL_LOCKS_EXCLUDED(mu_);
  void Demote(std::vector<Demotion>& demotions) ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<uint32_t> AdmitToNvmeLocked(const CopyDownJob& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads each move's host slot into `buffer` and writes it to its NVMe
  // slot; then marks it ready there (or drops it) and, if `unpin_host`,
  // unpins the host copy.
  void WriteDown(std::span<const Demotion> moves, std::vector<std::byte>& buffer,
                 bool unpin_host) ABSL_LOCKS_EXCLUDED(mu_);

  TierBackend* backend(Tier t) const { return backends_[static_cast<int>(t)].get(); }
  bool write_back() const { return write_policy_ == WritePolicy::kWriteBack; }

  const TierBackends backends_;
  const bool host_memory_locked_;
  const size_t segments_per_block_;
  const size_t segment_bytes_;
  const size_t block_bytes_;
  const SlidingWindow window_;
  const WritePolicy write_policy_;
  const uint32_t nvme_batch_;

  mutable Mutex mu_;
  BlockIndex index_ ABSL_GUARDED_BY(mu_);
  std::array<std::optional<PageSpace>, kNumTiers> space_ ABSL_GUARDED_BY(mu_);
  std::array<TierCounters, kNumTiers> tier_counters_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> lookups_{0}, lookup_blocks_{0}, lookup_hit_blocks_{0};
  std::atomic<uint64_t> loads_{0}, load_blocks_{0}, load_hit_blocks_{0};
  std::atomic<uint64_t> saves_{0}, save_blocks_{0}, save_new_{0}, save_refreshed_{0};
  std::atomic<uint64_t> invalid_calls_{0};
  std::atomic<uint64_t> save_trimmed_{0}, trim_bytes_saved_{0}, save_upgraded_{0};
  std::atomic<uint64_t> copy_down_{0}, copy_down_dropped_{0}, promotions_{0};
  uint64_t recovery_micros_ = 0;
  std::vector<std::byte> writer_buffer_;  // used by the writer thread only

  // Last: destroyed first, so its thread stops before anything it uses.
  std::unique_ptr<WriteBehind> writer_;
};

}  // namespace kvtier::internal
