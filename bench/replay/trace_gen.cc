// Generate: the four session structures of trace_gen.h.
#include "bench/replay/trace_gen.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace kvtier::replay {
namespace {

class Generator {
 public:
  explicit Generator(const GenOptions& o) : o_(o), rng_(o.seed) {
    for (uint32_t i = 0; i < o_.system_prompts; ++i) {
      systems_.push_back(Fresh(o_.system_blocks));
    }
    tools_ = Fresh(o_.tool_blocks);
    double total = 0;
    for (uint32_t d = 0; d < o_.docs; ++d) {
      docs_.push_back(Fresh(Count(o_.doc_blocks)));
      total += 1.0 / std::pow(d + 1.0, o_.doc_zipf);
      doc_cdf_.push_back(total);
    }
  }

  GeneratedTrace Run() {
    GeneratedTrace trace;
    trace.block_tokens = o_.block_tokens;
    double start = 0;
    for (uint32_t s = 0; s < o_.sessions; ++s) {
      start += Exp(o_.session_gap_s);
      TopLevel(start, trace);
    }
    return trace;
  }

 private:
  void TopLevel(double start, GeneratedTrace& trace) {
    switch (o_.kind) {
      case GenKind::kDocs:
        return Docs(start, trace);
      case GenKind::kChat:
        return Chat(start, trace);
      case GenKind::kAgent:
        Agent(start, tools_, o_.steps, -1, trace);
        return;
      case GenKind::kMix: {
        const double u = Uniform();
        if (u < o_.mix_chat) return Chat(start, trace);
        if (u < o_.mix_chat + o_.mix_docs) return Docs(start, trace);
        return OneShot(start, trace);
      }
    }
  }

  // A chat: a system prompt, then turns each adding a question and answer.
  void Chat(double t, GeneratedTrace& trace) {
    std::vector<uint64_t> context = systems_[Below(systems_.size())];
    GenSession s;
    for (uint32_t turn = Count(o_.turns); turn > 0; --turn) {
      Append(context, Fresh(Count(o_.turn_blocks)));
      Add(s, t, context);
      t += Exp(o_.chat_think_s);
    }
    trace.sessions.push_back(std::move(s));
  }

  // Questions about one shared document, each re-sending the ones before.
  void Docs(double t, GeneratedTrace& trace) {
    const double pick = Uniform() * doc_cdf_.back();
    const size_t doc =
        std::lower_bound(doc_cdf_.begin(), doc_cdf_.end(), pick) - doc_cdf_.begin();
    std::vector<uint64_t> context = docs_[std::min(doc, docs_.size() - 1)];
    GenSession s;
    for (uint32_t q = Count(o_.questions); q > 0; --q) {
      Append(context, Fresh(Count(o_.question_blocks)));
      Add(s, t, context);
      t += Exp(o_.doc_think_s);
    }
    trace.sessions.push_back(std::move(s));
  }

  // An agent: `prefix` then a task; each step re-sends everything so far
  // plus a tool result. Sometimes it waits for sub-agents (sharing the tools
  // prefix) and takes their results. Returns when its last step was sent.
  double Agent(double t, const std::vector<uint64_t>& prefix, double steps, int parent,
               GeneratedTrace& trace) {
    std::vector<uint64_t> context = prefix;
    Append(context, Fresh(Count(2 * o_.step_blocks)));  // the task
    const int self = static_cast<int>(trace.sessions.size());
    trace.sessions.emplace_back();
    trace.sessions[self].parent = parent;
    for (uint32_t step = Count(steps); step > 0; --step) {
      Add(trace.sessions[self], t, context);
      t += Exp(o_.agent_think_s);
      if (parent < 0 && Uniform() < o_.subagent_chance) {
        double done = t;
        for (uint32_t a = 0; a < o_.subagents; ++a) {
          done = std::max(done, Agent(t, tools_, o_.subagent_steps, self, trace));
        }
        t = done + Exp(o_.agent_think_s);
      }
      Append(context, Fresh(Count(o_.step_blocks)));
    }
    return t;
  }

  void OneShot(double t, GeneratedTrace& trace) {
    GenSession s;
    Add(s, t, Fresh(Count(o_.one_shot_blocks)));
    trace.sessions.push_back(std::move(s));
  }

  void Add(GenSession& s, double t, const std::vector<uint64_t>& ids) const {
    s.requests.push_back({t, ids, ids.size() * uint64_t{o_.block_tokens}});
  }
  static void Append(std::vector<uint64_t>& to, const std::vector<uint64_t>& more) {
    to.insert(to.end(), more.begin(), more.end());
  }
  std::vector<uint64_t> Fresh(uint32_t n) {
    std::vector<uint64_t> ids(n);
    for (uint64_t& id : ids) id = next_id_++;
    return ids;
  }
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  size_t Below(size_t n) { return static_cast<size_t>(Uniform() * n) % n; }
  double Exp(double mean) { return mean <= 0 ? 0 : -mean * std::log(1 - Uniform()); }
  // At least 1, geometric with the given mean.
  uint32_t Count(double mean) {
    if (mean <= 1) return 1;
    const double p = 1 / mean;
    return 1 +
           static_cast<uint32_t>(std::floor(std::log(1 - Uniform()) / std::log(1 - p)));
  }

  const GenOptions o_;
  std::mt19937_64 rng_;
  uint64_t next_id_ = 1;
  std::vector<std::vector<uint64_t>> systems_;
  std::vector<uint64_t> tools_;
  std::vector<std::vector<uint64_t>> docs_;
  std::vector<double> doc_cdf_;
};

}  // namespace

std::optional<GenKind> ParseGenKind(std::string_view name) {
  if (name == "docs") return GenKind::kDocs;
  if (name == "chat") return GenKind::kChat;
  if (name == "agent") return GenKind::kAgent;
  if (name == "mix") return GenKind::kMix;
  return std::nullopt;
}

uint64_t GeneratedTrace::references() const {
  uint64_t n = 0;
  for (const GenSession& s : sessions) {
    for (const GenRequest& r : s.requests) n += r.ids.size();
  }
  return n;
}

GeneratedTrace Generate(const GenOptions& options) { return Generator(options).Run(); }

}  // namespace kvtier::replay
