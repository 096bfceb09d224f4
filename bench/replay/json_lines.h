// ForEachJsonLine: the loop every JSON-lines reader shares. Parses each
// non-blank line with nlohmann::json (no exceptions) and hands it to a
// record handler; a parse error or a handler's complaint becomes
// "file:line: message", or is skipped and counted under skip_bad.
#pragma once

#include <functional>
#include <istream>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/replay/trace.h"
#include "kvtier/status.h"

namespace kvtier::replay {

// Returns an empty string when the record was taken, else what is wrong
// with it (naming the field).
using RecordHandler = std::function<std::string(const nlohmann::json& record)>;

Status ForEachJsonLine(std::istream& in, const std::string& name, bool skip_bad,
                       Trace& trace, const RecordHandler& handle);

// Longest JSON line read (a record of about 8M ids); a longer one (say,
// --trace /dev/zero) is an error, not unbounded memory.
inline constexpr size_t kMaxLineBytes = size_t{64} << 20;
// Largest sessions document read whole.
inline constexpr size_t kMaxSessionFileBytes = size_t{256} << 20;

// Reads all of `in` into `text`, or InvalidArgument past `limit` bytes.
Status ReadCapped(std::istream& in, const std::string& name, size_t limit,
                  std::string& text);

// The error text for `name` at `line` (1-based): "name:line: message".
std::string Where(const std::string& name, uint64_t line, const std::string& message);

}  // namespace kvtier::replay
