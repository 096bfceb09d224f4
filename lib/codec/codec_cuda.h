// Launchers of the CUDA codec kernels (codec_kernels.cu): the same
// encode/decode as CodecKernels, over device memory, built only when CMake
// finds nvcc (target kvtier_cuda_kernels; kvtier never requires it). The
// per-element math is codec_math.h, shared with the CPU kernels, so the GPU
// stores the same bytes as the CPU. No CUDA types here: `stream` is a
// cudaStream_t and the result a cudaError_t (0 = launched).
//
// Thread safety: as any kernel launch on the given stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvtier/layout.h"
#include "kvtier/options.h"

namespace kvtier::internal {

// Device pointers; layouts as EncodeGroupsFn / DecodeGroupsFn
// (codec_kernels.h). Asynchronous on `stream`.
int LaunchCodecEncode(Codec codec, DType dtype, uint32_t group_values, size_t groups,
                      const void* src, uint8_t* codes, uint8_t* scales, void* stream);
int LaunchCodecDecode(Codec codec, DType dtype, uint32_t group_values, size_t groups,
                      const uint8_t* codes, const uint8_t* scales, void* dst,
                      void* stream);

}  // namespace kvtier::internal
