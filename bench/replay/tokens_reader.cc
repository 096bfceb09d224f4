// ReadTokens: {"tokens": [...]} per line, hashed with PrefixHasher exactly
// as an engine would (namespace model_id "kvtier-replay"), so real mode and
// simulate mode see the hashes a Store sees.
#include <vector>

#include "bench/replay/json_lines.h"
#include "bench/replay/trace_reader.h"

namespace kvtier::replay {

Status ReadTokens(std::istream& in, const std::string& name, const ReadOptions& options,
                  Trace& trace) {
  Namespace ns;
  ns.model_id = "kvtier-replay";
  const PrefixHasher hasher(ns, options.block_tokens);
  std::vector<uint32_t> tokens;
  return ForEachJsonLine(
      in, name, options.skip_bad, trace,
      [&](const nlohmann::json& record) -> std::string {
        const auto list = record.find("tokens");
        if (list == record.end() || !list->is_array())
          return "tokens: missing or not a list";
        tokens.clear();
        for (size_t i = 0; i < list->size(); ++i) {
          const nlohmann::json& t = (*list)[i];
          if (!t.is_number_unsigned() || t.get<uint64_t>() > UINT32_MAX) {
            return "tokens[" + std::to_string(i) + "]: not a token id (0..2^32-1)";
          }
          tokens.push_back(t.get<uint32_t>());
        }
        const std::vector<BlockHash> chain = hasher.Chain(tokens);
        // A partial tail has no PrefixHasher hash; it is named by its parent
        // and length, which is enough to count distinct references.
        const size_t rest = tokens.size() % options.block_tokens;
        const BlockHash parent = chain.empty() ? hasher.root() : chain.back();
        const BlockHash tail{parent.lo ^ rest, parent.hi + 1};
        trace.AddRequest(chain, tokens.size(), rest != 0 ? &tail : nullptr);
        return {};
      });
}

}  // namespace kvtier::replay
