// DevicePath: staging device segments through pinned host memory, on the
// store's streams (see the header).
#include "lib/move/device_path.h"

#include <algorithm>

#include "lib/move/transfer_state.h"

namespace kvtier::internal {
namespace {

// Staging buffers kept for reuse; more are freed when returned.
constexpr size_t kStagingKept = 4;
constexpr size_t kStagingMinBytes = size_t{1} << 20;

}  // namespace

DevicePath::DevicePath(EngineSource source, const KvLayout& layout)
    : segments_per_block_(layout.SegmentsPerBlock()),
      parts_per_layer_(std::max<uint32_t>(1, layout.parts_per_layer)),
      layers_(std::max<uint32_t>(1, layout.num_layers)),
      owned_(std::move(source.owned)),
      source_(std::move(source)) {
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
    // Best effort: unregistered memory still copies, through the runtime.
    if (!source_.host_arena.empty()) {
      (void)engine_->RegisterHost(source_.host_arena.data(), source_.host_arena.size());
    }
    streams_ = std::make_unique<StreamPool>(engine_);
  });
  return open_status_;
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

void DevicePath::Release(Staged& staged) { ReturnStaging(std::move(staged.buffer)); }

Result<Staged> DevicePath::Stage(std::span<const Segment> segments) {
  size_t bytes = 0;
  for (const Segment& s : segments) {
    if (s.kind == MemoryKind::kDevice && s.data != nullptr) bytes += s.bytes;
  }
  Staged staged;
  staged.segments.assign(segments.begin(), segments.end());
  if (bytes == 0) return staged;
  Result<EngineAllocation> buffer = TakeStaging(bytes);
  if (!buffer.ok()) return buffer.status();
  staged.buffer = std::move(buffer).value();
  size_t at = 0;
  for (Segment& s : staged.segments) {
    if (s.kind != MemoryKind::kDevice || s.data == nullptr) continue;
    s = Segment{staged.buffer.data() + at, s.bytes, MemoryKind::kHost};
    at += s.bytes;
  }
  return staged;
}

Result<Staged> DevicePath::StageFromEngine(std::span<const Segment> src) {
  if (Status s = Ready(); !s.ok()) return s;
  Result<Staged> staged = Stage(src);
  if (!staged.ok()) return staged;
  std::vector<CopyPiece> pieces;
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i].kind != MemoryKind::kDevice || src[i].data == nullptr) continue;
    pieces.push_back(CopyPiece{src[i].data, staged->segments[i].data, src[i].bytes});
  }
  Result<StreamPool::Lease> stream = streams_->Take();
  if (!stream.ok()) return stream.status();
  Status s =
      (*stream)->Enqueue(CopyDirection::kDeviceToHost, pieces.data(), pieces.size());
  Result<CopyEvent> event = s.ok() ? (*stream)->Record() : Result<CopyEvent>(s);
  if (event.ok()) s = (*stream)->Wait(*event);
  if (!event.ok()) s = event.status();
  if (!s.ok()) {
    copy_errors_.fetch_add(1, std::memory_order_relaxed);
    stream->Discard();
    ReturnStaging(std::move(staged->buffer));
    return s;
  }
  return staged;
}

Result<Staged> DevicePath::StageForLoad(std::span<const Segment> dst) {
  if (Status s = Ready(); !s.ok()) return s;
  return Stage(dst);
}

void DevicePath::LayerPieces(const Staged& staged, std::span<const Segment> dst,
                             size_t served, uint32_t layer,
                             const std::function<bool(size_t, size_t)>& needed,
                             std::vector<CopyPiece>& pieces) const {
  pieces.clear();
  for (size_t b = 0; b < served; ++b) {
    for (uint32_t p = 0; p < parts_per_layer_; ++p) {
      const size_t s = size_t{layer} * parts_per_layer_ + p;
      const size_t i = b * segments_per_block_ + s;
      if (dst[i].kind != MemoryKind::kDevice || !needed(b, s)) continue;
      pieces.push_back(CopyPiece{staged.segments[i].data, dst[i].data, dst[i].bytes});
    }
  }
}

size_t DevicePath::DeliverToEngine(Staged& staged, std::span<const Segment> dst,
                                   size_t served,
                                   const std::function<bool(size_t, size_t)>& needed,
                                   TransferHandle::State* state) {
  const auto finish = [&](size_t delivered, BlockOutcome outcome) {
    if (state != nullptr) {
      for (size_t b = 0; b < served; ++b) {
        if (delivered > b) {
          state->BlockInPlace(b);
        } else {
          state->BlockResolved(b, outcome);
        }
      }
    }
    ReturnStaging(std::move(staged.buffer));
    return delivered;
  };
  if (served == 0) return finish(0, BlockOutcome::kMissing);
  Result<StreamPool::Lease> stream = streams_->Take();
  if (!stream.ok()) {
    copy_errors_.fetch_add(1, std::memory_order_relaxed);
    return finish(0, BlockOutcome::kFailed);
  }
  std::vector<CopyEvent> events;
  std::vector<CopyPiece> pieces;
  Status failed;
  uint32_t done = 0;
  bool cancelled = false;
  while (done < layers_ && failed.ok()) {
    // Keep up to kLayersInFlight layers enqueued; a cancel stops enqueueing.
    while (events.size() < layers_ && events.size() < done + kLayersInFlight) {
      if (state != nullptr && state->cancelled()) {
        cancelled = true;
        break;
      }
      LayerPieces(staged, dst, served, static_cast<uint32_t>(events.size()), needed,
                  pieces);
      failed =
          (*stream)->Enqueue(CopyDirection::kHostToDevice, pieces.data(), pieces.size());
      Result<CopyEvent> e = failed.ok() ? (*stream)->Record() : Result<CopyEvent>(failed);
      if (!e.ok()) {
        failed = e.status();
        break;
      }
      events.push_back(*e);
    }
    if (!failed.ok() || events.size() == done) break;
    failed = (*stream)->Wait(events[done]);
    if (!failed.ok()) break;
    if (state != nullptr) {
      for (size_t b = 0; b < served; ++b) state->LayerInPlace(b, done);
    }
    ++done;
  }
  if (done == layers_) return finish(served, BlockOutcome::kDone);
  // Nothing of this call may still be copying when it returns.
  if (!events.empty()) (void)(*stream)->Wait(events.back());
  if (!failed.ok()) {
    copy_errors_.fetch_add(1, std::memory_order_relaxed);
    stream->Discard();
    return finish(0, BlockOutcome::kFailed);
  }
  return finish(0, cancelled ? BlockOutcome::kCancelled : BlockOutcome::kFailed);
}

}  // namespace kvtier::internal
