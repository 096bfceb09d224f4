// kvtier-tracegen's generators and kv-cache-tester's session format: the
// reuse structure each generator promises, the files round-tripping through
// the sessions reader (global ids, sub-agent entries, times), and the
// reader's limits (duplicate check in linear time).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "bench/replay/bounds.h"
#include "bench/replay/trace_gen.h"
#include "bench/replay/trace_gen_writer.h"
#include "tests/replay_support.h"

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;
using testing::ReadOk;
using testing::WriteFile;

bool IsPrefix(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

GenOptions Small(GenKind kind) {
  GenOptions o;
  o.kind = kind;
  o.sessions = 60;
  return o;
}

TEST_CASE("tracegen: the same seed gives the same trace, another seed another",
          "[replay][tracegen]") {
  const GeneratedTrace a = Generate(Small(GenKind::kMix));
  const GeneratedTrace b = Generate(Small(GenKind::kMix));
  GenOptions other = Small(GenKind::kMix);
  other.seed = 2;
  const GeneratedTrace c = Generate(other);
  REQUIRE(a.sessions.size() == b.sessions.size());
  for (size_t s = 0; s < a.sessions.size(); ++s) {
    REQUIRE(a.sessions[s].requests.size() == b.sessions[s].requests.size());
    for (size_t r = 0; r < a.sessions[s].requests.size(); ++r) {
      CHECK(a.sessions[s].requests[r].ids == b.sessions[s].requests[r].ids);
    }
  }
  CHECK(a.references() != c.references());
}

TEST_CASE("tracegen: chats re-send their conversation, turn after turn, later in time",
          "[replay][tracegen]") {
  const GeneratedTrace t = Generate(Small(GenKind::kChat));
  size_t multi_turn = 0;
  for (const GenSession& s : t.sessions) {
    for (size_t r = 1; r < s.requests.size(); ++r) {
      CHECK(IsPrefix(s.requests[r - 1].ids, s.requests[r].ids));
      CHECK(s.requests[r].ids.size() > s.requests[r - 1].ids.size());
      CHECK(s.requests[r].time_s >= s.requests[r - 1].time_s);
    }
    multi_turn += s.requests.size() > 1;
  }
  CHECK(multi_turn > 10);
}

TEST_CASE("tracegen: document sessions share popular documents across sessions",
          "[replay][tracegen]") {
  GenOptions o = Small(GenKind::kDocs);
  o.docs = 5;
  const GeneratedTrace t = Generate(o);
  // With 5 documents and 60 sessions, first requests start with the same
  // block many times.
  std::vector<uint64_t> firsts;
  for (const GenSession& s : t.sessions) firsts.push_back(s.requests[0].ids[0]);
  std::sort(firsts.begin(), firsts.end());
  const size_t distinct = std::unique(firsts.begin(), firsts.end()) - firsts.begin();
  CHECK(distinct <= 5);
}

TEST_CASE("tracegen: agents spawn sub-agents that share the tools prefix",
          "[replay][tracegen]") {
  GenOptions o = Small(GenKind::kAgent);
  o.sessions = 20;
  o.subagent_chance = 0.2;
  o.tool_blocks = 7;
  const GeneratedTrace t = Generate(o);
  size_t subagents = 0;
  for (const GenSession& s : t.sessions) {
    const std::vector<uint64_t> tools(s.requests[0].ids.begin(),
                                      s.requests[0].ids.begin() + 7);
    CHECK(IsPrefix(tools, t.sessions[0].requests[0].ids));
    if (s.parent < 0) continue;
    ++subagents;
    // A sub-agent starts after the session that spawned it.
    CHECK(s.requests.front().time_s >= t.sessions[s.parent].requests.front().time_s);
  }
  CHECK(subagents > 0);
}

TEST_CASE("tracegen: a mix has one-shot prompts whose blocks are never reused",
          "[replay][tracegen]") {
  GenOptions o = Small(GenKind::kMix);
  o.mix_chat = 0;
  o.mix_docs = 0;  // all one-shot
  const GeneratedTrace t = Generate(o);
  TempDir dir;
  const std::string folder = (dir.path() / "mix").string();
  REQUIRE(WriteSessionsFolder(t, folder).ok());
  const Trace read = ReadOk(folder, TraceFormat::kSessions);
  CHECK(read.requests() == 60);
  CHECK(CeilingHits(read) == 0);
}

TEST_CASE("tracegen: the folder reads back as the same requests, sessions and times",
          "[replay][tracegen]") {
  GenOptions o = Small(GenKind::kAgent);
  o.sessions = 10;
  o.subagent_chance = 0.3;
  const GeneratedTrace g = Generate(o);
  TempDir dir;
  const std::string folder = (dir.path() / "agents").string();
  REQUIRE(WriteSessionsFolder(g, folder).ok());
  CHECK_FALSE(WriteSessionsFolder(g, folder).ok());  // never over an old folder
  const Trace t = ReadOk(folder, TraceFormat::kSessions);
  CHECK(t.references == g.references());
  CHECK(t.session_count == g.sessions.size());  // each sub-agent its own session
  REQUIRE(t.timestamps.size() == t.requests());
  CHECK(std::is_sorted(t.timestamps.begin(), t.timestamps.end()));
  // Every request's time is one the generator made (sub-agent times were
  // written relative to their entry and came back absolute).
  std::vector<double> times;
  for (const GenSession& s : g.sessions) {
    for (const GenRequest& r : s.requests) times.push_back(r.time_s * 1000);
  }
  std::sort(times.begin(), times.end());
  for (size_t i = 0; i < times.size(); ++i) {
    CHECK(t.timestamps[i] == Approx(times[i]).margin(1e-3));
  }
  // Global ids: the tools prefix is one set of blocks for every session.
  CHECK(CeilingHits(t) > 0);
}

TEST_CASE("sessions: kv-cache-tester sub-agent entries, 't' relative to the entry",
          "[replay][trace][tracegen]") {
  TempDir dir;
  // Parent at 0 s and 100 s; a sub-agent entry at 10 s whose requests are at
  // +0 s and +5 s, i.e. 10 s and 15 s; "in" sets the tokens.
  const std::string path = WriteFile(dir, "s.json", R"({"block_size": 4,
      "requests": [{"t": 0, "in": 8, "hash_ids": [1, 2]},
        {"type": "subagent", "t": 10, "requests": [
          {"t": 0, "in": 6, "hash_ids": [1, 5]}, {"t": 5, "in": 8, "hash_ids": [1, 5]}]},
        {"t": 100, "in": 12, "hash_ids": [1, 2, 3]}]})");
  const Trace t = ReadOk(path, TraceFormat::kSessions);
  REQUIRE(t.requests() == 4);
  CHECK(t.timestamps == std::vector<double>{0, 10'000, 15'000, 100'000});
  CHECK(t.session_ids == std::vector<uint32_t>{0, 1, 1, 0});
  CHECK(t.session_count == 2);
  CHECK(t.chain(1).size() == 1);  // 6 tokens: block 5 is partial
  CHECK(t.total_input_tokens() == 8 + 6 + 8 + 12);
  CHECK(CeilingHits(t) == 1 + 1 + 2);

  // A malformed entry names its path.
  const std::string bad = WriteFile(dir, "b.json", R"({"block_size": 4,
      "requests": [{"type": "subagent", "t": 1, "requests": [{"hash_ids": [1, 1]}]}]})");
  const Result<Trace> r = ReadTrace(bad, ReadOptions{TraceFormat::kSessions, 4, false});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("requests[0].requests[0].hash_ids[1]: repeats") !=
        std::string::npos);
}

TEST_CASE("sessions: local ids differ per file, global ids are shared",
          "[replay][trace][tracegen]") {
  TempDir dir;
  const std::string one = R"({"block_size": 4, "hash_id_scope": "global",
      "requests": [{"hash_ids": [7]}]})";
  WriteFile(dir, "a.json", one);
  WriteFile(dir, "b.json", one);
  CHECK(CeilingHits(ReadOk(dir.path().string(), TraceFormat::kSessions)) == 1);
  WriteFile(dir, "b.json", R"({"block_size": 4, "hash_id_scope": "local",
      "requests": [{"hash_ids": [7]}]})");
  CHECK(CeilingHits(ReadOk(dir.path().string(), TraceFormat::kSessions)) == 0);
  WriteFile(dir, "b.json", R"({"block_size": 4, "hash_id_scope": "world",
      "requests": []})");
  const Result<Trace> r =
      ReadTrace(dir.path().string(), ReadOptions{TraceFormat::kSessions, 4, false});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("hash_id_scope") != std::string::npos);
}

TEST_CASE("sessions: a request of 200k ids is checked for repeats in linear time",
          "[replay][trace][tracegen]") {
  std::ostringstream doc;
  doc << R"({"block_size": 1, "requests": [{"hash_ids": [)";
  for (int i = 0; i < 200'000; ++i) doc << (i ? "," : "") << i;
  doc << "]}]}";
  std::istringstream in(doc.str());
  Trace t;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(
      ReadSessions(in, "big", 0, ReadOptions{TraceFormat::kSessions, 1, false}, t).ok());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(t.references == 200'000);
  CHECK(seconds < 2.0);  // quadratic took 13 s; linear takes well under 0.5 s
}

}  // namespace
}  // namespace kvtier::replay
