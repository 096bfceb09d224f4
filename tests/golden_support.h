// The golden file tests/golden/engine_hashes.py writes (vLLM's and SGLang's
// block hashes and kvtier's engine keys, computed with hashlib and cbor2),
// read by the C++ tests that must match it bit for bit.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "kvtier/engine_hashes.h"

namespace kvtier::testing {

inline nlohmann::json EngineHashesGolden() {
  const std::string path =
      std::string(KVTIER_SOURCE_DIR) + "/tests/golden/engine_hashes.json";
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

inline std::vector<uint8_t> BytesOfHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

inline Sha256Digest DigestOfHex(const std::string& hex) {
  std::vector<uint8_t> b = BytesOfHex(hex);
  REQUIRE(b.size() == 32);
  Sha256Digest d;
  std::copy(b.begin(), b.end(), d.begin());
  return d;
}

inline std::string HexOf(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace kvtier::testing
