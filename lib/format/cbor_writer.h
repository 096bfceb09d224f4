// A minimal CBOR encoder (RFC 8949) for the shapes vLLM's sha256_cbor
// hashes: integers, byte strings, text strings, arrays and null, each head
// in its shortest form. That is all cbor2.dumps(..., canonical=True) changes
// for these shapes (canonical mode only reorders maps and sets and shrinks
// floats, which vLLM's block keys never hold), so the bytes are the same.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kvtier/engine_hashes.h"

namespace kvtier::internal {

// Appends to a caller-owned buffer. Single owner.
class CborWriter {
 public:
  explicit CborWriter(std::vector<uint8_t>& out) : out_(out) {}

  void Int(int64_t v);
  void Uint(uint64_t v);
  void Bytes(std::span<const uint8_t> bytes);
  void Text(std::string_view utf8);
  void ArrayHead(uint64_t items);  // then exactly `items` values
  void Null();
  void Value(const CborValue& v);  // recursively

 private:
  void Head(uint8_t major, uint64_t arg);

  std::vector<uint8_t>& out_;
};

}  // namespace kvtier::internal
