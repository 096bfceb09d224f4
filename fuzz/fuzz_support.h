// Shared by the fuzz targets: arbitrary bytes as a stream, or as a
// sequence of values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>

namespace kvtier::fuzz {

inline std::istringstream StreamOf(const uint8_t* data, size_t size) {
  return std::istringstream(std::string(reinterpret_cast<const char*>(data), size));
}

// Takes values off the front of the input; past its end every value is 0
// and every string empty, so any input is a whole call.
class FuzzBytes {
 public:
  FuzzBytes(const uint8_t* data, size_t size) : data_(data), left_(size) {}

  template <typename T>
  T Take() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    const size_t n = left_ < sizeof(T) ? left_ : sizeof(T);
    std::memcpy(&value, data_, n);
    data_ += n;
    left_ -= n;
    return value;
  }
  // A string of up to `max` bytes (its length taken first).
  std::string TakeString(size_t max) {
    size_t n = Take<uint8_t>() % (max + 1);
    if (n > left_) n = left_;
    std::string s(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    left_ -= n;
    return s;
  }
  bool empty() const { return left_ == 0; }

 private:
  const uint8_t* data_;
  size_t left_;
};

}  // namespace kvtier::fuzz
