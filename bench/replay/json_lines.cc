// ForEachJsonLine: JSON lines in, one record at a time.
#include "bench/replay/json_lines.h"

namespace kvtier::replay {

std::string Where(const std::string& name, uint64_t line, const std::string& message) {
  return name + ":" + std::to_string(line) + ": " + message;
}

namespace {

std::string MiB(size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// std::getline with a length cap: false at the end of input; `too_long` set
// (and the rest of the line left unread) past kMaxLineBytes.
bool ReadLine(std::istream& in, std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buf = in.rdbuf();
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return !line.empty();
    }
    if (c == '\n') return true;
    if (line.size() == kMaxLineBytes) {
      too_long = true;
      return true;
    }
    line.push_back(static_cast<char>(c));
  }
}

}  // namespace

Status ReadCapped(std::istream& in, const std::string& name, size_t limit,
                  std::string& text) {
  text.clear();
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > limit) {
      return InvalidArgument(name + ": larger than " + MiB(limit) +
                             "; not a trace file?");
    }
  }
  if (in.bad()) return IoError(name + ": read failed");
  return Status::Ok();
}

Status ForEachJsonLine(std::istream& in, const std::string& name, bool skip_bad,
                       Trace& trace, const RecordHandler& handle) {
  std::string line;
  uint64_t number = 0;
  bool too_long = false;
  while (ReadLine(in, line, too_long)) {
    ++number;
    if (too_long) {
      return InvalidArgument(Where(
          name, number, "line longer than " + MiB(kMaxLineBytes) + "; not JSON lines?"));
    }
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
