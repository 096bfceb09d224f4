// Shadow verification's answer (Store::ShadowVerify; options: ShadowOptions
// in kvtier/options.h).
//
// The engine's side, per load:
//
//   size_t n = store->Load(chain, dst).value().blocks;
//   for (size_t i : store->ShadowSampled(chain.first(n))) {
//     Recompute(i, scratch);                       // the engine's own prefill
//     auto r = store->ShadowVerify(chain[i], scratch);   // counted per tier
//   }
//
// kvtier compares the recomputation with the bytes it served for that block
// (its own copy, taken when the load delivered them), by the codec of the
// tier that served it:
//   raw        exact: any differing byte is a divergence.
//   int8, fp8  the relative RMS error ||served - recomputed|| / ||recomputed||
//              over the block's finite recomputed values must be within the
//              codec's bound (kShadowBoundInt8, kShadowBoundFp8: what
//              tests/codec_test.cc holds each codec to, outlier channels
//              included).
// So a raw tier needs an engine whose recomputation is bit-reproducible
// (same kernels, same batch shape); otherwise run the check on an 8-bit
// tier's bound or expect divergences that are the engine's own noise.
#pragma once

#include <cstddef>

#include "kvtier/options.h"

namespace kvtier {

// Largest relative RMS error an 8-bit tier's served block may have against
// the engine's recomputation before it counts as a divergence.
inline constexpr double kShadowBoundInt8 = 0.015;  // measured <= 1.36% with outliers
inline constexpr double kShadowBoundFp8 = 0.05;    // measured <= 2.6%

struct ShadowResult {
  Tier tier = Tier::kHost;    // the tier that served the block
  Codec codec = Codec::kRaw;  // that tier's codec: how it was compared
  bool diverged = false;      // counted in TierStats::shadow_diverged
  // Bytes of the compared segments that differ (all segments the load
  // delivered; with sliding-window layers, the ones its prefix needed).
  size_t differing_bytes = 0;
  // ||served - recomputed|| / ||recomputed|| over the compared values (fp16,
  // bf16, fp32 layouts; 0 for fp8 layouts, compared bytewise). A zero
  // recomputation gives 0 when served is zero too, else 1.
  double relative_rms = 0;
  double bound = 0;  // the bound applied: 0 for a raw tier (exact)
};

}  // namespace kvtier
