// The AVX2+F16C codec kernels: eight elements per instruction, the same
// operations in the same order as codec_math.h, so the bytes match the
// scalar kernels exactly. Compiled with -mavx2 -mf16c -mfma (this file
// only); called only after CPUID said yes (codec_dispatch.cc).
#if defined(__x86_64__)

#include <immintrin.h>

#include <cstring>

#include "lib/codec/codec_kernels.h"
#include "lib/codec/codec_math.h"

namespace kvtier::internal {
namespace {

using namespace codec;  // NOLINT: the math's short names read better here

template <DType D>
constexpr size_t kElemBytes = D == DType::kFp32 ? 4 : 2;

// ---- eight values in, eight values out -------------------------------------------

template <DType D>
inline __m256 Load8(const uint8_t* p) {
  if constexpr (D == DType::kFp32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (D == DType::kFp16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType D>
inline void Store8(uint8_t* p, __m256 v) {
  if constexpr (D == DType::kFp32) {
    _mm256_storeu_ps(reinterpret_cast<float*>(p), v);
  } else if constexpr (D == DType::kFp16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {
    // FloatToBf16 without its NaN branch: decoded values are never NaN.
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb), 16);
    const __m128i packed =
        _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
}

template <DType D>
inline float LoadValue(const uint8_t* p) {
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
inline void StoreValue(uint8_t* p, float v) {
  if constexpr (D == DType::kFp32) {
    std::memcpy(p, &v, 4);
  } else {
    const uint16_t h = D == DType::kFp16 ? FloatToHalf(v) : FloatToBf16(v);
    std::memcpy(p, &h, 2);
  }
}

// ---- the group scale ----------------------------------------------------------

// The group's largest |x| as float bits: for non-negative floats, integer
// order is float order, and NaN/Inf compare above every finite value, so
// one integer max per eight values finds both the absmax and whether the
// group holds anything non-finite.
template <DType D>
uint32_t MaxAbsBits(const uint8_t* src, uint32_t n) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF);
  __m256i m = _mm256_setzero_si256();
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i a = _mm256_and_si256(
        _mm256_castps_si256(Load8<D>(src + i * kElemBytes<D>)), abs_mask);
    m = _mm256_max_epi32(m, a);
  }
  __m128i h = _mm_max_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
  h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0x4E));
  h = _mm_max_epi32(h, _mm_shuffle_epi32(h, 0xB1));
  uint32_t bits = static_cast<uint32_t>(_mm_cvtsi128_si32(h));
  for (; i < n; ++i) {
    const uint32_t a = FloatBits(LoadValue<D>(src + i * kElemBytes<D>)) & 0x7FFFFFFFu;
    bits = a > bits ? a : bits;
  }
  return bits;
}

// FiniteAbs and the max over a group that holds NaN or Inf (rare).
template <DType D>
float FiniteAbsmaxSlow(const uint8_t* src, uint32_t n) {
  float m = 0.0f;
  for (uint32_t i = 0; i < n; ++i) {
    const float a = FiniteAbs(LoadValue<D>(src + i * kElemBytes<D>));
    m = a > m ? a : m;
  }
  return m;
}

// ScaleAndClamp, eight lanes, for groups that hold NaN or Inf.
inline __m256 ScaleClamp(__m256 x, __m256 inv, float limit) {
  __m256 p = _mm256_mul_ps(x, inv);
  p = _mm256_and_ps(p, _mm256_cmp_ps(p, p, _CMP_ORD_Q));  // NaN -> +0
  return _mm256_min_ps(_mm256_max_ps(p, _mm256_set1_ps(-limit)), _mm256_set1_ps(limit));
}

// ---- int8 ---------------------------------------------------------------------

// Rounded code values as int32. cvtps rounds to nearest even (the default
// MXCSR), exactly as RoundEven does for |p| <= 127.
inline __m256i Int8Codes8(__m256 p) { return _mm256_cvtps_epi32(p); }

// Eight int32 lanes to eight bytes: int8 codes (-127..127) pack with signed
// saturation, FP8 codes (0..254) with unsigned; neither ever saturates.
template <Codec C>
inline void StoreBytes8(uint8_t* out, __m256i v) {
  const __m128i w =
      _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i b = C == Codec::kInt8 ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), b);
}

// 4 x 8 int32 lanes to 32 bytes, in order.
template <Codec C>
inline void StoreBytes32(uint8_t* out, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i bytes =
      C == Codec::kInt8 ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7 -> a b c d
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_permutevar8x32_epi32(bytes, order));
}

// ---- FP8 E4M3 -----------------------------------------------------------------

// FloatToE4M3, eight lanes, letting the float adder do the rounding: with
// E = max(exponent field of |y|, that of 2^-6) and m = 2^(E - 127 + 20),
// |y| + m rounds |y| to the E4M3 grid at |y|'s binade (ulp 2^(E-127-3);
// the clamp at 2^-6 gives the subnormal grid 2^-9), ties to even, and
// bits(|y| + m) - bits(m) = k is |y| in those ulps. The code is then
// ((E - 121) << 3) + k, carries included. Same result as FloatToE4M3's
// integer rounding (tests compare every path).
// REQUIRES |y| <= 448.0001 (ScaleAndClamp's result, or the product of a
// finite group's value and its inverse scale: both round to at most 0x7E).
inline __m256i Fp8Codes8(__m256 y) {
  const __m256i u = _mm256_castps_si256(y);
  const __m256 a = _mm256_and_ps(y, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  const __m256i e = _mm256_max_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7F800000)),
                                     _mm256_set1_epi32(121 << 23));
  const __m256i m = _mm256_add_epi32(e, _mm256_set1_epi32(20 << 23));
  const __m256i k =
      _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(a, _mm256_castsi256_ps(m))), m);
  const __m256i code = _mm256_add_epi32(
      _mm256_sub_epi32(_mm256_srli_epi32(e, 20), _mm256_set1_epi32(121 << 3)), k);
  const __m256i sign =
      _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80));
  return _mm256_or_si256(code, sign);
}

inline __m256 Fp8Values8(__m128i codes8) {  // E4M3ToFloat, eight lanes
  const __m256i c = _mm256_cvtepu8_epi32(codes8);
  const __m256i m = _mm256_and_si256(c, _mm256_set1_epi32(0x7F));
  const __m256i sign =
      _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 24);
  const __m256 normal = _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_slli_epi32(m, 20), _mm256_set1_epi32(120 << 23)));
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(0x1p-9f));
  const __m256 is_normal =
      _mm256_castsi256_ps(_mm256_cmpgt_epi32(m, _mm256_set1_epi32(7)));
  return _mm256_or_ps(_mm256_blendv_ps(sub, normal, is_normal),
                      _mm256_castsi256_ps(sign));
}

// ---- group loops ------------------------------------------------------------------

template <Codec C>
inline __m256i Codes8(__m256 p) {
  return C == Codec::kInt8 ? Int8Codes8(p) : Fp8Codes8(p);
}

// One group whose values are all finite: |x * inv| cannot pass the code
// range or be NaN, so ScaleAndClamp is a plain multiply.
template <DType D, Codec C>
void QuantizeFinite(const uint8_t* src, uint32_t n, float inv, uint8_t* codes) {
  const __m256 vinv = _mm256_set1_ps(inv);
  auto codes8 = [&](uint32_t i) {
    return Codes8<C>(_mm256_mul_ps(Load8<D>(src + i * kElemBytes<D>), vinv));
  };
  uint32_t i = 0;
  for (; i + 32 <= n; i += 32) {
    StoreBytes32<C>(codes + i, codes8(i), codes8(i + 8), codes8(i + 16), codes8(i + 24));
  }
  for (; i + 8 <= n; i += 8) StoreBytes8<C>(codes + i, codes8(i));
  for (; i < n; ++i) {
    const float x = LoadValue<D>(src + i * kElemBytes<D>);
    codes[i] = C == Codec::kInt8 ? static_cast<uint8_t>(QuantizeInt8(x, inv))
                                 : QuantizeFp8(x, inv);
  }
}

// One group holding NaN or Inf: the full rule.
template <DType D, Codec C>
void QuantizeAny(const uint8_t* src, uint32_t n, float inv, uint8_t* codes) {
  const __m256 vinv = _mm256_set1_ps(inv);
  const float limit = C == Codec::kInt8 ? kInt8Max : kFp8Max;
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 p = ScaleClamp(Load8<D>(src + i * kElemBytes<D>), vinv, limit);
    StoreBytes8<C>(codes + i, Codes8<C>(p));
  }
  for (; i < n; ++i) {
    const float x = LoadValue<D>(src + i * kElemBytes<D>);
    codes[i] = C == Codec::kInt8 ? static_cast<uint8_t>(QuantizeInt8(x, inv))
                                 : QuantizeFp8(x, inv);
  }
}

template <DType D, Codec C>
void EncodeT(uint32_t n, size_t groups, const uint8_t* src, uint8_t* codes,
             uint8_t* scales) {
  for (size_t g = 0; g < groups; ++g, src += n * kElemBytes<D>, codes += n) {
    const uint32_t max_bits = MaxAbsBits<D>(src, n);
    const bool finite = max_bits < 0x7F800000u;
    const float absmax =
        GroupAbsmax(finite ? BitsFloat(max_bits) : FiniteAbsmaxSlow<D>(src, n));
    const float scale = C == Codec::kInt8 ? Int8Scale(absmax) : Fp8Scale(absmax);
    const float inv = C == Codec::kInt8 ? Int8Inverse(absmax) : Fp8Inverse(absmax);
    std::memcpy(scales + 4 * g, &scale, 4);
    if (finite) {
      QuantizeFinite<D, C>(src, n, inv, codes);
    } else {
      QuantizeAny<D, C>(src, n, inv, codes);
    }
  }
}

template <DType D, Codec C>
void DecodeT(uint32_t n, size_t groups, const uint8_t* codes, const uint8_t* scales,
             uint8_t* dst) {
  for (size_t g = 0; g < groups; ++g, dst += n * kElemBytes<D>, codes += n) {
    float scale;
    std::memcpy(&scale, scales + 4 * g, 4);
    const __m256 vscale = _mm256_set1_ps(scale);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m128i c8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i));
      const __m256 v = C == Codec::kInt8 ? _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c8))
                                         : Fp8Values8(c8);
      Store8<D>(dst + i * kElemBytes<D>, _mm256_mul_ps(v, vscale));
    }
    for (; i < n; ++i) {
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
      break;  // refused by BlockCodec; nothing to do
  }
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
}

void Encode(Codec codec, DType dtype, uint32_t n, size_t groups, const void* src,
            uint8_t* codes, uint8_t* scales) {
  const auto* s = static_cast<const uint8_t*>(src);
  if (codec == Codec::kInt8) {
    EncodeCodec<Codec::kInt8>(dtype, n, groups, s, codes, scales);
  } else {
    EncodeCodec<Codec::kFp8>(dtype, n, groups, s, codes, scales);
  }
}

void Decode(Codec codec, DType dtype, uint32_t n, size_t groups, const uint8_t* codes,
            const uint8_t* scales, void* dst) {
  auto* d = static_cast<uint8_t*>(dst);
  if (codec == Codec::kInt8) {
    DecodeCodec<Codec::kInt8>(dtype, n, groups, codes, scales, d);
  } else {
    DecodeCodec<Codec::kFp8>(dtype, n, groups, codes, scales, d);
  }
}

}  // namespace

// Read only by codec_dispatch.cc, after its CPUID check.
extern const CodecKernels kAvx2CodecKernels;
const CodecKernels kAvx2CodecKernels{"avx2", Encode, Decode};

}  // namespace kvtier::internal

#endif  // __x86_64__
