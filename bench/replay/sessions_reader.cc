// ReadSessions: one JSON document per file, kvtier's sessions format and
// kv-cache-tester's (https://github.com/callanjfox/kv-cache-tester, trace
// replay):
//   {"block_size": N, "hash_id_scope"?: "local" | "global", "start_s"?: s,
//    "requests": [request | sub-agent entry, ...]}
//   request:  {"hash_ids": [...], "input_length" | "in"?: tokens,
//              "timestamp"?: ms (absolute) | "t"?: s (from the enclosing start)}
//   sub-agent entry: {"type": "subagent", "t": s, "requests": [...]}, its
//              requests' "t" relative to the entry's start.
// Ids are prefix ids, as in mooncake: each stands for its block and all
// before it. "local" ids (the default) are namespaced by the file's index
// (HashOfTraceId(id, ns)); "global" ids are shared by every file. Each file
// is a session and each sub-agent entry another one (Trace::session_ids).
#include <algorithm>
#include <iterator>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "bench/replay/json_lines.h"
#include "bench/replay/trace_reader.h"

namespace kvtier::replay {
namespace {

// Namespace of "hash_id_scope": "global" ids: no file index reaches it.
constexpr uint64_t kGlobalNamespace = ~uint64_t{0};
// Sub-agent entries nest; deeper than this is taken for a malformed file.
constexpr int kMaxDepth = 16;

// Line of byte offset `byte` in `text` (1-based), for parse errors.
uint64_t LineOf(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(byte), '\n');
}

// What one file's requests are read with.
struct Scope {
  uint64_t ns = 0;
  uint32_t block_tokens = 0;
  const ReadOptions* options = nullptr;
  Trace* trace = nullptr;
  uint32_t next_session = 0;  // trace-wide session counter
};

std::string ReadIds(const nlohmann::json& ids, uint64_t ns,
                    std::vector<BlockHash>& chain) {
  chain.clear();
  chain.reserve(ids.size());
  absl::flat_hash_set<uint64_t> seen;
  seen.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].is_number_unsigned()) {
      return "hash_ids[" + std::to_string(i) + "]: not a non-negative integer";
    }
    const uint64_t id = ids[i].get<uint64_t>();
    if (!seen.insert(id).second) {
      return "hash_ids[" + std::to_string(i) + "]: repeats in the request";
    }
    chain.push_back(HashOfTraceId(id, ns));
  }
  return {};
}

// Empty when request `r` was added to the trace, else what is wrong with it.
// `origin_ms`: the start "t" counts from (nullopt: no start known).
std::string AddRequest(const nlohmann::json& r, Scope& scope, uint32_t session,
                       std::optional<double> origin_ms) {
  const auto ids = r.find("hash_ids");
  if (ids == r.end() || !ids->is_array()) return "hash_ids: missing or not a list";
  const uint32_t block_tokens = scope.block_tokens;
  uint64_t tokens = ids->size() * uint64_t{block_tokens};
  auto length = r.find("input_length");
  if (length == r.end()) length = r.find("in");
  if (length != r.end()) {
    if (!length->is_number_unsigned())
      return length.key() + ": not a non-negative integer";
    tokens = length->get<uint64_t>();
    if (ids->size() > (tokens + block_tokens - 1) / block_tokens) {
      return "hash_ids: more ids than " + length.key() + " covers";
    }
  }
  std::vector<BlockHash> chain;
  if (std::string problem = ReadIds(*ids, scope.ns, chain); !problem.empty()) {
    return problem;
  }
  std::optional<double> time_ms;
  if (const auto ts = r.find("timestamp"); ts != r.end()) {
    if (!ts->is_number()) return "timestamp: not a number";
    time_ms = ts->get<double>();
  } else if (const auto t = r.find("t"); t != r.end() && origin_ms) {
    if (!t->is_number()) return "t: not a number";
    time_ms = *origin_ms + t->get<double>() * 1000;
  }
  const size_t full = std::min<uint64_t>(chain.size(), tokens / block_tokens);
  const BlockHash* tail = full < chain.size() ? &chain[full] : nullptr;
  Trace& trace = *scope.trace;
  trace.AddRequest(std::span(chain).first(full), tokens, tail);
  trace.SetTimestamp(time_ms);
  trace.session_ids.push_back(session);
  return {};
}

// Adds `requests` (a session's or a sub-agent entry's) as session `session`.
// `prefix` names the list in error messages ("requests[3].requests").
Status AddRequests(const nlohmann::json& requests, const std::string& name,
                   const std::string& prefix, Scope& scope, uint32_t session,
                   std::optional<double> origin_ms, int depth) {
  for (size_t i = 0; i < requests.size(); ++i) {
    const nlohmann::json& r = requests[i];
    const std::string where = prefix + "[" + std::to_string(i) + "]";
    std::string problem;
    if (!r.is_object()) {
      problem = "not an object";
    } else if (const auto type = r.find("type"); type != r.end() && *type == "subagent") {
      const auto sub = r.find("requests");
      const auto t = r.find("t");
      if (sub == r.end() || !sub->is_array()) {
        problem = "requests: missing or not a list";
      } else if (t != r.end() && !t->is_number()) {
        problem = "t: not a number";
      } else if (depth >= kMaxDepth) {
        problem = "sub-agents nested deeper than " + std::to_string(kMaxDepth);
      } else {
        std::optional<double> start = origin_ms;
        if (start && t != r.end()) *start += t->get<double>() * 1000;
        if (Status s = AddRequests(*sub, name, where + ".requests", scope,
                                   scope.next_session++, start, depth + 1);
            !s.ok()) {
          return s;
        }
        continue;
      }
    } else {
      problem = AddRequest(r, scope, session, origin_ms);
    }
    if (problem.empty()) continue;
    if (!scope.options->skip_bad) {
      return InvalidArgument(name + ": " + where + "." + problem);
    }
    ++scope.trace->bad_lines;
  }
  return Status::Ok();
}

}  // namespace

Status ReadSessions(std::istream& in, const std::string& name, uint64_t ns,
                    const ReadOptions& options, Trace& trace) {
  std::string text;
  if (Status s = ReadCapped(in, name, kMaxSessionFileBytes, text); !s.ok()) return s;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidArgument(Where(name, LineOf(text, e.byte), "not valid JSON"));
  } catch (const nlohmann::json::exception& e) {
    // A number out of range (e.g. 777e977e9) throws out_of_range.
    return InvalidArgument(name + ": not valid JSON (" + e.what() + ")");
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
  Scope scope{ns, block_tokens, &options, &trace, trace.session_count};
  if (const auto id_scope = doc.find("hash_id_scope"); id_scope != doc.end()) {
    if (*id_scope == "global") {
      scope.ns = kGlobalNamespace;
    } else if (*id_scope != "local") {
      return InvalidArgument(name + ": hash_id_scope: not \"local\" or \"global\"");
    }
  }
  std::optional<double> origin_ms = 0.0;  // "t" counts from the file's start
  if (const auto start = doc.find("start_s"); start != doc.end()) {
    if (!start->is_number()) return InvalidArgument(name + ": start_s: not a number");
    origin_ms = start->get<double>() * 1000;
  }
  const auto requests = doc.find("requests");
  if (requests == doc.end() || !requests->is_array()) {
    return InvalidArgument(name + ": requests: missing or not a list");
  }
  const uint32_t session = scope.next_session++;
  const Status s = AddRequests(*requests, name, "requests", scope, session, origin_ms, 0);
  trace.session_count = scope.next_session;
  return s;
}

}  // namespace kvtier::replay
