// DeviceTransfer: one call's copies across the device boundary (see the
// header).
#include "lib/move/device_transfer.h"

#include <algorithm>

#include "lib/move/transfer_state.h"

namespace kvtier::internal {

DeviceTransfer::DeviceTransfer(DevicePath& path, const KvLayout& layout,
                               std::span<const Segment> engine,
                               TransferHandle::State* state,
                               TransferHandle::State* layer_state)
    : path_(path),
      engine_(engine),
      per_block_(layout.SegmentsPerBlock()),
      parts_per_layer_(std::max<uint32_t>(1, layout.parts_per_layer)),
      layers_(std::max<uint32_t>(1, layout.num_layers)),
      state_(state),
      layer_state_(layer_state),
      sources_(engine.size()),
      from_(per_block_ == 0 ? 0 : engine.size() / per_block_, Source::kStaging),
      codecs_(from_.size()) {}

DeviceTransfer::~DeviceTransfer() { path_.ReturnStaging(std::move(staging_)); }

std::span<const Segment> DeviceTransfer::Block(size_t block) const {
  return engine_.subspan(block * per_block_, per_block_);
}

bool DeviceTransfer::HasDevice(size_t block) const {
  return DevicePath::AnyDevice(Block(block));
}

Result<std::span<const Segment>> DeviceTransfer::HostBlock(size_t block) {
  if (!HasDevice(block)) return Block(block);
  std::lock_guard lock(mu_);
  if (host_.empty()) {
    size_t bytes = 0;
    for (const Segment& s : engine_) {
      if (s.kind == MemoryKind::kDevice && s.data != nullptr) bytes += s.bytes;
    }
    Result<EngineAllocation> buffer = path_.TakeStaging(bytes);
    if (!buffer.ok()) return buffer.status();
    staging_ = std::move(buffer).value();
    host_.assign(engine_.begin(), engine_.end());
    size_t at = 0;
    for (Segment& s : host_) {
      if (s.kind != MemoryKind::kDevice || s.data == nullptr) continue;
      s = Segment{staging_.data() + at, s.bytes, MemoryKind::kHost};
      at += s.bytes;
    }
  }
  for (size_t s = block * per_block_; s < (block + 1) * per_block_; ++s) {
    sources_[s] = static_cast<const std::byte*>(host_[s].data);
  }
  from_[block] = Source::kStaging;
  return std::span<const Segment>(host_).subspan(block * per_block_, per_block_);
}

void DeviceTransfer::FromSlot(size_t block, std::span<const std::byte* const> sources) {
  std::copy(sources.begin(), sources.end(), sources_.begin() + block * per_block_);
  from_[block] = Source::kHostSlot;
}

void DeviceTransfer::FromDeviceSlot(size_t block,
                                    std::span<const std::byte* const> sources,
                                    const BlockCodec& codec) {
  std::copy(sources.begin(), sources.end(), sources_.begin() + block * per_block_);
  from_[block] = Source::kDeviceSlot;
  codecs_[block] = &codec;
}

void DeviceTransfer::LayerPieces(size_t served, uint32_t layer,
                                 const std::function<bool(size_t, size_t)>& needed,
                                 std::vector<CopyPiece>& h2d, std::vector<CopyPiece>& d2d,
                                 std::vector<DecodePiece>& decodes) const {
  h2d.clear();
  d2d.clear();
  decodes.clear();
  for (size_t b = 0; b < served; ++b) {
    const bool in_device = from_[b] == Source::kDeviceSlot;
    const BlockCodec* codec = in_device ? codecs_[b] : nullptr;
    std::vector<CopyPiece>& pieces = in_device ? d2d : h2d;
    for (uint32_t p = 0; p < parts_per_layer_; ++p) {
      const size_t s = size_t{layer} * parts_per_layer_ + p;
      const size_t i = b * per_block_ + s;
      if (engine_[i].kind != MemoryKind::kDevice || !needed(b, s)) continue;
      if (codec == nullptr || codec->raw()) {
        pieces.push_back(CopyPiece{sources_[i], engine_[i].data, engine_[i].bytes});
        continue;
      }
      // A stored 8-bit segment: its codes, then its scales.
      const size_t groups = engine_[i].bytes / codec->GroupBytes();
      const auto* codes = reinterpret_cast<const uint8_t*>(sources_[i]);
      decodes.push_back(DecodePiece{codec->codec(), codec->dtype(), codec->group_values(),
                                    groups, codes, codes + groups * codec->group_values(),
                                    engine_[i].data});
    }
  }
}

Result<CopyEvent> DeviceTransfer::EnqueueLayer(
    CopyStream& stream, size_t served, uint32_t layer,
    const std::function<bool(size_t, size_t)>& needed) {
  std::vector<CopyPiece> h2d, d2d;
  std::vector<DecodePiece> decodes;
  LayerPieces(served, layer, needed, h2d, d2d, decodes);
  if (!decodes.empty()) {
    Status s = stream.EnqueueDecode(decodes.data(), decodes.size());
    if (!s.ok()) return s;
  }
  if (!h2d.empty() || (d2d.empty() && decodes.empty())) {
    Status s = stream.Enqueue(CopyDirection::kHostToDevice, h2d.data(), h2d.size());
    if (!s.ok()) return s;
  }
  if (!d2d.empty()) {
    Status s = stream.Enqueue(CopyDirection::kDeviceToDevice, d2d.data(), d2d.size());
    if (!s.ok()) return s;
  }
  return stream.Record();
}

void DeviceTransfer::CountDelivered(size_t served) {
  uint64_t counts[3] = {0, 0, 0};  // by Source
  for (size_t b = 0; b < served; ++b) {
    if (HasDevice(b)) ++counts[static_cast<int>(from_[b])];
  }
  path_.CountBlocks(counts[static_cast<int>(Source::kHostSlot)],
                    counts[static_cast<int>(Source::kStaging)],
                    counts[static_cast<int>(Source::kDeviceSlot)]);
}

void DeviceTransfer::Deliver(size_t served,
                             const std::function<bool(size_t, size_t)>& needed) {
  delivered_ = 0;
  shortfall_ = BlockOutcome::kMissing;
  if (served == 0) return;
  shortfall_ = BlockOutcome::kFailed;
  Result<StreamPool::Lease> stream = path_.TakeStream();
  if (!stream.ok()) {
    path_.CountCopyError();
    return;
  }
  std::vector<CopyEvent> events;
  Status failed;
  uint32_t done = 0;
  bool cancelled = false;
  while (done < layers_ && failed.ok()) {
    // Keep up to kLayersInFlight layers enqueued; a cancel stops enqueueing.
    while (events.size() < layers_ &&
           events.size() < done + DevicePath::kLayersInFlight) {
      if (state_ != nullptr && state_->cancelled()) {
        cancelled = true;
        break;
      }
      Result<CopyEvent> e =
          EnqueueLayer(**stream, served, static_cast<uint32_t>(events.size()), needed);
      if (!e.ok()) {
        failed = e.status();
        break;
      }
      events.push_back(*e);
    }
    if (!failed.ok() || events.size() == done) break;
    failed = (*stream)->Wait(events[done]);
    if (!failed.ok()) break;
    if (layer_state_ != nullptr) {
      for (size_t b = 0; b < served; ++b) layer_state_->LayerInPlace(b, done);
    }
    ++done;
  }
  if (done == layers_) {
    delivered_ = served;
    CountDelivered(served);
    return;
  }
  // Nothing of this call may still be copying when it returns.
  if (!events.empty()) (void)(*stream)->Wait(events.back());
  if (!failed.ok()) {
    path_.CountCopyError();
    stream->Discard();
    return;
  }
  shortfall_ = cancelled ? BlockOutcome::kCancelled : BlockOutcome::kFailed;
}

Status DeviceTransfer::CopyToHost(std::span<const CopyPiece> pieces) {
  if (pieces.empty()) return Status::Ok();
  Result<StreamPool::Lease> stream = path_.TakeStream();
  if (!stream.ok()) {
    path_.CountCopyError();
    return stream.status();
  }
  Status s =
      (*stream)->Enqueue(CopyDirection::kDeviceToHost, pieces.data(), pieces.size());
  Result<CopyEvent> event = s.ok() ? (*stream)->Record() : Result<CopyEvent>(s);
  s = event.ok() ? (*stream)->Wait(*event) : event.status();
  if (!s.ok()) {
    path_.CountCopyError();
    stream->Discard();
    return IoError("device-to-host copy: " + s.message());
  }
  return s;
}

}  // namespace kvtier::internal
