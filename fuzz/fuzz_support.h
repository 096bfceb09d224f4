// Shared by the fuzz targets: arbitrary bytes as a stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

namespace kvtier::fuzz {

inline std::istringstream StreamOf(const uint8_t* data, size_t size) {
  return std::istringstream(std::string(reinterpret_cast<const char*>(data), size));
}

}  // namespace kvtier::fuzz
