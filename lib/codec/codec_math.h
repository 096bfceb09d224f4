// The per-element math of the 8-bit codecs: fp16/bf16 <-> float, the group
// scale, int8 and FP8 E4M3 quantization. Shared verbatim by the scalar path,
// the AVX2 path (for group tails and scales) and the CUDA kernels, so every
// path computes the same bytes.
//
// Rules every path follows (pinned by tests/codec_test.cc):
//  - A group's absmax is the largest |x| over its *finite* values.
//  - absmax below kMinAbsmax (2^-100) counts as 0: scale 0, every code a zero,
//    so an all-zero group decodes to exact zeros and never to NaN (fp8 keeps
//    the sign of a negative value as -0).
//  - x is quantized as x * inv (inv = 127/absmax or 448/absmax; 0 when the
//    scale is 0). A NaN product (NaN input; Inf times inv 0) becomes 0; the
//    product is clamped to +-127 (int8) or +-448 (fp8), so +-Inf saturates
//    to the group's +-absmax.
//  - Rounding is to nearest, ties to even, done with explicit integer or
//    power-of-two arithmetic so the result never depends on the ISA.
//  - Decoded value = code value * scale (one float multiply), converted to
//    the engine's dtype with round-to-nearest-even.
// Assumes the default floating-point environment (round to nearest, no
// flush-to-zero), as the engine's own kernels do.
#pragma once

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define KVTIER_HD __host__ __device__
#else
#define KVTIER_HD
#endif

// static: every translation unit keeps its own copy. The scalar file is
// compiled for the baseline ISA and the AVX2 file with -mavx2; with external
// linkage the linker could hand the scalar path an AVX2-compiled copy.
#define KVTIER_CODEC_FN static inline KVTIER_HD

namespace kvtier::internal::codec {

inline constexpr float kInt8Max = 127.0f;
inline constexpr float kFp8Max = 448.0f;        // largest finite E4M3 (OCP "E4M3FN")
inline constexpr float kMinAbsmax = 0x1p-100f;  // smaller groups are stored as zeros

KVTIER_CODEC_FN uint32_t FloatBits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

KVTIER_CODEC_FN float BitsFloat(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

// Round to nearest integer, ties to even, for |p| < 2^22: adding 1.5 * 2^23
// leaves no fraction bits, so the add itself rounds (IEEE, ties to even).
KVTIER_CODEC_FN float RoundEven(float p) {
  const float kMagic = 12582912.0f;
  return (p + kMagic) - kMagic;
}

// ---- dtype conversions ------------------------------------------------------

KVTIER_CODEC_FN float HalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FFu;
  if (exp == 0x1F) return BitsFloat(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  // Zero or subnormal: mant * 2^-24, exact in float.
  return BitsFloat(sign | FloatBits(static_cast<float>(mant) * 0x1p-24f));
}

// Round to nearest even, as F16C's vcvtps2ph with _MM_FROUND_TO_NEAREST_INT.
KVTIER_CODEC_FN uint16_t FloatToHalf(float f) {
  const uint32_t bits = FloatBits(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t x = bits & 0x7FFFFFFFu;
  if (x > 0x7F800000u)
    return static_cast<uint16_t>(sign | 0x7E00u | ((x >> 13) & 0x3FFu));
  if (x >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520: Inf
  if (x >= 0x38800000u) {  // a normal half (>= 2^-14)
    const uint32_t r = x + 0xFFFu + ((x >> 13) & 1u) - (112u << 23);
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  // Subnormal half: x * 2^24 is exact; its rounding gives the mantissa (1024
  // carries into the smallest normal, which is the right code).
  const float m = RoundEven(BitsFloat(x) * 0x1p24f);
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(m));
}

KVTIER_CODEC_FN float Bf16ToFloat(uint16_t b) { return BitsFloat(uint32_t{b} << 16); }

KVTIER_CODEC_FN uint16_t FloatToBf16(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// ---- group scale --------------------------------------------------------------

// |x| when x is finite, else 0: NaN and Inf never set a group's scale.
KVTIER_CODEC_FN float FiniteAbs(float x) {
  const float a = BitsFloat(FloatBits(x) & 0x7FFFFFFFu);
  return a <= 0x1.fffffep127f ? a : 0.0f;  // false for Inf and NaN
}

// The absmax a group is scaled by: its finite absmax, or 0 when tiny.
KVTIER_CODEC_FN float GroupAbsmax(float finite_absmax) {
  return finite_absmax < kMinAbsmax ? 0.0f : finite_absmax;
}

// The stored scale (decoded = code value * scale) for a group of `absmax`
// (from GroupAbsmax), and the multiplier that maps values to code values.
KVTIER_CODEC_FN float Int8Scale(float absmax) { return absmax / kInt8Max; }
KVTIER_CODEC_FN float Int8Inverse(float absmax) {
  return absmax == 0.0f ? 0.0f : kInt8Max / absmax;
}
KVTIER_CODEC_FN float Fp8Scale(float absmax) { return absmax / kFp8Max; }
KVTIER_CODEC_FN float Fp8Inverse(float absmax) {
  return absmax == 0.0f ? 0.0f : kFp8Max / absmax;
}

// x * inv with NaN -> 0 and clamped to +-limit.
KVTIER_CODEC_FN float ScaleAndClamp(float x, float inv, float limit) {
  float p = x * inv;
  if (!(p == p)) p = 0.0f;
  return p < -limit ? -limit : (p > limit ? limit : p);
}

// ---- int8 -------------------------------------------------------------------

KVTIER_CODEC_FN int8_t QuantizeInt8(float x, float inv) {
  return static_cast<int8_t>(
      static_cast<int32_t>(RoundEven(ScaleAndClamp(x, inv, kInt8Max))));
}

KVTIER_CODEC_FN float DequantizeInt8(int8_t q, float scale) {
  return static_cast<float>(q) * scale;
}

// ---- FP8 E4M3 (1 sign, 4 exponent bits biased by 7, 3 mantissa bits; no Inf;
// 0x7F/0xFF are NaN and never produced) ----------------------------------------

// REQUIRES: |y| <= 448 and y not NaN (ScaleAndClamp's result).
KVTIER_CODEC_FN uint8_t FloatToE4M3(float y) {
  const uint32_t u = FloatBits(y);
  const uint32_t sign = (u >> 24) & 0x80u;
  const uint32_t a = u & 0x7FFFFFFFu;
  uint32_t code;
  if (a >= 0x3C800000u) {  // >= 2^-6: normal; round 23 mantissa bits to 3
    code = (a + 0x7FFFFu + ((a >> 20) & 1u) - (120u << 23)) >> 20;
  } else {  // subnormal: multiples of 2^-9 (8 carries into the smallest normal)
    code = static_cast<uint32_t>(RoundEven(BitsFloat(a) * 512.0f));
  }
  return static_cast<uint8_t>(sign | code);
}

KVTIER_CODEC_FN float E4M3ToFloat(uint8_t c) {
  const uint32_t m = c & 0x7Fu;
  const float v =
      m >= 8 ? BitsFloat((m << 20) + (120u << 23)) : static_cast<float>(m) * 0x1p-9f;
  return BitsFloat(FloatBits(v) | (uint32_t{c & 0x80u} << 24));
}

KVTIER_CODEC_FN uint8_t QuantizeFp8(float x, float inv) {
  return FloatToE4M3(ScaleAndClamp(x, inv, kFp8Max));
}

KVTIER_CODEC_FN float DequantizeFp8(uint8_t c, float scale) {
  return E4M3ToFloat(c) * scale;
}

}  // namespace kvtier::internal::codec
