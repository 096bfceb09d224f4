// Trace generators: synthetic session traces with distinct reuse structures,
// for comparing eviction policies beyond the one real trace (kvtier-tracegen
// writes them as a sessions folder, trace_gen_writer.h).
//
//  - docs:   shared documents (Zipf popularity) under many short question
//            sessions: reuse is across sessions, of a popular few.
//  - chat:   multi-turn chats with think times, each turn re-sending the
//            conversation so far: reuse is within a session, minutes apart.
//  - agent:  agent sessions re-sending a growing context every few seconds
//            over many steps, spawning sub-agents that share the tools
//            prefix: long chains, reuse distance short but footprint large.
//  - mix:    chats, document questions and one-shot prompts (never reused).
//
// Ids are global (all sessions share one namespace), so a shared prefix has
// the same ids in every session. Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvtier::replay {

enum class GenKind { kDocs, kChat, kAgent, kMix };
std::optional<GenKind> ParseGenKind(std::string_view name);

struct GenRequest {
  double time_s = 0;  // absolute arrival time, seconds
  std::vector<uint64_t> ids;
  uint64_t input_tokens = 0;  // ids.size() * block_tokens minus a partial tail
};

struct GenSession {
  std::vector<GenRequest> requests;
  int parent = -1;  // a sub-agent: the index of the session that spawned it
};

struct GeneratedTrace {
  uint32_t block_tokens = 512;
  // Top-level sessions in start-time order, each sub-agent after its parent.
  std::vector<GenSession> sessions;
  uint64_t references() const;
};

// Every size is in blocks and every time in seconds; "mean" values draw from
// an exponential (geometric for counts) distribution around them.
struct GenOptions {
  GenKind kind = GenKind::kChat;
  uint64_t seed = 1;
  uint32_t block_tokens = 512;
  uint32_t sessions = 2000;  // top-level sessions
  double session_gap_s = 6;  // mean time between session starts
  // Shared system prompts every session starts with (chat, mix), and their size.
  uint32_t system_prompts = 20;
  uint32_t system_blocks = 4;
  // chat
  double turns = 6;          // mean turns per chat
  double turn_blocks = 3;    // mean new blocks per turn (question + answer)
  double chat_think_s = 90;  // mean time between turns
  // docs
  uint32_t docs = 400;
  double doc_blocks = 24;      // mean document size
  double doc_zipf = 1.0;       // popularity exponent
  double questions = 2;        // mean questions per document session
  double question_blocks = 2;  // mean new blocks per question
  double doc_think_s = 60;
  // agent
  uint32_t tool_blocks = 40;      // tools + system prefix shared by all agents
  double steps = 40;              // mean steps per agent session
  double step_blocks = 2;         // mean new blocks per step (tool result + reply)
  double agent_think_s = 8;       // mean time between steps
  double subagent_chance = 0.05;  // per step: spawn sub-agents
  uint32_t subagents = 3;         // sub-agents per spawn, run side by side
  double subagent_steps = 8;      // mean steps per sub-agent
  // mix: shares of the top-level sessions (the rest are one-shot prompts)
  double mix_chat = 0.4;
  double mix_docs = 0.3;
  double one_shot_blocks = 16;  // mean size of a one-shot prompt
};

GeneratedTrace Generate(const GenOptions& options);

}  // namespace kvtier::replay
