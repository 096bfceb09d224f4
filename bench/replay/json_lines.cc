// ForEachJsonLine: JSON lines in, one record at a time.
#include "bench/replay/json_lines.h"

namespace kvtier::replay {

std::string Where(const std::string& name, uint64_t line, const std::string& message) {
  return name + ":" + std::to_string(line) + ": " + message;
}

Status ForEachJsonLine(std::istream& in, const std::string& name, bool skip_bad,
                       Trace& trace, const RecordHandler& handle) {
  std::string line;
  uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json record =
        nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string problem;
    if (record.is_discarded()) {
      problem = "not valid JSON";
    } else if (!record.is_object()) {
      problem = "expected a JSON object";
    } else {
      problem = handle(record);
    }
    if (problem.empty()) continue;
    if (!skip_bad) return InvalidArgument(Where(name, number, problem));
    ++trace.bad_lines;
  }
  if (in.bad()) return IoError(name + ": read failed");
  return Status::Ok();
}

}  // namespace kvtier::replay
