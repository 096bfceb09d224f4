// The CUDA copy engine: CopyEngine over the CUDA runtime, built into the
// module libkvtier_cuda.so only when CMake finds nvcc (libkvtier loads it
// with dlopen, so the library never links the runtime). Every cudaError_t
// becomes a Status here, once (FromCuda).
//
// Copies: pieces are merged into contiguous runs; many small runs go
// through the gather kernel (copy_pieces.h: one warp per piece, at most
// kGatherMaxBlocks blocks); the others through one cudaMemcpyBatchAsync per
// call where the runtime has it (CUDA >= 12.8), else one cudaMemcpyAsync per
// run. Host memory reached by the kernel must be pinned or registered here
// (the kernel reads it through unified addressing); other host memory always
// goes by DMA.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backends/gpu/copy_engine.h"
#include "backends/gpu/copy_pieces.h"
#include "lib/codec/codec_cuda.h"

namespace kvtier::internal {
namespace {

Status FromCuda(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  StatusCode code = StatusCode::kIoError;
  if (e == cudaErrorMemoryAllocation) code = StatusCode::kResourceExhausted;
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
      e == cudaErrorNotSupported || e == cudaErrorInvalidDevice) {
    code = StatusCode::kNotSupported;
  }
  return Status(code,
                what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

__global__ void GatherKernel(const CopyPiece* pieces, size_t count) {
  const uint32_t warps_per_block = blockDim.x / kWarpLanes;
  const uint32_t warps = gridDim.x * warps_per_block;
  const uint32_t warp = blockIdx.x * warps_per_block + threadIdx.x / kWarpLanes;
  CopyPiecesOfWarp(pieces, count, warp, warps, threadIdx.x % kWarpLanes);
}

// Host ranges the device can reach (pinned allocations and registrations).
class PinnedRanges {
 public:
  void Add(const void* p, size_t bytes) {
    std::lock_guard lock(mu_);
    ranges_[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  void Remove(const void* p) {
    std::lock_guard lock(mu_);
    ranges_.erase(reinterpret_cast<uintptr_t>(p));
  }
  bool Covers(const void* p, size_t bytes) const {
    std::lock_guard lock(mu_);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = ranges_.upper_bound(a);
    if (it == ranges_.begin()) return false;
    --it;
    return a + bytes <= it->first + it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<uintptr_t, size_t> ranges_;
};

class CudaStream final : public CopyStream {
 public:
  CudaStream(int device, cudaStream_t stream, const PinnedRanges* pinned)
      : device_(device), stream_(stream), pinned_(pinned) {}
  ~CudaStream() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    for (auto& [seq, ev] : events_) cudaEventDestroy(ev);
    for (auto& d : descriptors_) {
      cudaEventDestroy(d.done);
      cudaFreeHost(d.pieces);
    }
    cudaStreamDestroy(stream_);
  }

  Status EnqueueUsing(CopyMethod method, CopyDirection direction, const CopyPiece* pieces,
                      size_t count) override {
    if (!broken_.ok()) return broken_;
    cudaSetDevice(device_);
    runs_.assign(pieces, pieces + count);
    runs_.resize(CoalesceRuns(runs_.data(), runs_.size(), runs_.data()));
    if (runs_.empty()) return Status::Ok();
    Status s = method == CopyMethod::kGather && KernelReaches(direction) ? Gather()
                                                                         : Dma(direction);
    if (!s.ok()) broken_ = s;
    return s;
  }

  Status EnqueueDecode(const DecodePiece* pieces, size_t count) override {
    if (!broken_.ok()) return broken_;
    cudaSetDevice(device_);
    for (size_t i = 0; i < count; ++i) {
      const DecodePiece& p = pieces[i];
      const int e = LaunchCodecDecode(p.codec, p.dtype, p.group_values, p.groups, p.codes,
                                      p.scales, p.dst, stream_);
      if (Status s = FromCuda(static_cast<cudaError_t>(e), "codec decode kernel");
          !s.ok()) {
        broken_ = s;
        return s;
      }
    }
    return Status::Ok();
  }

  Status EnqueueEncode(const EncodePiece* pieces, size_t count) override {
    if (!broken_.ok()) return broken_;
    cudaSetDevice(device_);
    for (size_t i = 0; i < count; ++i) {
      const EncodePiece& p = pieces[i];
      const int e = LaunchCodecEncode(p.codec, p.dtype, p.group_values, p.groups, p.src,
                                      p.codes, p.scales, stream_);
      if (Status s = FromCuda(static_cast<cudaError_t>(e), "codec encode kernel");
          !s.ok()) {
        broken_ = s;
        return s;
      }
    }
    return Status::Ok();
  }

  Result<CopyEvent> Record() override {
    if (!broken_.ok()) return broken_;
    cudaSetDevice(device_);
    cudaEvent_t ev;
    if (Status s = FromCuda(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming),
                            "cudaEventCreate");
        !s.ok()) {
      return s;
    }
    if (Status s = FromCuda(cudaEventRecord(ev, stream_), "cudaEventRecord"); !s.ok()) {
      cudaEventDestroy(ev);
      broken_ = s;
      return s;
    }
    events_.emplace_back(++last_, ev);
    return last_;
  }

  bool Query(CopyEvent event) override {
    cudaEvent_t ev = Find(event);
    if (ev == nullptr) return true;
    cudaSetDevice(device_);
    return cudaEventQuery(ev) != cudaErrorNotReady;
  }

  Status Wait(CopyEvent event) override {
    cudaEvent_t ev = Find(event);
    if (ev != nullptr) {
      cudaSetDevice(device_);
      Status s = FromCuda(cudaEventSynchronize(ev), "copy on the store's stream");
      if (!s.ok() && broken_.ok()) broken_ = s;
      while (!events_.empty() && events_.front().first <= event) {
        cudaEventDestroy(events_.front().second);
        events_.pop_front();
      }
      ReclaimDescriptors();
    }
    return broken_;
  }

 private:
  struct Descriptors {
    CopyPiece* pieces;
    cudaEvent_t done;
  };

  cudaEvent_t Find(CopyEvent event) const {
    for (const auto& [seq, ev] : events_) {
      if (seq == event) return ev;
    }
    return nullptr;  // waited already (or never recorded): done
  }

  bool KernelReaches(CopyDirection direction) const {
    if (direction == CopyDirection::kDeviceToDevice) return true;
    for (const CopyPiece& r : runs_) {
      const void* host = direction == CopyDirection::kHostToDevice ? r.src : r.dst;
      if (!pinned_->Covers(host, r.bytes)) return false;
    }
    return true;
  }

  // The descriptors live in pinned host memory the kernel reads, until the
  // event after the launch says it ran.
  Status Gather() {
    ReclaimDescriptors();
    Descriptors d{};
    if (Status s = FromCuda(cudaHostAlloc(reinterpret_cast<void**>(&d.pieces),
                                          runs_.size() * sizeof(CopyPiece),
                                          cudaHostAllocMapped | cudaHostAllocPortable),
                            "cudaHostAlloc (gather descriptors)");
        !s.ok()) {
      return s;
    }
    std::memcpy(d.pieces, runs_.data(), runs_.size() * sizeof(CopyPiece));
    if (Status s = Launch(d); !s.ok()) {
      cudaStreamSynchronize(stream_);
      if (d.done != nullptr) cudaEventDestroy(d.done);
      cudaFreeHost(d.pieces);
      return s;
    }
    descriptors_.push_back(d);
    return Status::Ok();
  }

  Status Launch(Descriptors& d) {
    const uint32_t warps = GatherWarps(runs_.size());
    const uint32_t blocks = (warps + kGatherWarpsPerBlock - 1) / kGatherWarpsPerBlock;
    GatherKernel<<<blocks, kGatherWarpsPerBlock * kWarpLanes, 0, stream_>>>(d.pieces,
                                                                            runs_.size());
    if (Status s = FromCuda(cudaGetLastError(), "gather kernel launch"); !s.ok()) {
      return s;
    }
    if (Status s = FromCuda(cudaEventCreateWithFlags(&d.done, cudaEventDisableTiming),
                            "cudaEventCreate");
        !s.ok()) {
      return s;
    }
    return FromCuda(cudaEventRecord(d.done, stream_), "cudaEventRecord");
  }

  void ReclaimDescriptors() {
    while (!descriptors_.empty() &&
           cudaEventQuery(descriptors_.front().done) != cudaErrorNotReady) {
      cudaEventDestroy(descriptors_.front().done);
      cudaFreeHost(descriptors_.front().pieces);
      descriptors_.pop_front();
    }
  }

  Status Dma(CopyDirection direction) {
#if CUDART_VERSION >= 12080
    if (runs_.size() > 1 && batch_works_) {
      Status s = Batch(direction);
      if (s.ok()) return s;
      batch_works_ = false;  // e.g. an older driver: fall back for good
      cudaGetLastError();
    }
#endif
    const cudaMemcpyKind kind =
        direction == CopyDirection::kHostToDevice   ? cudaMemcpyHostToDevice
        : direction == CopyDirection::kDeviceToHost ? cudaMemcpyDeviceToHost
                                                    : cudaMemcpyDeviceToDevice;
    for (const CopyPiece& r : runs_) {
      if (Status s =
              FromCuda(cudaMemcpyAsync(r.dst, r.src, r.bytes, kind, stream_),
                       std::string("cudaMemcpyAsync ") + CopyDirectionName(direction));
          !s.ok()) {
        return s;
      }
    }
    return Status::Ok();
  }

#if CUDART_VERSION >= 12080
  Status Batch(CopyDirection direction) {
    dsts_.clear();
    srcs_.clear();
    sizes_.clear();
    for (const CopyPiece& r : runs_) {
      dsts_.push_back(r.dst);
      srcs_.push_back(const_cast<void*>(r.src));
      sizes_.push_back(r.bytes);
    }
    cudaMemcpyAttributes attr{};
    attr.srcAccessOrder = cudaMemcpySrcAccessOrderStream;
    attr.flags = cudaMemcpyFlagPreferOverlapWithCompute;
    const bool src_device = direction != CopyDirection::kHostToDevice;
    const bool dst_device = direction != CopyDirection::kDeviceToHost;
    attr.srcLocHint.type =
        src_device ? cudaMemLocationTypeDevice : cudaMemLocationTypeHost;
    attr.srcLocHint.id = src_device ? device_ : 0;
    attr.dstLocHint.type =
        dst_device ? cudaMemLocationTypeDevice : cudaMemLocationTypeHost;
    attr.dstLocHint.id = dst_device ? device_ : 0;
    size_t first = 0;
#if CUDART_VERSION >= 13000
    const cudaError_t e = cudaMemcpyBatchAsync(dsts_.data(), srcs_.data(), sizes_.data(),
                                               runs_.size(), &attr, &first, 1, stream_);
#else
    size_t fail = 0;
    const cudaError_t e =
        cudaMemcpyBatchAsync(dsts_.data(), srcs_.data(), sizes_.data(), runs_.size(),
                             &attr, &first, 1, &fail, stream_);
#endif
    return FromCuda(e,
                    std::string("cudaMemcpyBatchAsync ") + CopyDirectionName(direction));
  }
  std::vector<void*> dsts_, srcs_;
  std::vector<size_t> sizes_;
  bool batch_works_ = true;
#endif

  const int device_;
  const cudaStream_t stream_;
  const PinnedRanges* const pinned_;
  Status broken_;
  CopyEvent last_ = 0;
  std::deque<std::pair<CopyEvent, cudaEvent_t>> events_;
  std::deque<Descriptors> descriptors_;
  std::vector<CopyPiece> runs_;
};

class CudaCopyEngine final : public CopyEngine {
 public:
  CudaCopyEngine(int device, std::string name)
      : device_(device), name_(std::move(name)) {}
  ~CudaCopyEngine() override {
    cudaSetDevice(device_);
    for (void* p : registered_) cudaHostUnregister(p);
  }

  std::string Describe() const override {
    return "cuda device " + std::to_string(device_) + " (" + name_ + ")";
  }

  Result<std::unique_ptr<CopyStream>> NewStream() override {
    cudaSetDevice(device_);
    cudaStream_t s;
    if (Status st = FromCuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
                             "cudaStreamCreate");
        !st.ok()) {
      return st;
    }
    return std::unique_ptr<CopyStream>(new CudaStream(device_, s, &pinned_));
  }

  Result<EngineAllocation> AllocateDevice(size_t bytes) override {
    cudaSetDevice(device_);
    void* p = nullptr;
    if (Status s = FromCuda(cudaMalloc(&p, bytes),
                            "cudaMalloc of " + std::to_string(bytes) + " bytes");
        !s.ok()) {
      return s;
    }
    const int device = device_;
    return EngineAllocation(static_cast<std::byte*>(p), bytes, [device](std::byte* q) {
      cudaSetDevice(device);
      cudaFree(q);
    });
  }

  Result<EngineAllocation> AllocatePinned(size_t bytes) override {
    cudaSetDevice(device_);
    void* p = nullptr;
    if (Status s = FromCuda(
            cudaHostAlloc(&p, bytes, cudaHostAllocPortable | cudaHostAllocMapped),
            "cudaHostAlloc of " + std::to_string(bytes) + " bytes");
        !s.ok()) {
      return s;
    }
    pinned_.Add(p, bytes);
    PinnedRanges* ranges = &pinned_;
    return EngineAllocation(static_cast<std::byte*>(p), bytes, [ranges](std::byte* q) {
      ranges->Remove(q);
      cudaFreeHost(q);
    });
  }

  Status RegisterHost(std::byte* memory, size_t bytes) override {
    cudaSetDevice(device_);
    if (Status s =
            FromCuda(cudaHostRegister(memory, bytes,
                                      cudaHostRegisterPortable | cudaHostRegisterMapped),
                     "cudaHostRegister of " + std::to_string(bytes) + " bytes");
        !s.ok()) {
      return s;
    }
    std::lock_guard lock(mu_);
    registered_.push_back(memory);
    pinned_.Add(memory, bytes);
    return Status::Ok();
  }

 private:
  const int device_;
  const std::string name_;
  PinnedRanges pinned_;
  std::mutex mu_;
  std::vector<void*> registered_;
};

Status Open(int device, CopyEngine** out) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return NotSupported(std::string("no usable CUDA device: the CUDA runtime says ") +
                        cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
  }
  if (count == 0) return NotSupported("no usable CUDA device: the runtime sees none");
  if (device < 0 || device >= count) {
    return InvalidArgument("options.gpu.device: " + std::to_string(device) +
                           ", the CUDA runtime sees " + std::to_string(count) +
                           " device(s)");
  }
  cudaDeviceProp prop{};
  if (Status s =
          FromCuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
      !s.ok()) {
    return s;
  }
  if (Status s = FromCuda(cudaSetDevice(device), "cudaSetDevice"); !s.ok()) return s;
  *out = new CudaCopyEngine(device, prop.name);
  return Status::Ok();
}

}  // namespace
}  // namespace kvtier::internal

// The module's one entry point (backends/gpu/open_copy_engine.cc).
extern "C" __attribute__((visibility("default"))) int kvtier_cuda_open_copy_engine(
    int device, kvtier::internal::CopyEngine** out, char* message, size_t message_bytes) {
  const kvtier::Status s = kvtier::internal::Open(device, out);
  if (!s.ok() && message_bytes > 0) {
    std::snprintf(message, message_bytes, "%s", s.message().c_str());
  }
  return static_cast<int>(s.code());
}
