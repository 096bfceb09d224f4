// FakeCopyEngine: streams as threads over host memory (see the header).
#include "backends/testing/fake_copy_engine.h"

#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "backends/gpu/copy_pieces.h"
#include "lib/codec/codec_kernels.h"

namespace kvtier::testing {

using internal::CopyDirection;
using internal::CopyEvent;
using internal::CopyPiece;

class FakeStream final : public internal::CopyStream {
 public:
  explicit FakeStream(FakeCopyEngine* engine)
      : engine_(engine), thread_([this] { Run(); }) {}
  ~FakeStream() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  Status EnqueueUsing(internal::CopyMethod method, CopyDirection direction,
                      const CopyPiece* pieces, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      if (Status s = Check(direction, pieces[i], i); !s.ok()) return s;
    }
    std::lock_guard lock(mu_);
    if (failed_before_ != 0) return broken_;
    ops_.push_back(Op{direction, method, {pieces, pieces + count}, 0});
    changed_.notify_all();
    return Status::Ok();
  }

  // The "device" codec: the CPU kernels over the fake's device memory.
  Status EnqueueDecode(const internal::DecodePiece* pieces, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      const internal::DecodePiece& p = pieces[i];
      const size_t values = p.groups * p.group_values;
      if (!engine_->IsDevice(p.codes, values) ||
          !engine_->IsDevice(p.scales, p.groups * 4) ||
          !engine_->IsDevice(p.dst, values * DTypeBytes(p.dtype))) {
        return InvalidArgument("fake copy engine: decode " + std::to_string(i) +
                               " reaches outside device memory");
      }
    }
    if (count == 0) return Status::Ok();
    std::lock_guard lock(mu_);
    if (failed_before_ != 0) return broken_;
    ops_.push_back(Op{CopyDirection::kDeviceToDevice,
                      internal::CopyMethod::kDma,
                      {},
                      0,
                      {pieces, pieces + count}});
    changed_.notify_all();
    return Status::Ok();
  }

  // Encodes run the CPU encoder: the codec math the CUDA kernel runs too.
  Status EnqueueEncode(const internal::EncodePiece* pieces, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      const internal::EncodePiece& p = pieces[i];
      const size_t values = p.groups * p.group_values;
      if (!engine_->IsDevice(p.src, values * DTypeBytes(p.dtype)) ||
          !engine_->IsDevice(p.codes, values) ||
          !engine_->IsDevice(p.scales, p.groups * 4)) {
        return InvalidArgument("fake copy engine: encode " + std::to_string(i) +
                               " reaches outside device memory");
      }
    }
    if (count == 0) return Status::Ok();
    std::lock_guard lock(mu_);
    if (failed_before_ != 0) return broken_;
    Op op{CopyDirection::kDeviceToDevice, internal::CopyMethod::kDma, {}, 0};
    op.encodes.assign(pieces, pieces + count);
    ops_.push_back(std::move(op));
    changed_.notify_all();
    return Status::Ok();
  }

  Result<CopyEvent> Record() override {
    std::lock_guard lock(mu_);
    ops_.push_back(
        Op{CopyDirection::kHostToDevice, internal::CopyMethod::kDma, {}, ++recorded_});
    changed_.notify_all();
    return recorded_;
  }

  bool Query(CopyEvent event) override {
    std::lock_guard lock(mu_);
    return completed_ >= event;
  }

  Status Wait(CopyEvent event) override {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return completed_ >= event; });
    if (failed_before_ != 0 && event >= failed_before_) return broken_;
    return Status::Ok();
  }

 private:
  struct Op {
    CopyDirection direction;
    internal::CopyMethod method;
    std::vector<CopyPiece> pieces;
    CopyEvent event;                                  // non-zero: an event, no copy
    std::vector<internal::DecodePiece> decodes = {};  // non-empty: decodes, no copy
    std::vector<internal::EncodePiece> encodes = {};  // non-empty: encodes, no copy
  };

  Status Check(CopyDirection d, const CopyPiece& p, size_t i) const {
    const bool src_device = engine_->IsDevice(p.src, p.bytes);
    const bool dst_device = engine_->IsDevice(p.dst, p.bytes);
    const bool want_src = d != CopyDirection::kHostToDevice;
    const bool want_dst = d != CopyDirection::kDeviceToHost;
    if (p.bytes == 0 || (src_device == want_src && dst_device == want_dst)) {
      return Status::Ok();
    }
    return InvalidArgument(
        std::string("fake copy engine: piece ") + std::to_string(i) + " of a " +
        internal::CopyDirectionName(d) + " copy has its " +
        (src_device != want_src ? "source" : "destination") + " in " +
        ((src_device != want_src ? src_device : dst_device) ? "device" : "host") +
        " memory");
  }

  void Run() {
    for (;;) {
      Op op;
      {
        std::unique_lock lock(mu_);
        changed_.wait(lock, [&] { return stop_ || !ops_.empty(); });
        if (ops_.empty()) return;  // stop_ and drained
        op = std::move(ops_.front());
        ops_.pop_front();
      }
      engine_->WaitWhilePaused();
      if (!op.decodes.empty() || !op.encodes.empty()) {
        RunCodec(op);
        continue;
      }
      if (op.event != 0) {
        {
          std::lock_guard lock(mu_);
          completed_ = op.event;
        }
        changed_.notify_all();
        continue;
      }
      Copy(op);
    }
  }

  // An op of decodes or of encodes: each counts as a piece (a failure
  // injected there breaks the stream before any of the op runs).
  void RunCodec(const Op& op) {
    {
      std::lock_guard lock(mu_);
      if (failed_before_ != 0) return;
    }
    const bool decode = !op.decodes.empty();
    const size_t n = decode ? op.decodes.size() : op.encodes.size();
    for (size_t i = 0; i < n; ++i) {
      if (!engine_->TakePiece()) {
        std::lock_guard lock(mu_);
        failed_before_ = completed_ + 1;
        broken_ = IoError(std::string("fake copy engine: injected failure of an ") +
                          (decode ? "decode" : "encode"));
        return;
      }
    }
    const internal::CodecKernels& kernels = internal::ScalarCodecKernels();
    for (const internal::DecodePiece& p : op.decodes) {
      kernels.decode(p.codec, p.dtype, p.group_values, p.groups, p.codes, p.scales,
                     p.dst);
      engine_->decodes_.fetch_add(1);
    }
    for (const internal::EncodePiece& p : op.encodes) {
      kernels.encode(p.codec, p.dtype, p.group_values, p.groups, p.src, p.codes,
                     p.scales);
      engine_->encodes_.fetch_add(1);
    }
  }

  void Copy(Op& op) {
    {
      std::lock_guard lock(mu_);
      if (failed_before_ != 0) return;  // a broken stream copies nothing more
    }
    engine_->WaitWhileHeld(op.pieces);
    if (const int64_t us = engine_->delay_us_.load(); us > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    for (size_t i = 0; i < op.pieces.size(); ++i) {
      if (!engine_->TakePiece()) {
        std::lock_guard lock(mu_);
        failed_before_ = completed_ + 1;
        broken_ = IoError(std::string("fake copy engine: injected failure of a ") +
                          internal::CopyDirectionName(op.direction) + " copy");
        return;
      }
    }
    // Pieces are counted first, so a failure leaves the batch uncopied, as a
    // failed DMA leaves its destination unspecified.
    std::vector<CopyPiece>& pieces = op.pieces;
    engine_->CountPageable(op.direction, pieces);
    size_t total = 0;
    for (const CopyPiece& p : pieces) total += p.bytes;
    if (op.method == internal::CopyMethod::kGather) {
      engine_->gather_batches_.fetch_add(1);
      const uint32_t warps = internal::GatherWarps(pieces.size());
      for (uint32_t w = 0; w < warps; ++w) {
        for (uint32_t lane = 0; lane < internal::kWarpLanes; ++lane) {
          internal::CopyPiecesOfWarp(pieces.data(), pieces.size(), w, warps, lane);
        }
      }
    } else {
      engine_->dma_batches_.fetch_add(1);
      const size_t runs =
          internal::CoalesceRuns(pieces.data(), pieces.size(), pieces.data());
      for (size_t r = 0; r < runs; ++r) {
        std::memcpy(pieces[r].dst, pieces[r].src, pieces[r].bytes);
      }
    }
    engine_->bytes_[static_cast<int>(op.direction)].fetch_add(total);
  }

  FakeCopyEngine* const engine_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Op> ops_;           // guarded by mu_
  CopyEvent recorded_ = 0;       // guarded by mu_
  CopyEvent completed_ = 0;      // guarded by mu_
  CopyEvent failed_before_ = 0;  // guarded by mu_: events from here report broken_
  Status broken_;                // guarded by mu_
  bool stop_ = false;            // guarded by mu_
  std::thread thread_;           // last: starts once the state exists
};

FakeCopyEngine::~FakeCopyEngine() {
  Resume();
  ReleaseHold();
}

Result<std::unique_ptr<internal::CopyStream>> FakeCopyEngine::NewStream() {
  return std::unique_ptr<internal::CopyStream>(new FakeStream(this));
}

Result<internal::EngineAllocation> FakeCopyEngine::AllocateDevice(size_t bytes) {
  const size_t rounded = (bytes + 255) / 256 * 256;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(256, rounded));
  if (p == nullptr) return ResourceExhausted("fake device memory");
  std::memset(p, 0, rounded);
  std::byte* none = nullptr;
  first_device_.compare_exchange_strong(none, p);
  {
    std::lock_guard lock(mu_);
    device_[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  return internal::EngineAllocation(p, bytes, [this](std::byte* q) {
    {
      std::lock_guard lock(mu_);
      device_.erase(reinterpret_cast<uintptr_t>(q));
    }
    std::free(q);
  });
}

Result<internal::EngineAllocation> FakeCopyEngine::AllocatePinned(size_t bytes) {
  const size_t rounded = (bytes + 4095) / 4096 * 4096;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(4096, rounded));
  if (p == nullptr) return ResourceExhausted("fake pinned memory");
  {
    std::lock_guard lock(mu_);
    page_locked_[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  return internal::EngineAllocation(p, bytes, [this](std::byte* q) {
    {
      std::lock_guard lock(mu_);
      page_locked_.erase(reinterpret_cast<uintptr_t>(q));
    }
    std::free(q);
  });
}

// Registrations last as long as the engine (the store's arena outlives
// none of its copies).
Status FakeCopyEngine::RegisterHost(std::byte* memory, size_t bytes) {
  if (refuse_registration_) {
    return ResourceExhausted("fake copy engine: registration refused (memlock limit)");
  }
  {
    std::lock_guard lock(mu_);
    page_locked_[reinterpret_cast<uintptr_t>(memory)] = bytes;
  }
  registered_bytes_.fetch_add(bytes);
  std::byte* none = nullptr;
  first_registered_.compare_exchange_strong(none, memory);
  return Status::Ok();
}

bool FakeCopyEngine::IsPageLocked(const void* p, size_t bytes) const {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard lock(mu_);
  auto it = page_locked_.upper_bound(a);
  if (it == page_locked_.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

void FakeCopyEngine::CountPageable(internal::CopyDirection d,
                                   const std::vector<CopyPiece>& pieces) {
  for (const CopyPiece& p : pieces) {
    const void* host = d == CopyDirection::kHostToDevice   ? p.src
                       : d == CopyDirection::kDeviceToHost ? p.dst
                                                           : nullptr;
    if (host != nullptr && p.bytes > 0 && !IsPageLocked(host, p.bytes)) {
      pageable_bytes_.fetch_add(p.bytes);
    }
  }
}

bool FakeCopyEngine::IsDevice(const void* p, size_t bytes) const {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard lock(mu_);
  auto it = device_.upper_bound(a);
  if (it == device_.begin()) return false;
  --it;
  return a >= it->first && a + bytes <= it->first + it->second;
}

size_t FakeCopyEngine::device_bytes_allocated() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [p, bytes] : device_) n += bytes;
  return n;
}

void FakeCopyEngine::Pause() { Allow(0); }

void FakeCopyEngine::Resume() {
  {
    std::lock_guard lock(mu_);
    allowance_ = -1;
  }
  resumed_.notify_all();
}

void FakeCopyEngine::Allow(uint64_t ops) {
  {
    std::lock_guard lock(mu_);
    allowance_ = static_cast<int64_t>(ops);
  }
  resumed_.notify_all();
}

void FakeCopyEngine::WaitWhilePaused() {
  std::unique_lock lock(mu_);
  resumed_.wait(lock, [&] { return allowance_ != 0; });
  if (allowance_ > 0) --allowance_;
}

void FakeCopyEngine::HoldReadsFrom(const void* begin, size_t bytes) {
  std::lock_guard lock(mu_);
  hold_begin_ = reinterpret_cast<uintptr_t>(begin);
  hold_end_ = hold_begin_ + bytes;
}

void FakeCopyEngine::ReleaseHold() {
  {
    std::lock_guard lock(mu_);
    hold_begin_ = hold_end_ = 0;
  }
  resumed_.notify_all();
}

uint64_t FakeCopyEngine::held() const {
  std::lock_guard lock(mu_);
  return held_;
}

void FakeCopyEngine::WaitWhileHeld(const std::vector<CopyPiece>& pieces) {
  std::unique_lock lock(mu_);
  const auto holds = [&] {
    for (const CopyPiece& p : pieces) {
      const uintptr_t a = reinterpret_cast<uintptr_t>(p.src);
      if (a >= hold_begin_ && a < hold_end_) return true;
    }
    return false;
  };
  if (!holds()) return;
  ++held_;
  resumed_.wait(lock, [&] { return !holds(); });
  --held_;
}

bool FakeCopyEngine::TakePiece() {
  const uint64_t n = pieces_.fetch_add(1) + 1;
  const uint64_t fail = fail_at_.load();
  return fail == 0 || n != fail;
}

}  // namespace kvtier::testing
