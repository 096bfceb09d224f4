// The scalar codec kernels: one element at a time through codec_math.h.
// Built for the baseline x86-64 ISA without auto-vectorization (see
// CMakeLists.txt): the reference the AVX2 kernels must match byte for byte,
// and the path a CPU without AVX2 runs.
#include <cassert>
#include <cstring>

#include "lib/codec/codec_kernels.h"
#include "lib/codec/codec_math.h"

namespace kvtier::internal {
namespace {

using namespace codec;  // NOLINT: the math's short names read better here

template <DType D>
float LoadValue(const uint8_t* p) {
  if constexpr (D == DType::kFp32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  } else {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return D == DType::kFp16 ? HalfToFloat(h) : Bf16ToFloat(h);
  }
}

template <DType D>
void StoreValue(uint8_t* p, float v) {
  if constexpr (D == DType::kFp32) {
    std::memcpy(p, &v, 4);
  } else {
    const uint16_t h = D == DType::kFp16 ? FloatToHalf(v) : FloatToBf16(v);
    std::memcpy(p, &h, 2);
  }
}

template <DType D>
constexpr size_t kElemBytes = D == DType::kFp32 ? 4 : 2;

template <DType D, Codec C>
void EncodeT(uint32_t n, size_t groups, const uint8_t* src, uint8_t* codes,
             uint8_t* scales) {
  for (size_t g = 0; g < groups; ++g, src += n * kElemBytes<D>, codes += n) {
    float m = 0.0f;
    for (uint32_t i = 0; i < n; ++i) {
      const float a = FiniteAbs(LoadValue<D>(src + i * kElemBytes<D>));
      m = a > m ? a : m;
    }
    const float absmax = GroupAbsmax(m);
    const float scale = C == Codec::kInt8 ? Int8Scale(absmax) : Fp8Scale(absmax);
    const float inv = C == Codec::kInt8 ? Int8Inverse(absmax) : Fp8Inverse(absmax);
    std::memcpy(scales + 4 * g, &scale, 4);
    for (uint32_t i = 0; i < n; ++i) {
      const float x = LoadValue<D>(src + i * kElemBytes<D>);
      codes[i] = C == Codec::kInt8 ? static_cast<uint8_t>(QuantizeInt8(x, inv))
                                   : QuantizeFp8(x, inv);
    }
  }
}

template <DType D, Codec C>
void DecodeT(uint32_t n, size_t groups, const uint8_t* codes, const uint8_t* scales,
             uint8_t* dst) {
  for (size_t g = 0; g < groups; ++g, dst += n * kElemBytes<D>, codes += n) {
    float scale;
    std::memcpy(&scale, scales + 4 * g, 4);
    for (uint32_t i = 0; i < n; ++i) {
      const float v = C == Codec::kInt8
                          ? DequantizeInt8(static_cast<int8_t>(codes[i]), scale)
                          : DequantizeFp8(codes[i], scale);
      StoreValue<D>(dst + i * kElemBytes<D>, v);
    }
  }
}

template <Codec C>
void EncodeCodec(DType dtype, uint32_t n, size_t groups, const uint8_t* src,
                 uint8_t* codes, uint8_t* scales) {
  switch (dtype) {
    case DType::kFp16:
      return EncodeT<DType::kFp16, C>(n, groups, src, codes, scales);
    case DType::kBf16:
      return EncodeT<DType::kBf16, C>(n, groups, src, codes, scales);
    case DType::kFp32:
      return EncodeT<DType::kFp32, C>(n, groups, src, codes, scales);
    case DType::kFp8E4M3:
      break;
  }
  assert(false && "8-bit codecs take fp16, bf16 or fp32 sources");
}

template <Codec C>
void DecodeCodec(DType dtype, uint32_t n, size_t groups, const uint8_t* codes,
                 const uint8_t* scales, uint8_t* dst) {
  switch (dtype) {
    case DType::kFp16:
      return DecodeT<DType::kFp16, C>(n, groups, codes, scales, dst);
    case DType::kBf16:
      return DecodeT<DType::kBf16, C>(n, groups, codes, scales, dst);
    case DType::kFp32:
      return DecodeT<DType::kFp32, C>(n, groups, codes, scales, dst);
    case DType::kFp8E4M3:
      break;
  }
  assert(false && "8-bit codecs take fp16, bf16 or fp32 sources");
}

void Encode(Codec codec, DType dtype, uint32_t n, size_t groups, const void* src,
            uint8_t* codes, uint8_t* scales) {
  const auto* s = static_cast<const uint8_t*>(src);
  if (codec == Codec::kInt8) {
    EncodeCodec<Codec::kInt8>(dtype, n, groups, s, codes, scales);
  } else {
    assert(codec == Codec::kFp8);
    EncodeCodec<Codec::kFp8>(dtype, n, groups, s, codes, scales);
  }
}

void Decode(Codec codec, DType dtype, uint32_t n, size_t groups, const uint8_t* codes,
            const uint8_t* scales, void* dst) {
  auto* d = static_cast<uint8_t*>(dst);
  if (codec == Codec::kInt8) {
    DecodeCodec<Codec::kInt8>(dtype, n, groups, codes, scales, d);
  } else {
    assert(codec == Codec::kFp8);
    DecodeCodec<Codec::kFp8>(dtype, n, groups, codes, scales, d);
  }
}

constexpr CodecKernels kScalarKernels{"scalar", Encode, Decode};

}  // namespace

const CodecKernels& ScalarCodecKernels() { return kScalarKernels; }

}  // namespace kvtier::internal
