// Every eviction order's decisions, pinned: hits and evictions of the
// simulator on two generated session traces (a mix of chats, documents and
// one-shot prompts; agents with sub-agents, whose sessions close), with the
// traces' contexts, at three capacities. Speed-ups of the orders (their
// memory layout, shortcuts in FindVictim) must leave these exactly as they
// are; a policy change that moves them updates them and says so in
// bench/RESULTS.md. The same traces come from `kvtier-tracegen --kind mix
// --sessions 400 --session-gap-s 1 --docs 50` and `--kind agent --sessions
// 30 --session-gap-s 1`, so kvtier-replay --json prints the same counts.
#include <catch2/catch.hpp>

#include <string>

#include "bench/replay/simulator.h"
#include "bench/replay/trace_gen.h"
#include "bench/replay/trace_gen_writer.h"
#include "lib/index/eviction_order.h"
#include "tests/replay_support.h"

namespace kvtier {
namespace {

using kvtier::testing::TempDir;
using replay::Trace;

struct Pinned {
  uint64_t capacity;
  EvictionPolicy policy;
  uint64_t hits;
  uint64_t evictions;
};

Trace Generated(const TempDir& dir, const replay::GenOptions& o, const char* name) {
  const std::string folder = (dir.path() / name).string();
  REQUIRE(replay::WriteSessionsFolder(replay::Generate(o), folder).ok());
  return replay::testing::ReadOk(folder, replay::TraceFormat::kSessions);
}

void CheckPinned(const Trace& t, std::initializer_list<Pinned> pinned) {
  for (const Pinned& p : pinned) {
    const replay::SimResult r =
        replay::Simulate(t, replay::SimConfig{p.capacity, 0, p.policy});
    INFO(EvictionPolicyName(p.policy) << " at " << p.capacity);
    CHECK(r.hit_blocks == p.hits);
    CHECK(r.tiers[static_cast<int>(Tier::kHost)].evictions == p.evictions);
  }
}

constexpr EvictionPolicy kLru = EvictionPolicy::kLru;
constexpr EvictionPolicy kSlru = EvictionPolicy::kSlru;
constexpr EvictionPolicy kFreq = EvictionPolicy::kFrequency;
constexpr EvictionPolicy kSession = EvictionPolicy::kSession;

TEST_CASE("policies: hits and evictions on a generated mixed trace are pinned",
          "[policy][replay][session]") {
  TempDir dir;
  replay::GenOptions o;
  o.kind = replay::GenKind::kMix;
  o.sessions = 400;
  o.session_gap_s = 1;
  o.docs = 50;
  const Trace t = Generated(dir, o, "mix");
  REQUIRE(t.references == 30139);
  CheckPinned(t, {{50, kLru, 2035, 26086},
                  {50, kSlru, 2202, 25919},
                  {50, kFreq, 2084, 26037},
                  {50, kSession, 2268, 25853},
                  {200, kLru, 8054, 21885},
                  {200, kSlru, 8230, 21709},
                  {200, kFreq, 8073, 21866},
                  {200, kSession, 9365, 20574},
                  {800, kLru, 17645, 11694},
                  {800, kSlru, 17751, 11588},
                  {800, kFreq, 17664, 11675},
                  {800, kSession, 20864, 8475}});
}

TEST_CASE("policies: hits and evictions on a generated agent trace are pinned",
          "[policy][replay][session]") {
  TempDir dir;
  replay::GenOptions o;
  o.kind = replay::GenKind::kAgent;
  o.sessions = 30;
  o.session_gap_s = 1;
  const Trace t = Generated(dir, o, "agent");
  REQUIRE(t.references == 172595);
  CheckPinned(t, {{50, kLru, 80443, 14986},
                  {50, kSlru, 80443, 14986},
                  {50, kFreq, 80443, 14986},
                  {50, kSession, 80448, 14981},
                  {200, kLru, 110552, 48359},
                  {200, kSlru, 110552, 48359},
                  {200, kFreq, 110565, 48346},
                  {200, kSession, 111129, 47782},
                  {800, kLru, 165436, 6359},
                  {800, kSlru, 165459, 6336},
                  {800, kFreq, 165474, 6321},
                  {800, kSession, 167252, 4543}});
}

}  // namespace
}  // namespace kvtier
