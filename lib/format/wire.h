// Little-endian byte writer and bounds-checked reader for the values that
// travel between processes (plans, the split's messages). A reader never
// reads past its span: every Get says whether the bytes were there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvtier/hash.h"

namespace kvtier::internal {

class ByteWriter {
 public:
  template <typename T>
  void Put(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) {
      out_.push_back(static_cast<std::byte>(static_cast<uint64_t>(v) >> (8 * i)));
    }
  }
  void PutHash(const BlockHash& h) {
    Put(h.lo);
    Put(h.hi);
  }
  void PutBytes(std::span<const std::byte> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  std::vector<std::byte> Take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}
  template <typename T>
  [[nodiscard]] bool Get(T* v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      x |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
    }
    pos_ += sizeof(T);
    *v = static_cast<T>(x);
    return true;
  }
  [[nodiscard]] bool GetHash(BlockHash* h) { return Get(&h->lo) && Get(&h->hi); }
  // The rest of the input, consumed.
  std::span<const std::byte> Rest() {
    std::span<const std::byte> rest = in_.subspan(pos_);
    pos_ = in_.size();
    return rest;
  }
  size_t left() const { return in_.size() - pos_; }

 private:
  std::span<const std::byte> in_;
  size_t pos_ = 0;
};

}  // namespace kvtier::internal
