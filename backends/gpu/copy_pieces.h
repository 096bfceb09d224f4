// The math of copying lists of pieces, shared by the CUDA engine (its
// kernels and its DMA calls) and the host-memory fake, which runs these same
// functions on the CPU so the tests exercise them: merging pieces into
// contiguous runs, choosing DMA or the gather kernel by piece size, and how
// the gather kernel's warps share out the pieces (one warp per piece, lanes
// striding over 16-byte words).
//
// No std and no CUDA types: this header compiles as host code and as device
// code (KVTIER_HD is __host__ __device__ under nvcc).
#pragma once

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define KVTIER_HD __host__ __device__
#else
#define KVTIER_HD
#endif

namespace kvtier::internal {

// One contiguous copy. Host memory must be pinned or registered with the
// engine (CopyEngine::AllocatePinned, RegisterHost) for the copy to be a
// DMA or for the gather kernel to reach it; the fake accepts any memory.
struct CopyPiece {
  const void* src = nullptr;
  void* dst = nullptr;
  size_t bytes = 0;
};

// How a list of pieces is copied.
enum class CopyMethod : uint8_t {
  kDma = 0,     // the copy engines: one batched call, or a call per run
  kGather = 1,  // one kernel launch, a warp per piece
};

// Pieces below this size (on average) go through the gather kernel: a DMA
// call per piece of tens of KiB leaves the copy engine idle between calls
// (vLLM measured 4-5x below contiguous copies). To be tuned on a GPU with
// scripts/gpu-check.sh, which measures both methods.
inline constexpr size_t kGatherBelowBytes = size_t{256} << 10;
// Fewer pieces than this are not worth a kernel launch.
inline constexpr size_t kGatherMinPieces = 8;
// The gather kernel's bound on SMs (blocks of kGatherWarpsPerBlock warps),
// so the model's kernels keep the rest of the GPU.
inline constexpr uint32_t kGatherMaxBlocks = 8;
inline constexpr uint32_t kGatherWarpsPerBlock = 8;
inline constexpr uint32_t kWarpLanes = 32;

KVTIER_HD inline CopyMethod ChooseCopyMethod(const CopyPiece* pieces, size_t count) {
  if (count < kGatherMinPieces) return CopyMethod::kDma;
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += pieces[i].bytes;
  return total / count < kGatherBelowBytes ? CopyMethod::kGather : CopyMethod::kDma;
}

// True when `b` continues `a` at both ends: one copy can do both.
KVTIER_HD inline bool Continues(const CopyPiece& a, const CopyPiece& b) {
  return static_cast<const char*>(a.src) + a.bytes == b.src &&
         static_cast<char*>(a.dst) + a.bytes == b.dst;
}

// Merges consecutive pieces that continue each other into runs, in order,
// skipping empty pieces. Writes at most `count` runs to `runs`; returns how
// many. `runs` may be `pieces` itself.
KVTIER_HD inline size_t CoalesceRuns(const CopyPiece* pieces, size_t count,
                                     CopyPiece* runs) {
  size_t n = 0;
  for (size_t i = 0; i < count; ++i) {
    const CopyPiece p = pieces[i];
    if (p.bytes == 0) continue;
    if (n > 0 && Continues(runs[n - 1], p)) {
      runs[n - 1].bytes += p.bytes;
    } else {
      runs[n++] = p;
    }
  }
  return n;
}

// Lane `lane` of a warp of `lanes` copies its share of `piece`: the 16-byte
// words i with i % lanes == lane when both ends are 16-byte aligned, and
// the bytes after them (all bytes when unaligned) the same way. Lanes write disjoint
// bytes, so they may run in any order (or, on the CPU, one after another).
KVTIER_HD inline void CopyPieceLane(const CopyPiece& piece, uint32_t lane,
                                    uint32_t lanes) {
  const unsigned char* src = static_cast<const unsigned char*>(piece.src);
  unsigned char* dst = static_cast<unsigned char*>(piece.dst);
  const bool aligned =
      ((reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst)) & 15u) == 0;
  size_t done = 0;
  if (aligned) {
    struct alignas(16) Word {
      uint64_t lo, hi;
    };
    const size_t words = piece.bytes / 16;
    const Word* s = reinterpret_cast<const Word*>(src);
    Word* d = reinterpret_cast<Word*>(dst);
    for (size_t w = lane; w < words; w += lanes) d[w] = s[w];
    done = words * 16;
  }
  for (size_t i = done + lane; i < piece.bytes; i += lanes) dst[i] = src[i];
}

// The pieces warp `warp` of `warps` copies: warp, warp + warps, ... (one
// warp per piece at a time). The kernel runs this with its grid; the fake
// with a loop over warps and lanes.
KVTIER_HD inline void CopyPiecesOfWarp(const CopyPiece* pieces, size_t count,
                                       uint32_t warp, uint32_t warps, uint32_t lane) {
  for (size_t p = warp; p < count; p += warps) CopyPieceLane(pieces[p], lane, kWarpLanes);
}

// Warps the gather kernel launches for `count` pieces: one per piece, at most
// kGatherMaxBlocks * kGatherWarpsPerBlock.
KVTIER_HD inline uint32_t GatherWarps(size_t count) {
  const size_t most = size_t{kGatherMaxBlocks} * kGatherWarpsPerBlock;
  return static_cast<uint32_t>(count < most ? count : most);
}

}  // namespace kvtier::internal
