// The table of every option with its JSON key and environment variable
// (include/kvtier/config.h), and how each kind of value is parsed from text.
// One table, so the environment, the JSON file and the docs cannot drift.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/options.h"
#include "kvtier/status.h"

namespace kvtier::internal {

enum class FieldKind : uint8_t {
  kU32,
  kU64,
  kInt,
  kBytes,
  kBool,
  kString,
  kDType,
  kCodec,
  kWritePolicy,
  kEviction,
  kLogLevel,
  kU32List,
  kPathList,
  kEndpointList,  // "host:port,host:port"
  kRemoteKind,
  kDouble,
};

struct OptionField {
  const char* json;  // "host.capacity_bytes"
  const char* env;   // "KVTIER_HOST_BYTES"
  FieldKind kind;
  void* (*member)(Options&);  // the field it sets, of kind's type
};

std::span<const OptionField> OptionFields();

// Parses `text` as the field's kind into its member of *options.
// InvalidArgument "<name>: '<text>' is not ..." naming `name`.
Status SetFromText(const OptionField& field, std::string_view name, std::string_view text,
                   Options* options);

// "8GiB" -> 8 << 30; digits with an optional K/M/G/T[i][B] suffix.
Status ParseBytes(std::string_view name, std::string_view text, uint64_t* out);

}  // namespace kvtier::internal
