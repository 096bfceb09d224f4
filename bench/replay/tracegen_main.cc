// kvtier-tracegen: writes a synthetic session trace (trace_gen.h) as a
// folder of kv-cache-tester session files for kvtier-replay --format
// sessions. Argument errors exit 2; a failed write exits 1.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "bench/common/cli.h"
#include "bench/replay/trace_gen.h"
#include "bench/replay/trace_gen_writer.h"

namespace kvtier::replay {
namespace {

int Main(int argc, char** argv) {
  GenOptions o;
  std::string kind = "chat", out;
  CLI::App app{"kvtier-tracegen: synthetic session traces (docs, chat, agent, mix)"};
  app.add_option("--kind", kind, "docs | chat | agent | mix")->capture_default_str();
  app.add_option("--out", out, "new folder to write the session files to")->required();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_option("--block-tokens", o.block_tokens, "tokens per block")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  app.add_option("--sessions", o.sessions, "top-level sessions")->capture_default_str();
  app.add_option("--session-gap-s", o.session_gap_s,
                 "mean seconds between session starts")
      ->capture_default_str();
  app.add_option("--system-prompts", o.system_prompts, "distinct system prompts (chat)")
      ->capture_default_str();
  app.add_option("--system-blocks", o.system_blocks, "blocks per system prompt")
      ->capture_default_str();
  app.add_option("--turns", o.turns, "chat: mean turns")->capture_default_str();
  app.add_option("--turn-blocks", o.turn_blocks, "chat: mean new blocks per turn")
      ->capture_default_str();
  app.add_option("--chat-think-s", o.chat_think_s, "chat: mean seconds between turns")
      ->capture_default_str();
  app.add_option("--docs", o.docs, "docs: shared documents")->capture_default_str();
  app.add_option("--doc-blocks", o.doc_blocks, "docs: mean blocks per document")
      ->capture_default_str();
  app.add_option("--doc-zipf", o.doc_zipf, "docs: popularity exponent")
      ->capture_default_str();
  app.add_option("--questions", o.questions, "docs: mean questions per session")
      ->capture_default_str();
  app.add_option("--question-blocks", o.question_blocks, "docs: mean blocks per question")
      ->capture_default_str();
  app.add_option("--doc-think-s", o.doc_think_s, "docs: mean seconds between questions")
      ->capture_default_str();
  app.add_option("--tool-blocks", o.tool_blocks, "agent: shared tools prefix blocks")
      ->capture_default_str();
  app.add_option("--steps", o.steps, "agent: mean steps")->capture_default_str();
  app.add_option("--step-blocks", o.step_blocks, "agent: mean new blocks per step")
      ->capture_default_str();
  app.add_option("--agent-think-s", o.agent_think_s, "agent: mean seconds between steps")
      ->capture_default_str();
  app.add_option("--subagent-chance", o.subagent_chance,
                 "agent: chance per step of spawning sub-agents")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--subagents", o.subagents, "agent: sub-agents per spawn")
      ->capture_default_str();
  app.add_option("--subagent-steps", o.subagent_steps, "agent: mean steps per sub-agent")
      ->capture_default_str();
  app.add_option("--mix-chat", o.mix_chat, "mix: share of chat sessions")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--mix-docs", o.mix_docs, "mix: share of document sessions")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--one-shot-blocks", o.one_shot_blocks,
                 "mix: mean one-shot prompt blocks")
      ->capture_default_str();
  if (auto rc = bench::ParseArgs(app, "kvtier-tracegen", argc, argv)) return *rc;
  const auto parsed = ParseGenKind(kind);
  if (!parsed) {
    return bench::ArgError("kvtier-tracegen",
                           "--kind: '" + kind + "'; use docs, chat, agent or mix");
  }
  o.kind = *parsed;
  const GeneratedTrace trace = Generate(o);
  if (Status s = WriteSessionsFolder(trace, out); !s.ok()) {
    std::cerr << "kvtier-tracegen: " << s.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << out << ": " << trace.sessions.size() << " sessions, "
            << trace.references() << " block references\n";
  return 0;
}

}  // namespace
}  // namespace kvtier::replay

int main(int argc, char** argv) { return kvtier::replay::Main(argc, argv); }
