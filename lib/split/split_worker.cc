// SplitWorker: the worker side of include/kvtier/split.h. The rank's tiers
// (opened as Store::Open opens them) and a mover over them; it executes the
// scheduler's plans after checking that they fit its tiers and the engine
// memory it was given, and answers with a status per move. It keeps no
// index: which slot holds what is the scheduler's; every read verifies the
// block's hash and checksum, so a plan that is stale for this rank gives a
// failed move, never other bytes.
#include <unistd.h>
#include <chrono>
#include <random>
#include <set>
#include <string>

#include "kvtier/split.h"
#include "lib/move/mover.h"
#include "lib/split/messages.h"
#include "lib/store_impl.h"

namespace kvtier {
namespace internal {
namespace {

std::vector<TierBackend*> Enabled(const TierBackends& backends) {
  std::vector<TierBackend*> out;
  for (const auto& b : backends) {
    if (b) out.push_back(b.get());
  }
  return out;
}

// Fresh per Open, never 0: a restarted worker is told apart from the one
// before it by this alone.
uint64_t NewIncarnation() {
  std::random_device device;
  uint64_t id = (uint64_t{device()} << 32) ^ device();
  id ^=
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  id ^= static_cast<uint64_t>(getpid()) << 17;
  return id == 0 ? 1 : id;
}

Status BadPlan(const std::string& what) { return Corruption("split plan: " + what); }

class SplitWorker final : public Worker {
 public:
  SplitWorker(const Options& options, OpenedTiers tiers)
      : options_(options),
        tiers_(std::move(tiers)),
        stack_(StackOf(options, tiers_.backends)),
        backends_(Enabled(tiers_.backends)),
        window_(options.layout, options.swa_checkpoint_blocks),
        mover_(stack_, backends_, options.layout, window_),
        incarnation_(NewIncarnation()) {
    hello_.rank = options.rank;
    hello_.incarnation = incarnation_;
    hello_.layout_fingerprint = options.layout.Fingerprint();
    hello_.codec_tag = options.CodecTag();
    hello_.stack = stack_;
    hello_.recovered.resize(stack_.size());
    for (size_t p = 0; p < stack_.size(); ++p) {
      for (const RecoveredBlock& b : backends_[p]->TakeRecovered()) {
        hello_.recovered[p].push_back(
            RecoveredEntry{b.hash, b.parent, b.has_parent, b.slot, b.form});
      }
    }
  }

  std::vector<std::byte> Hello() const override { return EncodeHello(hello_); }

  Status ApplyJoin(std::span<const std::byte> bytes) override {
    Result<JoinReply> reply = DecodeJoinReply(bytes);
    if (!reply.ok()) return reply.status();
    if (reply->rank != options_.rank || reply->incarnation != incarnation_) {
      return Corruption("join reply: for rank " + std::to_string(reply->rank) +
                        " incarnation " + std::to_string(reply->incarnation) +
                        ", not this worker's");
    }
    MutexLock lock(&mu_);
    return ForgetSlots(reply->forget);
  }

  Result<std::vector<std::byte>> Execute(std::span<const std::byte> bytes,
                                         std::span<const Segment> engine) override {
    Result<Envelope> e = DecodeEnvelope(bytes);
    if (!e.ok()) return e.status();
    if (Status s = CheckFits(e->plan); !s.ok()) return s;
    if (Status s = CheckEngine(*e, engine); !s.ok()) return s;
    MutexLock lock(&mu_);
    if (Status s = ForgetSlots(e->forget); !s.ok()) return s;
    std::vector<SlotRef> released;
    for (const SlotRelease& r : e->plan.releases) released.push_back({r.tier, r.slot});
    if (Status s = ForgetSlots(released); !s.ok()) return s;
    const std::vector<Status> statuses =
        mover_.Run(e->plan, {engine, e->first_block}, LoadOrder::kByBlock, nullptr);
    Results results{e->ticket, options_.rank, incarnation_, {}};
    for (const Status& s : statuses) results.codes.push_back(s.code());
    return EncodeResults(results);
  }

  uint32_t rank() const override { return options_.rank; }
  uint64_t incarnation() const override { return incarnation_; }

 private:
  bool SlotFits(const Endpoint& e) const {
    return e.engine() ||
           (e.tier < stack_.size() && e.slot < stack_[e.tier].geometry.id_count());
  }

  // Every tier endpoint names a tier and slot this worker has; no slot is
  // written twice by one plan (the backends' batches need distinct slots).
  Status CheckFits(const Plan& plan) const {
    std::set<std::pair<uint8_t, uint32_t>> written;
    for (const Move& m : plan.moves) {
      if (!SlotFits(m.from) || !SlotFits(m.to)) {
        return BadPlan("a move names a tier or slot this worker does not have");
      }
      if (m.from.engine() && m.to.engine()) return BadPlan("an engine -> engine move");
      if (!m.to.engine() && !written.insert({m.to.tier, m.to.slot}).second) {
        return BadPlan("slot " + std::to_string(m.to.slot) + " written twice");
      }
    }
    return Status::Ok();
  }

  Status CheckEngine(const Envelope& e, std::span<const Segment> engine) const {
    bool uses_engine = false;
    for (const Move& m : e.plan.moves) {
      if (!m.from.engine() && !m.to.engine()) continue;
      uses_engine = true;
      if (m.block < e.first_block)
        return BadPlan("a move before the engine's first block");
    }
    if (!uses_engine) return Status::Ok();
    const size_t per_block = options_.layout.SegmentsPerBlock();
    const size_t want = (e.plan.chain.size() - e.first_block) * per_block;
    if (engine.size() != want) {
      return InvalidArgument("engine: " + std::to_string(engine.size()) +
                             " segments, the plan needs " + std::to_string(want));
    }
    const std::vector<bool> whole = ReadWhole(e);
    for (size_t i = 0; i < engine.size(); ++i) {
      const Segment& s = engine[i];
      // As Store::Save: the engine may have freed a sliding-window segment
      // of a block the plan keeps trimmed (PlanSave's `freed`).
      if (s.data == nullptr && !whole[i / per_block] &&
          window_.IsSliding(i % per_block)) {
        continue;
      }
      if (s.kind == MemoryKind::kDevice) {
        return NotSupported(
            "engine[" + std::to_string(i) +
            "].kind: device memory; the split's workers take host memory");
      }
      if (s.data == nullptr || s.bytes != options_.layout.SegmentBytes() ||
          s.kind != MemoryKind::kHost) {
        return InvalidArgument("engine[" + std::to_string(i) + "]: needs " +
                               std::to_string(options_.layout.SegmentBytes()) +
                               " bytes of host memory" +
                               (s.data == nullptr ? NullWhy(e, i / per_block) : ""));
      }
    }
    return Status::Ok();
  }

  // Per engine block (from first_block): true when every segment must be
  // there: a load or promotion may touch any, a save reads a whole block's.
  std::vector<bool> ReadWhole(const Envelope& e) const {
    const bool save = e.plan.kind == PlanKind::kSave;
    std::vector<bool> whole(e.plan.chain.size() - e.first_block, !save);
    if (!save) return whole;
    for (const Move& m : e.plan.moves) {
      if (m.from.engine() && m.form == BlockForm::kWhole)
        whole[m.block - e.first_block] = true;
    }
    return whole;
  }

  std::string NullWhy(const Envelope& e, size_t block) const {
    if (e.plan.kind != PlanKind::kSave) return " (a load writes every segment)";
    return " (chain block " + std::to_string(e.first_block + block) +
           " is saved whole; a freed block must be named in PlanSave's freed)";
  }

  // A persistent tier drops the slots' records (a restart does not bring
  // them back); others have none.
  Status ForgetSlots(std::span<const SlotRef> slots) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const SlotRef& s : slots) {
      if (s.tier >= stack_.size() || s.slot >= stack_[s.tier].geometry.id_count()) {
        return BadPlan("a slot to forget is not this worker's");
      }
    }
    for (const SlotRef& s : slots) backends_[s.tier]->Forget(s.slot);
    return Status::Ok();
  }

  const Options options_;
  OpenedTiers tiers_;
  const TierStack stack_;
  const std::vector<TierBackend*> backends_;
  const SlidingWindow window_;
  const Mover mover_;
  const uint64_t incarnation_;
  internal::Hello hello_;
  Mutex mu_;  // Execute and ApplyJoin run one at a time
};

}  // namespace
}  // namespace internal

Result<std::unique_ptr<Worker>> Worker::Open(const Options& options) {
  if (options.gpu.capacity_bytes > 0) {
    return NotSupported("options.gpu.capacity_bytes: the split has no GPU tier yet");
  }
  if (!options.remote.endpoints.empty()) {
    return NotSupported("options.remote.endpoints: the split has no remote tier yet");
  }
  Result<internal::OpenedTiers> tiers =
      internal::OpenTiers(options, internal::NvmeHooks{});
  if (!tiers.ok()) return tiers.status();
  return std::unique_ptr<Worker>(
      new internal::SplitWorker(options, std::move(tiers).value()));
}

}  // namespace kvtier
