// CopyEngine: the one seam every CUDA call sits behind. A store reaches
// device memory only through it: streams that copy lists of pieces
// host->device, device->host or device->device asynchronously and in order,
// events that say how far a stream got, and the memory the GPU tier and the
// staging buffers need. Two implementations: CUDA (backends/gpu/
// cuda_copy_engine.cu, in the module libkvtier_cuda.so, loaded only when
// CUDA was built) and a host-memory fake that behaves like a stream
// (backends/testing/fake_copy_engine.h), so every bookkeeping path above
// the seam runs without a GPU.
//
// Errors: a failed copy breaks its stream (as CUDA's sticky errors do):
// Wait() of that event and of every later one returns the failure. Codes:
// IoError for a copy that failed, NotSupported for a runtime without a
// device, ResourceExhausted for memory.
//
// C++17 (no std::span): the CUDA module is compiled as C++17.
//
// Thread safety: CopyEngine is thread-safe. A CopyStream is single-owner:
// one thread at a time enqueues, records and waits on it (the store leases
// a stream per transfer: StreamPool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/gpu/copy_pieces.h"
#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "kvtier/status.h"

namespace kvtier::internal {

enum class CopyDirection : uint8_t {
  kHostToDevice = 0,
  kDeviceToHost = 1,
  kDeviceToDevice = 2,
};
inline const char* CopyDirectionName(CopyDirection direction) {
  switch (direction) {
    case CopyDirection::kHostToDevice:
      return "host-to-device";
    case CopyDirection::kDeviceToHost:
      return "device-to-host";
    case CopyDirection::kDeviceToDevice:
      return "device-to-device";
  }
  return "unknown";
}

// One stored 8-bit segment decoded on the device: `groups` groups of
// `group_values` codes (one byte each) and their float32 scales, all in
// device memory, into `dst` (device memory, groups * group_values elements
// of `dtype`), by the codec math of lib/codec/codec_math.h (the CUDA codec
// kernels; the fake runs the CPU kernels, which give the same bytes).
struct DecodePiece {
  Codec codec = Codec::kInt8;
  DType dtype = DType::kFp16;
  uint32_t group_values = 0;
  size_t groups = 0;
  const uint8_t* codes = nullptr;
  const uint8_t* scales = nullptr;
  void* dst = nullptr;
};

// The inverse, for a save from the engine's device memory into an 8-bit
// GPU tier: `groups` groups of `group_values` elements of `dtype` at `src`
// (device memory) encoded into `codes` (one byte per element) and `scales`
// (one float32 per group), both device memory, by the same codec math: the
// bytes the CPU encoder (lib/codec/codec_kernels.h) makes from that input.
struct EncodePiece {
  Codec codec = Codec::kInt8;
  DType dtype = DType::kFp16;
  uint32_t group_values = 0;
  size_t groups = 0;
  const void* src = nullptr;
  uint8_t* codes = nullptr;
  uint8_t* scales = nullptr;
};

// A point in a stream: done once every copy enqueued before it is.
using CopyEvent = uint64_t;

class CopyStream {
 public:
  virtual ~CopyStream() = default;
  // Enqueues `pieces` (all in `direction`) and returns without waiting,
  // copying them by the method their sizes call for (ChooseCopyMethod: a
  // batched DMA call or a call per contiguous run, or the gather kernel
  // for many small pieces). A refusal to enqueue (bad pointers, a broken
  // stream) is returned here; a copy that fails later is reported by Wait.
  Status Enqueue(CopyDirection direction, const CopyPiece* pieces, size_t count) {
    return EnqueueUsing(ChooseCopyMethod(pieces, count), direction, pieces, count);
  }
  // The same with the method given (benchmarks measure both). kGather on
  // host memory the device cannot reach falls back to DMA.
  virtual Status EnqueueUsing(CopyMethod method, CopyDirection direction,
                              const CopyPiece* pieces, size_t count) = 0;
  // Enqueues `count` decodes, in order with the copies; errors as Enqueue.
  virtual Status EnqueueDecode(const DecodePiece* pieces, size_t count) = 0;
  // Enqueues `count` encodes, in order with the copies; errors as Enqueue.
  virtual Status EnqueueEncode(const EncodePiece* pieces, size_t count) = 0;
  // An event after everything enqueued so far.
  virtual Result<CopyEvent> Record() = 0;
  // True once `event` is done (successfully or not). Never blocks.
  virtual bool Query(CopyEvent event) = 0;
  // Blocks until `event` is done; OK when every copy before it succeeded.
  virtual Status Wait(CopyEvent event) = 0;
};

// Memory the engine allocated (device memory, or pinned host memory), freed
// by its owner's destructor. Move-only. Inline: the CUDA module makes these
// and the library frees them.
class EngineAllocation {
 public:
  EngineAllocation() = default;
  EngineAllocation(std::byte* data, size_t bytes, std::function<void(std::byte*)> free)
      : data_(data), bytes_(bytes), free_(std::move(free)) {}
  ~EngineAllocation() { Reset(); }
  EngineAllocation(EngineAllocation&& o) noexcept { *this = std::move(o); }
  EngineAllocation& operator=(EngineAllocation&& o) noexcept {
    if (this != &o) {
      Reset();
      data_ = o.data_;
      bytes_ = o.bytes_;
      free_ = std::move(o.free_);
      o.data_ = nullptr;
      o.bytes_ = 0;
      o.free_ = nullptr;
    }
    return *this;
  }
  EngineAllocation(const EngineAllocation&) = delete;
  EngineAllocation& operator=(const EngineAllocation&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  void Reset() {
    if (data_ != nullptr && free_) free_(data_);
    data_ = nullptr;
    bytes_ = 0;
    free_ = nullptr;
  }
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
  std::function<void(std::byte*)> free_;
};

class CopyEngine {
 public:
  virtual ~CopyEngine() = default;
  // "cuda" or "fake"; with the device's name where known.
  virtual std::string Describe() const = 0;
  virtual Result<std::unique_ptr<CopyStream>> NewStream() = 0;
  // Device memory on the engine's device (the GPU tier's arena).
  virtual Result<EngineAllocation> AllocateDevice(size_t bytes) = 0;
  // Page-locked host memory the device can DMA (staging buffers).
  virtual Result<EngineAllocation> AllocatePinned(size_t bytes) = 0;
  // Page-locks memory the store already has (the host arena) for DMA until
  // the engine goes away. NotSupported/ResourceExhausted when refused: the
  // copies still work, through the runtime's own staging.
  virtual Status RegisterHost(std::byte* memory, size_t bytes) = 0;
};

// Opens a copy engine on `device`. NotSupported with the reason when this
// build has no CUDA or the runtime finds no usable device.
using CopyEngineFactory = std::function<Result<std::unique_ptr<CopyEngine>>(int device)>;

// The CUDA engine (loads libkvtier_cuda.so; backends/gpu/open_copy_engine.cc).
Result<std::unique_ptr<CopyEngine>> OpenCudaCopyEngine(int device);

// Streams of one engine, leased one per transfer and kept for reuse.
// Thread-safe.
class StreamPool {
 public:
  explicit StreamPool(CopyEngine* engine) : engine_(engine) {}
  class Lease {
   public:
    Lease(StreamPool* pool, std::unique_ptr<CopyStream> stream)
        : pool_(pool), stream_(std::move(stream)) {}
    ~Lease() {
      if (stream_) pool_->Return(std::move(stream_));
    }
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    CopyStream& operator*() const { return *stream_; }
    CopyStream* operator->() const { return stream_.get(); }
    // A stream whose copy failed is not reused (its error is sticky).
    void Discard() { stream_.reset(); }

   private:
    StreamPool* pool_;
    std::unique_ptr<CopyStream> stream_;
  };
  Result<Lease> Take();

 private:
  void Return(std::unique_ptr<CopyStream> stream);
  CopyEngine* const engine_;
  std::mutex mu_;
  std::vector<std::unique_ptr<CopyStream>> free_;  // guarded by mu_
};

}  // namespace kvtier::internal
