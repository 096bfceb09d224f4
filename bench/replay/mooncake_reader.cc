// ReadMooncake: {"timestamp", "input_length", "output_length", "hash_ids"}
// per line. Each id is one block that already stands for its whole prefix,
// so it maps to a BlockHash directly (HashOfTraceId, namespace 0).
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "bench/replay/json_lines.h"
#include "bench/replay/trace_reader.h"

namespace kvtier::replay {
namespace {

class MooncakeRecord {
 public:
  MooncakeRecord(uint32_t block_tokens, Trace& trace)
      : block_tokens_(block_tokens), trace_(trace) {}

  std::string operator()(const nlohmann::json& record) {
    const auto length = record.find("input_length");
    if (length == record.end() || !length->is_number_unsigned()) {
      return "input_length: missing or not a non-negative integer";
    }
    const auto ids = record.find("hash_ids");
    if (ids == record.end() || !ids->is_array()) return "hash_ids: missing or not a list";
    const uint64_t tokens = length->get<uint64_t>();
    const uint64_t covered = (tokens + block_tokens_ - 1) / block_tokens_;
    if (ids->size() > covered) {
      return "hash_ids: " + std::to_string(ids->size()) + " ids for input_length " +
             std::to_string(tokens) + " (at most " + std::to_string(covered) +
             " blocks of " + std::to_string(block_tokens_) + " tokens)";
    }
    chain_.clear();
    seen_.clear();
    for (size_t i = 0; i < ids->size(); ++i) {
      const nlohmann::json& id = (*ids)[i];
      if (!id.is_number_unsigned()) {
        return "hash_ids[" + std::to_string(i) + "]: not a non-negative integer";
      }
      const uint64_t value = id.get<uint64_t>();
      if (!seen_.insert(value).second) {
        return "hash_ids[" + std::to_string(i) + "]: id " + std::to_string(value) +
               " repeats in the request; ids are prefix hashes";
      }
      chain_.push_back(HashOfTraceId(value, 0));
    }
    // Only full blocks are stored; a trailing partial block is a reference
    // that can never hit (trace.h).
    const size_t full = std::min<uint64_t>(chain_.size(), tokens / block_tokens_);
    const BlockHash* tail = full < chain_.size() ? &chain_[full] : nullptr;
    trace_.AddRequest(std::span(chain_).first(full), tokens, tail);
    return {};
  }

 private:
  uint32_t block_tokens_;
  Trace& trace_;
  std::vector<BlockHash> chain_;
  absl::flat_hash_set<uint64_t> seen_;
};

}  // namespace

Status ReadMooncake(std::istream& in, const std::string& name, const ReadOptions& options,
                    Trace& trace) {
  MooncakeRecord record(options.block_tokens, trace);
  return ForEachJsonLine(in, name, options.skip_bad, trace,
                         [&](const nlohmann::json& r) { return record(r); });
}

}  // namespace kvtier::replay
