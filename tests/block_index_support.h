// Helpers shared by the BlockIndex tests: hashes that look like XXH3 output,
// chains of them, and tier budgets.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "lib/index/block_index.h"

template <>
struct Catch::StringMaker<kvtier::BlockHash> {
  static std::string convert(const kvtier::BlockHash& h) {
    char text[40];
    std::snprintf(text, sizeof text, "%016llx..", static_cast<unsigned long long>(h.lo));
    return text;
  }
};

namespace kvtier::internal::testing {

constexpr Tier kGpu = Tier::kGpu;
constexpr Tier kHost = Tier::kHost;
constexpr Tier kNvme = Tier::kNvme;

inline uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline BlockHash Hash(uint64_t n) { return BlockHash{SplitMix(n), SplitMix(~n)}; }

// `length` fresh hashes; `first` names the chain.
inline std::vector<BlockHash> Chain(uint64_t first, size_t length) {
  std::vector<BlockHash> chain;
  for (size_t i = 0; i < length; ++i) chain.push_back(Hash(first * 1'000'003 + i));
  return chain;
}

inline std::array<TierBudget, kNumTiers> Budgets(uint64_t gpu, uint64_t host,
                                                 uint64_t nvme) {
  return {TierBudget{gpu > 0, gpu}, TierBudget{host > 0, host},
          TierBudget{nvme > 0, nvme}};
}

}  // namespace kvtier::internal::testing
