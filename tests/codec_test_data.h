// KV-like test data for the codec tests, and the error measures the issue
// bounds (relative RMS error, max error per group).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kvtier/layout.h"
#include "lib/codec/codec_math.h"

namespace kvtier::testing {

// Values as floats, and the same values in an engine dtype's bytes.
struct KvData {
  DType dtype = DType::kFp16;
  uint32_t head_dim = 128;
  std::vector<float> values;         // exactly representable in dtype
  std::vector<unsigned char> bytes;  // the engine's bytes

  size_t groups() const { return values.size() / head_dim; }
};

inline void EncodeValue(DType dtype, float v, unsigned char* out) {
  if (dtype == DType::kFp32) {
    std::memcpy(out, &v, 4);
    return;
  }
  const uint16_t h = dtype == DType::kFp16 ? internal::codec::FloatToHalf(v)
                                           : internal::codec::FloatToBf16(v);
  std::memcpy(out, &h, 2);
}

inline float DecodeValue(DType dtype, const unsigned char* in) {
  if (dtype == DType::kFp32) {
    float f;
    std::memcpy(&f, in, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, in, 2);
  return dtype == DType::kFp16 ? internal::codec::HalfToFloat(h)
                               : internal::codec::Bf16ToFloat(h);
}

inline std::vector<float> DecodeAll(DType dtype, const unsigned char* in, size_t n) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = DecodeValue(dtype, in + i * DTypeBytes(dtype));
  return out;
}

// Stores `values` as `dtype` (rounding them to it) into data.
inline void SetValues(KvData* data, const std::vector<float>& values) {
  const size_t eb = DTypeBytes(data->dtype);
  data->bytes.assign(values.size() * eb, 0);
  for (size_t i = 0; i < values.size(); ++i)
    EncodeValue(data->dtype, values[i], data->bytes.data() + i * eb);
  data->values = DecodeAll(data->dtype, data->bytes.data(), values.size());
}

// The shapes of data the codecs are judged on.
enum class Shape {
  kGaussian,  // N(0, 1) in every channel
  // Real K caches: a few fixed channels per head (8 of 128 here, the same
  // for every token) carry a large per-channel offset, +-(4..8) sigma, on
  // top of N(0, 1) noise (KIVI, KVQuant).
  kOutlierChannels,
  // A harsher model: 4 of 128 channels at +-(12..20) sigma. Per-(token,
  // head) scaling cannot keep int8 within 1% here; the tests pin what it does.
  kHeavyOutliers,
};

inline KvData MakeKv(DType dtype, uint32_t head_dim, size_t groups, Shape shape,
                     uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  const uint32_t outliers = shape == Shape::kOutlierChannels ? 8
                            : shape == Shape::kHeavyOutliers ? 4
                                                             : 0;
  const float lo = shape == Shape::kHeavyOutliers ? 12.0f : 4.0f;
  const float hi = shape == Shape::kHeavyOutliers ? 20.0f : 8.0f;
  std::vector<float> offset(head_dim, 0.0f);
  for (uint32_t k = 0; k < outliers; ++k) {
    const uint32_t channel = (k * 37 + 5) % head_dim;
    offset[channel] = (k % 2 ? -1.0f : 1.0f) * (lo + (hi - lo) * uniform(rng));
  }
  std::vector<float> values(head_dim * groups);
  for (size_t g = 0; g < groups; ++g)
    for (uint32_t c = 0; c < head_dim; ++c)
      values[g * head_dim + c] = offset[c] + normal(rng);
  KvData data;
  data.dtype = dtype;
  data.head_dim = head_dim;
  SetValues(&data, values);
  return data;
}

// sqrt(sum (x - y)^2 / sum x^2).
inline double RelativeRms(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = double{x[i]} - double{y[i]};
    err += d * d;
    ref += double{x[i]} * double{x[i]};
  }
  return std::sqrt(err / ref);
}

}  // namespace kvtier::testing
