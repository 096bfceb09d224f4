// Relative RMS over the finite recomputed values: a NaN or Inf the engine
// computed has no error to measure (the 8-bit codecs store NaN as 0 and Inf
// saturated, options.h), so it is left out of both sums.
#include "lib/shadow/kv_divergence.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "lib/codec/codec_math.h"

namespace kvtier::internal {
namespace {

float ValueAt(DType dtype, const std::byte* p) {
  switch (dtype) {
    case DType::kFp16: {
      uint16_t h;
      std::memcpy(&h, p, sizeof h);
      return codec::HalfToFloat(h);
    }
    case DType::kBf16: {
      uint16_t b;
      std::memcpy(&b, p, sizeof b);
      return codec::Bf16ToFloat(b);
    }
    case DType::kFp32: {
      float f;
      std::memcpy(&f, p, sizeof f);
      return f;
    }
    case DType::kFp8E4M3:
      break;
  }
  return 0;
}

bool HasValues(DType dtype) {
  return dtype == DType::kFp16 || dtype == DType::kBf16 || dtype == DType::kFp32;
}

}  // namespace

void DivergenceMeter::Add(std::span<const std::byte> served,
                          std::span<const std::byte> recomputed) {
  for (size_t i = 0; i < served.size(); ++i) {
    differing_bytes_ += served[i] != recomputed[i];
  }
  if (HasValues(dtype_)) AddValues(served, recomputed);
}

void DivergenceMeter::AddValues(std::span<const std::byte> served,
                                std::span<const std::byte> recomputed) {
  const size_t width = DTypeBytes(dtype_);
  for (size_t off = 0; off + width <= served.size(); off += width) {
    const double want = ValueAt(dtype_, recomputed.data() + off);
    if (!std::isfinite(want)) continue;
    const double got = ValueAt(dtype_, served.data() + off);
    const double error = std::isfinite(got) ? got - want : std::fabs(want) + 1;
    error_squares_ += error * error;
    value_squares_ += want * want;
  }
}

Divergence DivergenceMeter::Result() const {
  Divergence d{differing_bytes_, 0};
  if (!HasValues(dtype_)) return d;
  if (value_squares_ > 0) {
    d.relative_rms = std::sqrt(error_squares_ / value_squares_);
  } else {
    d.relative_rms = error_squares_ > 0 ? 1.0 : 0.0;
  }
  return d;
}

}  // namespace kvtier::internal
