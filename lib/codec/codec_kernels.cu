// CUDA encode/decode kernels of the 8-bit codecs: one warp per (token,
// head) group for encode (warp-wide absmax), one thread per value for
// decode. Every value goes through the codec_math.h functions the CPU
// kernels use; built with --fmad=false so no multiply is fused into an add
// the CPU does not fuse.
#include <cuda_runtime.h>

#include "lib/codec/codec_cuda.h"
#include "lib/codec/codec_math.h"

namespace kvtier::internal {
namespace {

using namespace codec;  // NOLINT: the math's short names read better here

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;

template <DType D>
__device__ __forceinline__ float LoadValue(const uint8_t* src, size_t i) {
  if constexpr (D == DType::kFp32) {
    float f;
    memcpy(&f, src + 4 * i, 4);
    return f;
  } else {
    uint16_t h;
    memcpy(&h, src + 2 * i, 2);
    return D == DType::kFp16 ? HalfToFloat(h) : Bf16ToFloat(h);
  }
}

template <DType D>
__device__ __forceinline__ void StoreValue(uint8_t* dst, size_t i, float v) {
  if constexpr (D == DType::kFp32) {
    memcpy(dst + 4 * i, &v, 4);
  } else {
    const uint16_t h = D == DType::kFp16 ? FloatToHalf(v) : FloatToBf16(v);
    memcpy(dst + 2 * i, &h, 2);
  }
}

template <DType D, Codec C>
__global__ void EncodeKernel(uint32_t n, size_t groups, const uint8_t* src,
                             uint8_t* codes, uint8_t* scales) {
  const size_t g = size_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / kWarp;
  const uint32_t lane = threadIdx.x % kWarp;
  if (g >= groups) return;  // whole warps leave together
  const size_t base = g * n;
  float m = 0.0f;
  for (uint32_t i = lane; i < n; i += kWarp) {
    const float a = FiniteAbs(LoadValue<D>(src, base + i));
    m = a > m ? a : m;
  }
  for (int off = kWarp / 2; off > 0; off /= 2) {
    const float o = __shfl_xor_sync(0xFFFFFFFFu, m, off);
    m = o > m ? o : m;  // max is exact: any order gives the CPU's result
  }
  const float absmax = GroupAbsmax(m);
  const float inv = C == Codec::kInt8 ? Int8Inverse(absmax) : Fp8Inverse(absmax);
  if (lane == 0) {
    const float scale = C == Codec::kInt8 ? Int8Scale(absmax) : Fp8Scale(absmax);
    memcpy(scales + 4 * g, &scale, 4);
  }
  for (uint32_t i = lane; i < n; i += kWarp) {
    const float x = LoadValue<D>(src, base + i);
    codes[base + i] = C == Codec::kInt8 ? static_cast<uint8_t>(QuantizeInt8(x, inv))
                                        : QuantizeFp8(x, inv);
  }
}

template <DType D, Codec C>
__global__ void DecodeKernel(uint32_t n, size_t values, const uint8_t* codes,
                             const uint8_t* scales, uint8_t* dst) {
  const size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= values) return;
  float scale;
  memcpy(&scale, scales + 4 * (i / n), 4);
  const float v = C == Codec::kInt8 ? DequantizeInt8(static_cast<int8_t>(codes[i]), scale)
                                    : DequantizeFp8(codes[i], scale);
  StoreValue<D>(dst, i, v);
}

template <DType D, Codec C>
cudaError_t Encode(uint32_t n, size_t groups, const void* src, uint8_t* codes,
                   uint8_t* scales, cudaStream_t stream) {
  const unsigned blocks =
      static_cast<unsigned>((groups + kWarpsPerBlock - 1) / kWarpsPerBlock);
  EncodeKernel<D, C><<<blocks, kWarp * kWarpsPerBlock, 0, stream>>>(
      n, groups, static_cast<const uint8_t*>(src), codes, scales);
  return cudaGetLastError();
}

template <DType D, Codec C>
cudaError_t Decode(uint32_t n, size_t groups, const uint8_t* codes, const uint8_t* scales,
                   void* dst, cudaStream_t stream) {
  const size_t values = groups * n;
  constexpr unsigned kThreads = 256;
  const unsigned blocks = static_cast<unsigned>((values + kThreads - 1) / kThreads);
  DecodeKernel<D, C><<<blocks, kThreads, 0, stream>>>(n, values, codes, scales,
                                                      static_cast<uint8_t*>(dst));
  return cudaGetLastError();
}

template <Codec C>
cudaError_t EncodeFor(DType dtype, uint32_t n, size_t groups, const void* src,
                      uint8_t* codes, uint8_t* scales, cudaStream_t s) {
  switch (dtype) {
    case DType::kFp16:
      return Encode<DType::kFp16, C>(n, groups, src, codes, scales, s);
    case DType::kBf16:
      return Encode<DType::kBf16, C>(n, groups, src, codes, scales, s);
    case DType::kFp32:
      return Encode<DType::kFp32, C>(n, groups, src, codes, scales, s);
    default:
      return cudaErrorInvalidValue;
  }
}

template <Codec C>
cudaError_t DecodeFor(DType dtype, uint32_t n, size_t groups, const uint8_t* codes,
                      const uint8_t* scales, void* dst, cudaStream_t s) {
  switch (dtype) {
    case DType::kFp16:
      return Decode<DType::kFp16, C>(n, groups, codes, scales, dst, s);
    case DType::kBf16:
      return Decode<DType::kBf16, C>(n, groups, codes, scales, dst, s);
    case DType::kFp32:
      return Decode<DType::kFp32, C>(n, groups, codes, scales, dst, s);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace

int LaunchCodecEncode(Codec codec, DType dtype, uint32_t group_values, size_t groups,
                      const void* src, uint8_t* codes, uint8_t* scales, void* stream) {
  if (groups == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (codec) {
    case Codec::kInt8:
      return EncodeFor<Codec::kInt8>(dtype, group_values, groups, src, codes, scales, s);
    case Codec::kFp8:
      return EncodeFor<Codec::kFp8>(dtype, group_values, groups, src, codes, scales, s);
    default:
      return cudaErrorInvalidValue;
  }
}

int LaunchCodecDecode(Codec codec, DType dtype, uint32_t group_values, size_t groups,
                      const uint8_t* codes, const uint8_t* scales, void* dst,
                      void* stream) {
  if (groups == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (codec) {
    case Codec::kInt8:
      return DecodeFor<Codec::kInt8>(dtype, group_values, groups, codes, scales, dst, s);
    case Codec::kFp8:
      return DecodeFor<Codec::kFp8>(dtype, group_values, groups, codes, scales, dst, s);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace kvtier::internal
