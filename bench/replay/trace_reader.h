// Trace readers: mooncake and tokens JSON lines, sessions JSON files. Every
// malformed record is an InvalidArgument naming the file and line ("f:12:
// hash_ids: ..."), unless skip_bad, which skips and counts it.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "bench/replay/trace.h"
#include "kvtier/status.h"

namespace kvtier::replay {

struct ReadOptions {
  TraceFormat format = TraceFormat::kMooncake;
  // Tokens per block: mooncake's hash ids stand for 512 tokens each; the
  // tokens format hashes this many tokens per block. Sessions files carry
  // their own block_size.
  uint32_t block_tokens = 512;
  bool skip_bad = false;  // skip and count malformed records instead of failing
};

std::optional<TraceFormat> ParseTraceFormat(std::string_view name);

// Reads `path` (a file; for sessions also a folder of *.json files).
Result<Trace> ReadTrace(const std::string& path, const ReadOptions& options);

// One format each, from an open stream; `name` is used in error messages.
// Records are appended to `trace`.
Status ReadMooncake(std::istream& in, const std::string& name, const ReadOptions& options,
                    Trace& trace);
Status ReadTokens(std::istream& in, const std::string& name, const ReadOptions& options,
                  Trace& trace);
// Sessions: one JSON document {"block_size": N, "requests": [{"hash_ids":
// [...], "input_length"?: tokens, "timestamp"?: ms}, ...]}; ids are local to
// the document, so they are namespaced by `ns` (the file's index). ReadTrace
// on a folder orders all files' requests by timestamp (stable) when every
// request has one, else replays the files one after another, sorted by name.
Status ReadSessions(std::istream& in, const std::string& name, uint64_t ns,
                    const ReadOptions& options, Trace& trace);

}  // namespace kvtier::replay
