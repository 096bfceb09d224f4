// kvtier-replay's trace readers: mooncake, sessions and tokens; malformed
// records named by file and line; --skip-bad; empty traces.
#include <catch2/catch.hpp>

#include "bench/replay/bounds.h"
#include "tests/replay_support.h"

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;
using testing::ReadOk;
using testing::WriteFile;

TEST_CASE("mooncake: ids become prefix hashes, full blocks only, partial tail counted",
          "[replay][trace]") {
  TempDir dir;
  const Trace t =
      ReadOk(WriteFile(dir, "t.jsonl", testing::kHandTrace), TraceFormat::kMooncake);
  REQUIRE(t.requests() == 5);
  CHECK(t.references == 9);
  CHECK(t.blocks.size() == 8);  // the last request's id 4 covers 2 of 4 tokens
  CHECK(t.chain(4).size() == 2);
  CHECK(t.chain(0)[0] == HashOfTraceId(1, 0));
  CHECK(t.chain(2)[1] == t.chain(0)[1]);
  CHECK(t.total_input_tokens() == 34);
  CHECK(t.distinct_references() == 4);
}

TEST_CASE("mooncake: a malformed line is an error naming the file and line",
          "[replay][trace]") {
  TempDir dir;
  const std::string good = R"({"input_length": 4, "hash_ids": [1]})";
  const auto check = [&](const std::string& bad, const std::string& field) {
    const std::string path =
        WriteFile(dir, "bad.jsonl", good + "\n\n" + bad + "\n" + good + "\n");
    const Result<Trace> t =
        ReadTrace(path, ReadOptions{TraceFormat::kMooncake, 4, false});
    REQUIRE_FALSE(t.ok());
    INFO(t.status().message());
    CHECK(t.status().code() == StatusCode::kInvalidArgument);
    CHECK(t.status().message().find(path + ":3:") == 0);
    CHECK(t.status().message().find(field) != std::string::npos);
  };
  check(R"({"input_length": 4, "hash_ids": [1)", "not valid JSON");
  check(R"({"input_length": 4})", "hash_ids");
  check(R"({"hash_ids": [1]})", "input_length");
  check(R"({"input_length": -4, "hash_ids": [1]})", "input_length");
  check(R"({"input_length": 8, "hash_ids": [1, "x"]})", "hash_ids[1]");
  check(R"({"input_length": 8, "hash_ids": [1, 1]})", "repeats");
  check(R"({"input_length": 4, "hash_ids": [1, 2]})", "at most 1");
  check(R"([1, 2])", "object");
}

TEST_CASE("skip_bad skips malformed lines and counts them", "[replay][trace]") {
  TempDir dir;
  const std::string path =
      WriteFile(dir, "bad.jsonl",
                "{\"input_length\": 4, \"hash_ids\": [1]}\nnot json\n"
                "{\"input_length\": 4}\n{\"input_length\": 4, \"hash_ids\": [1]}\n");
  const Trace t = ReadOk(path, TraceFormat::kMooncake, 4, /*skip_bad=*/true);
  CHECK(t.requests() == 2);
  CHECK(t.bad_lines == 2);
}

TEST_CASE("an empty trace reads as zero requests", "[replay][trace]") {
  TempDir dir;
  for (const TraceFormat f : {TraceFormat::kMooncake, TraceFormat::kTokens}) {
    const Trace t = ReadOk(WriteFile(dir, "empty.jsonl", ""), f);
    CHECK(t.requests() == 0);
    CHECK(t.references == 0);
    CHECK(CeilingHits(t) == 0);
    CHECK(BeladyHits(t, 10).hits == 0);
  }
}

TEST_CASE("a missing trace file is NotFound naming it", "[replay][trace]") {
  const Result<Trace> t = ReadTrace("/nonexistent/trace.jsonl", ReadOptions{});
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == StatusCode::kNotFound);
  CHECK(t.status().message().find("/nonexistent/trace.jsonl") != std::string::npos);
}

TEST_CASE("tokens: prompts are hashed with PrefixHasher, partial tails are references",
          "[replay][trace]") {
  TempDir dir;
  const Trace t =
      ReadOk(WriteFile(dir, "tok.jsonl",
                       "{\"tokens\": [1, 2, 3, 4, 5]}\n{\"tokens\": [1, 2, 3, 4]}\n"
                       "{\"tokens\": [1, 2, 9, 9]}\n"),
             TraceFormat::kTokens, 2);
  REQUIRE(t.requests() == 3);
  CHECK(t.references == 7);  // 2 full + 1 partial, 2, 2
  Namespace ns;
  ns.model_id = "kvtier-replay";
  const std::vector<uint32_t> tokens = {1, 2, 3, 4};
  const std::vector<BlockHash> want = PrefixHasher(ns, 2).Chain(tokens);
  CHECK(std::vector<BlockHash>(t.chain(0).begin(), t.chain(0).end()) == want);
  CHECK(std::vector<BlockHash>(t.chain(1).begin(), t.chain(1).end()) == want);
  CHECK(t.chain(2)[0] == want[0]);
  CHECK_FALSE(t.chain(2)[1] == want[1]);
  CHECK(CeilingHits(t) == 3);  // request 1: 2 blocks, request 2: 1 block

  const std::string bad = WriteFile(dir, "bad.jsonl", "{\"tokens\": [1, -2]}\n");
  const Result<Trace> r = ReadTrace(bad, ReadOptions{TraceFormat::kTokens, 2, false});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find(bad + ":1: tokens[1]") == 0);
}

TEST_CASE("sessions: ids are namespaced per file, a folder reads its files in order",
          "[replay][trace]") {
  TempDir dir;
  const std::string one = R"({"block_size": 16, "requests": [{"hash_ids": [1, 2]},
      {"hash_ids": [1, 2, 3], "input_length": 40}]})";
  WriteFile(dir, "a.json", one);
  WriteFile(dir, "b.json", one);
  WriteFile(dir, "notes.txt", "ignored");
  const Trace t = ReadOk(dir.path().string(), TraceFormat::kSessions);
  CHECK(t.block_tokens == 16);
  REQUIRE(t.requests() == 4);
  CHECK(t.references == 10);
  CHECK(t.chain(1).size() == 2);  // 40 tokens: block 3 is partial
  CHECK(t.total_input_tokens() == 32 + 40 + 32 + 40);
  // Within a file the second request reuses 2 blocks; across files nothing.
  CHECK(CeilingHits(t) == 4);
  CHECK_FALSE(t.chain(0)[0] == t.chain(2)[0]);
}

// Two files, two conversations, interleaved in time: a:[1] b:[1] a:[1,2]
// (b's 1 is another block: ids are per file). Without timestamps the files
// are replayed one after the other.
TEST_CASE("sessions: requests of several files are replayed in timestamp order",
          "[replay][trace]") {
  TempDir dir;
  WriteFile(dir, "a.json", R"({"block_size": 4, "requests": [
      {"hash_ids": [1], "timestamp": 0}, {"hash_ids": [1, 2], "timestamp": 20}]})");
  WriteFile(dir, "b.json", R"({"block_size": 4, "requests": [
      {"hash_ids": [1], "timestamp": 10}]})");
  const Trace t = ReadOk(dir.path().string(), TraceFormat::kSessions);
  REQUIRE(t.requests() == 3);
  CHECK(t.chain(0)[0] == HashOfTraceId(1, 0));
  CHECK(t.chain(1)[0] == HashOfTraceId(1, 1));
  CHECK(t.chain(2).size() == 2);
  CHECK(t.references == 4);
  CHECK(BeladyHits(t, 1).hits == 1);  // keeps a's block 1 by bypassing b's
  CHECK(CeilingHits(t) == 1);

  WriteFile(dir, "b.json", R"({"block_size": 4, "requests": [{"hash_ids": [1]}]})");
  const Trace untimed = ReadOk(dir.path().string(), TraceFormat::kSessions);
  CHECK(untimed.chain(1).size() == 2);  // file order: a's two requests first
}

TEST_CASE("sessions: malformed documents name the file and the field",
          "[replay][trace]") {
  TempDir dir;
  const auto error = [&](const std::string& text) {
    const std::string path = WriteFile(dir, "s.json", text);
    const Result<Trace> t =
        ReadTrace(path, ReadOptions{TraceFormat::kSessions, 4, false});
    REQUIRE_FALSE(t.ok());
    return t.status().message();
  };
  CHECK(
      error("{\"block_size\": 4,\n \"requests\": [}").find("s.json:2: not valid JSON") !=
      std::string::npos);
  CHECK(error(R"({"requests": []})").find("block_size") != std::string::npos);
  CHECK(error(R"({"block_size": 4, "requests": [{"hash_ids": [1, "a"]}]})")
            .find("requests[0].hash_ids[1]") != std::string::npos);
  const std::string path = WriteFile(
      dir, "s.json", R"({"block_size": 4, "requests": [{"x": 1}, {"hash_ids": [1]}]})");
  const Trace t = ReadOk(path, TraceFormat::kSessions, 4, /*skip_bad=*/true);
  CHECK(t.requests() == 1);
  CHECK(t.bad_lines == 1);
}

TEST_CASE(
    "the Mooncake conversation trace: 288,500 references, 182,790 distinct, "
    "36.6% ceiling",
    "[replay][trace][shared]") {
  const std::string path =
      std::string(KVTIER_SHARED_TRACES) + "/mooncake/conversation_trace.jsonl";
  if (!std::filesystem::exists(path)) KVTIER_SKIP("no shared trace at " + path);
  const Trace t = ReadOk(path, TraceFormat::kMooncake, 512);
  CHECK(t.requests() == 12'031);
  CHECK(t.references == 288'500);
  CHECK(t.distinct_references() == 182'790);
  const double ceiling = static_cast<double>(CeilingHits(t)) / t.references;
  CHECK(ceiling == Approx(0.366).margin(0.0005));
}

}  // namespace
}  // namespace kvtier::replay
