// ReadTrace: opens the file (or sessions folder) and dispatches by format.
#include "bench/replay/trace_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

namespace kvtier::replay {

std::optional<TraceFormat> ParseTraceFormat(std::string_view name) {
  if (name == "mooncake") return TraceFormat::kMooncake;
  if (name == "sessions") return TraceFormat::kSessions;
  if (name == "tokens") return TraceFormat::kTokens;
  return std::nullopt;
}

namespace {

Result<Trace> ReadSessionsPath(const std::string& path, const ReadOptions& options) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());  // namespaces follow the sorted order
    if (files.empty()) return InvalidArgument(path + ": no *.json files in the folder");
  } else {
    files.push_back(path);
  }
  Trace trace;
  for (size_t i = 0; i < files.size(); ++i) {
    std::ifstream in(files[i]);
    if (!in) return NotFound(files[i] + ": cannot open");
    if (Status s = ReadSessions(in, files[i], i, options, trace); !s.ok()) return s;
  }
  // Sessions in several files run side by side: interleave them by time
  // when every request has one, else replay file after file.
  trace.SortByTimestamp();
  trace.FindSessionEnds();
  return trace;
}

}  // namespace

Result<Trace> ReadTrace(const std::string& path, const ReadOptions& options) {
  if (options.block_tokens == 0) return InvalidArgument("block_tokens: must be > 0");
  if (options.format == TraceFormat::kSessions) return ReadSessionsPath(path, options);
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open");
  Trace trace;
  trace.block_tokens = options.block_tokens;
  const Status s = options.format == TraceFormat::kMooncake
                       ? ReadMooncake(in, path, options, trace)
                       : ReadTokens(in, path, options, trace);
  if (!s.ok()) return s;
  return trace;
}

}  // namespace kvtier::replay
