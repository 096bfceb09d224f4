// DevicePath: the copy engine, its streams and the pinned staging pool
// (see the header).
#include "lib/move/device_path.h"

#include <algorithm>

#include "lib/move/device_transfer.h"

namespace kvtier::internal {
namespace {

// Staging buffers kept for reuse; more are freed when returned.
constexpr size_t kStagingKept = 4;
constexpr size_t kStagingMinBytes = size_t{1} << 20;

}  // namespace

DevicePath::DevicePath(EngineSource source, const KvLayout& layout)
    : layout_(layout), owned_(std::move(source.owned)), source_(std::move(source)) {
  engine_ = owned_ ? owned_.get() : source_.borrowed;
}

DevicePath::~DevicePath() {
  staging_.clear();
  streams_.reset();
}

bool DevicePath::AnyDevice(std::span<const Segment> segments) {
  return std::any_of(segments.begin(), segments.end(),
                     [](const Segment& s) { return s.kind == MemoryKind::kDevice; });
}

Status DevicePath::Ready() {
  std::call_once(opened_, [this] {
    if (engine_ == nullptr) {
      if (!source_.open) {
        open_status_ = NotSupported("no copy engine");
        return;
      }
      Result<std::unique_ptr<CopyEngine>> e = source_.open(source_.device);
      if (!e.ok()) {
        open_status_ = e.status();
        return;
      }
      owned_ = std::move(e).value();
      engine_ = owned_.get();
    }
    // Refused registration (RLIMIT_MEMLOCK): host slots are then staged.
    if (!source_.host_arena.empty() &&
        engine_->RegisterHost(source_.host_arena.data(), source_.host_arena.size())
            .ok()) {
      registered_ = source_.host_arena;
    }
    streams_ = std::make_unique<StreamPool>(engine_);
  });
  return open_status_;
}

bool DevicePath::Registered(std::span<const std::byte> memory) const {
  if (memory.empty() || registered_.empty()) return false;
  return memory.data() >= registered_.data() &&
         memory.data() + memory.size() <= registered_.data() + registered_.size();
}

Result<std::unique_ptr<DeviceTransfer>> DevicePath::Begin(
    std::span<const Segment> engine, TransferHandle::State* state,
    TransferHandle::State* layer_state) {
  if (Status s = Ready(); !s.ok()) return s;
  return std::make_unique<DeviceTransfer>(*this, layout_, engine, state, layer_state);
}

Result<EngineAllocation> DevicePath::TakeStaging(size_t bytes) {
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < staging_.size(); ++i) {
      if (staging_[i].size() >= bytes) {
        EngineAllocation b = std::move(staging_[i]);
        staging_.erase(staging_.begin() + static_cast<std::ptrdiff_t>(i));
        return b;
      }
    }
  }
  return engine_->AllocatePinned(std::max(bytes, kStagingMinBytes));
}

void DevicePath::ReturnStaging(EngineAllocation buffer) {
  if (buffer.data() == nullptr) return;
  std::lock_guard lock(mu_);
  if (staging_.size() < kStagingKept) staging_.push_back(std::move(buffer));
}

}  // namespace kvtier::internal
