// CborWriter: heads in their shortest form (RFC 8949 section 4.2.1, which
// cbor2 follows for integers and lengths canonical or not).
#include "lib/format/cbor_writer.h"

#include <type_traits>
#include <variant>

namespace kvtier::internal {
namespace {

constexpr uint8_t kUnsigned = 0;
constexpr uint8_t kNegative = 1;
constexpr uint8_t kByteString = 2;
constexpr uint8_t kTextString = 3;
constexpr uint8_t kArray = 4;
constexpr uint8_t kNull = 0xf6;  // major 7, simple value 22

}  // namespace

void CborWriter::Head(uint8_t major, uint64_t arg) {
  const uint8_t m = static_cast<uint8_t>(major << 5);
  int bytes = 0;
  if (arg < 24) {
    out_.push_back(static_cast<uint8_t>(m | arg));
    return;
  } else if (arg <= 0xff) {
    out_.push_back(m | 24);
    bytes = 1;
  } else if (arg <= 0xffff) {
    out_.push_back(m | 25);
    bytes = 2;
  } else if (arg <= 0xffffffffull) {
    out_.push_back(m | 26);
    bytes = 4;
  } else {
    out_.push_back(m | 27);
    bytes = 8;
  }
  for (int i = bytes - 1; i >= 0; --i)
    out_.push_back(static_cast<uint8_t>(arg >> (8 * i)));
}

void CborWriter::Int(int64_t v) {
  // -1 - v, computed without overflowing for INT64_MIN.
  if (v < 0) return Head(kNegative, ~static_cast<uint64_t>(v));
  Head(kUnsigned, static_cast<uint64_t>(v));
}

void CborWriter::Uint(uint64_t v) { Head(kUnsigned, v); }

void CborWriter::Bytes(std::span<const uint8_t> bytes) {
  Head(kByteString, bytes.size());
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void CborWriter::Text(std::string_view utf8) {
  Head(kTextString, utf8.size());
  out_.insert(out_.end(), utf8.begin(), utf8.end());
}

void CborWriter::ArrayHead(uint64_t items) { Head(kArray, items); }

void CborWriter::Null() { out_.push_back(kNull); }

void CborWriter::Value(const CborValue& v) {
  std::visit(
      [this](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          Null();
        } else if constexpr (std::is_same_v<T, int64_t>) {
          Int(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          Text(x);
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          Bytes(x);
        } else {
          ArrayHead(x.size());
          for (const CborValue& item : x) Value(item);
        }
      },
      v.value);
}

}  // namespace kvtier::internal
