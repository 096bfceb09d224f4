// KvDivergence: how far a block kvtier served is from the engine's
// recomputation of it, segment by segment, for shadow verification
// (kvtier/shadow.h): differing bytes, and the relative RMS error over the
// values of a 16- or 32-bit float layout.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <span>

#include "kvtier/layout.h"

namespace kvtier::internal {

struct Divergence {
  size_t differing_bytes = 0;
  double relative_rms = 0;  // ||served - recomputed|| / ||recomputed||
};

// Running sums over the compared segments of one block.
class DivergenceMeter {
 public:
  explicit DivergenceMeter(DType dtype) : dtype_(dtype) {}
  // REQUIRES: served.size() == recomputed.size().
  void Add(std::span<const std::byte> served, std::span<const std::byte> recomputed);
  Divergence Result() const;

 private:
  void AddValues(std::span<const std::byte> served,
                 std::span<const std::byte> recomputed);

  const DType dtype_;
  size_t differing_bytes_ = 0;
  double error_squares_ = 0;  // sum of (served - recomputed)^2
  double value_squares_ = 0;  // sum of recomputed^2
};

}  // namespace kvtier::internal
