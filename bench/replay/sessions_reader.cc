// ReadSessions: one JSON document per file, {"block_size": N, "requests":
// [{"hash_ids": [...], "input_length"?: tokens}, ...]}. Ids are local to the
// file, so each file is its own namespace (HashOfTraceId(id, ns)). Ids are
// prefix ids, as in mooncake: each stands for its block and all before it.
#include <algorithm>
#include <iterator>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/replay/json_lines.h"
#include "bench/replay/trace_reader.h"

namespace kvtier::replay {
namespace {

// Line of byte offset `byte` in `text` (1-based), for parse errors.
uint64_t LineOf(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(byte), '\n');
}

// Empty when request `r` was added to `trace`, else what is wrong with it.
std::string AddSessionRequest(const nlohmann::json& r, uint64_t ns, uint32_t block_tokens,
                              Trace& trace) {
  if (!r.is_object()) return "not an object";
  const auto ids = r.find("hash_ids");
  if (ids == r.end() || !ids->is_array()) return "hash_ids: missing or not a list";
  uint64_t tokens = ids->size() * uint64_t{block_tokens};
  const auto length = r.find("input_length");
  if (length != r.end()) {
    if (!length->is_number_unsigned()) return "input_length: not a non-negative integer";
    tokens = length->get<uint64_t>();
    if (ids->size() > (tokens + block_tokens - 1) / block_tokens) {
      return "hash_ids: more ids than input_length covers";
    }
  }
  std::vector<BlockHash> chain;
  chain.reserve(ids->size());
  for (size_t i = 0; i < ids->size(); ++i) {
    if (!(*ids)[i].is_number_unsigned()) {
      return "hash_ids[" + std::to_string(i) + "]: not a non-negative integer";
    }
    chain.push_back(HashOfTraceId((*ids)[i].get<uint64_t>(), ns));
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    if (std::find(chain.begin(), chain.begin() + i, chain[i]) != chain.begin() + i) {
      return "hash_ids[" + std::to_string(i) + "]: repeats in the request";
    }
  }
  const auto time = r.find("timestamp");
  if (time != r.end() && !time->is_number()) return "timestamp: not a number";
  const size_t full = std::min<uint64_t>(chain.size(), tokens / block_tokens);
  const BlockHash* tail = full < chain.size() ? &chain[full] : nullptr;
  trace.AddRequest(std::span(chain).first(full), tokens, tail);
  trace.SetTimestamp(time != r.end() ? std::optional(time->get<double>()) : std::nullopt);
  return {};
}

}  // namespace

Status ReadSessions(std::istream& in, const std::string& name, uint64_t ns,
                    const ReadOptions& options, Trace& trace) {
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidArgument(Where(name, LineOf(text, e.byte), "not valid JSON"));
  }
  if (!doc.is_object()) return InvalidArgument(name + ": expected a JSON object");
  const auto size = doc.find("block_size");
  if (size == doc.end() || !size->is_number_unsigned() || size->get<uint64_t>() == 0 ||
      size->get<uint64_t>() > UINT32_MAX) {
    return InvalidArgument(name + ": block_size: missing or not a positive integer");
  }
  const uint32_t block_tokens = size->get<uint32_t>();
  if (trace.requests() > 0 && trace.block_tokens != block_tokens) {
    return InvalidArgument(name + ": block_size: " + std::to_string(block_tokens) +
                           ", but earlier files use " +
                           std::to_string(trace.block_tokens));
  }
  trace.block_tokens = block_tokens;
  const auto requests = doc.find("requests");
  if (requests == doc.end() || !requests->is_array()) {
    return InvalidArgument(name + ": requests: missing or not a list");
  }
  for (size_t i = 0; i < requests->size(); ++i) {
    const std::string problem =
        AddSessionRequest((*requests)[i], ns, block_tokens, trace);
    if (problem.empty()) continue;
    if (!options.skip_bad) {
      return InvalidArgument(name + ": requests[" + std::to_string(i) + "]." + problem);
    }
    ++trace.bad_lines;
  }
  return Status::Ok();
}

}  // namespace kvtier::replay
