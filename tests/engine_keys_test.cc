// Engine keys (engine_keys.h): the mapping pinned by golden vectors computed
// outside this code (tests/golden/engine_hashes.py), profiles, groups and
// namespaces kept apart, keys refused by their profile, and a real store
// serving chains named by vLLM's block hashes: prefix lookups, loads of the
// saved bytes, tails evicted first, descendants erased.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "kvtier/engine_hashes.h"
#include "kvtier/engine_keys.h"
#include "lib/stored_block.h"
#include "tests/golden_support.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::BytesOfHex;
using testing::EngineBuffers;
using testing::EngineHashesGolden;
using testing::SmallLayout;

std::string_view View(const std::vector<uint8_t>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string_view View(const Sha256Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// vLLM's keys for `n` blocks of 4 tokens: the first `shared` blocks' tokens
// common to every seed, the rest seed's own.
BlockHash RootOf(const std::string& model_id) {
  Namespace ns;
  ns.model_id = model_id;
  return PrefixHasher::NamespaceRoot(ns);
}

std::vector<Sha256Digest> VllmKeys(uint32_t seed, size_t n, size_t shared = 0) {
  std::vector<uint32_t> tokens(n * 4);
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = i < shared * 4 ? static_cast<uint32_t>(i) : seed * 1000 + i;
  return VllmBlockHashes(VllmNoneHash("0").value(), 4, tokens, {}).value();
}

struct KeyedStore {
  explicit KeyedStore(size_t blocks) {
    Options o;
    o.layout = SmallLayout();
    o.model_id = "engine-keys@1";
    o.host.capacity_bytes =
        blocks * ((internal::StoredBlockBytes(o.layout.BlockBytes()) + 63) / 64 * 64);
    o.host.lock_memory = false;
    store = std::move(Store::Open(o)).value();
  }
  std::vector<BlockHash> Chain(const std::vector<Sha256Digest>& keys) const {
    EngineKeyMapper mapper(store->hasher().root(), KeyProfile::kVllm);
    Result<std::vector<BlockHash>> chain = mapper.Chain(keys);
    REQUIRE(chain.ok());
    return std::move(chain).value();
  }
  void Save(const std::vector<BlockHash>& chain) {
    EngineBuffers src(store->layout(), chain.size());
    src.FillFrom(chain);
    REQUIRE(store->Save(chain, src.all()).ok());
  }
  std::unique_ptr<Store> store;
};

TEST_CASE("engine keys: the mapping matches golden vectors computed outside kvtier",
          "[engine_keys]") {
  const nlohmann::json golden = EngineHashesGolden();
  REQUIRE(golden["engine_keys"].size() >= 7);
  for (const auto& c : golden["engine_keys"]) {
    const BlockHash root{std::stoull(c["root_lo"].get<std::string>(), nullptr, 16),
                         std::stoull(c["root_hi"].get<std::string>(), nullptr, 16)};
    EngineKeyMapper mapper(root, static_cast<KeyProfile>(c["profile"].get<uint32_t>()),
                           c["group"].get<uint32_t>());
    const std::vector<uint8_t> key = BytesOfHex(c["key"].get<std::string>());
    INFO("profile " << c["profile"] << " group " << c["group"] << " key " << c["key"]);
    Result<BlockHash> h = mapper.Map(View(key));
    REQUIRE(h.ok());
    CHECK(h.value().ToHex() == c["expected"].get<std::string>());
  }
}

TEST_CASE("engine keys: profiles, groups and namespaces never share a BlockHash",
          "[engine_keys]") {
  const Sha256Digest key = VllmNoneHash("0").value();
  const BlockHash root = RootOf("m@1");
  const BlockHash other_root = RootOf("m@2");
  const std::vector<BlockHash> names = {
      EngineKeyMapper(root, KeyProfile::kVllm, 0).Map(View(key)).value(),
      EngineKeyMapper(root, KeyProfile::kVllm, 1).Map(View(key)).value(),
      EngineKeyMapper(root, KeyProfile::kBytes, 0).Map(View(key)).value(),
      EngineKeyMapper(other_root, KeyProfile::kVllm, 0).Map(View(key)).value(),
  };
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = i + 1; j < names.size(); ++j) CHECK(names[i] != names[j]);
  // The same inputs always give the same name.
  CHECK(EngineKeyMapper(root, KeyProfile::kVllm, 0).Map(View(key)).value() == names[0]);
}

TEST_CASE("engine keys: a chain's tail maps alone to the names it has in the chain",
          "[engine_keys]") {
  const std::vector<Sha256Digest> keys = VllmKeys(1, 5);
  EngineKeyMapper mapper(RootOf("m@1"), KeyProfile::kVllm);
  const std::vector<BlockHash> whole = mapper.Chain(keys).value();
  const std::vector<BlockHash> tail =
      mapper.Chain(std::span<const Sha256Digest>(keys).subspan(3)).value();
  REQUIRE(tail.size() == 2);
  CHECK(tail[0] == whole[3]);
  CHECK(tail[1] == whole[4]);
}

TEST_CASE("engine keys: a key its profile does not take is refused, naming it",
          "[engine_keys]") {
  const BlockHash root = RootOf("m@1");
  struct Bad {
    KeyProfile profile;
    std::string key;
    std::string says;
  };
  const Bad bad[] = {
      {KeyProfile::kVllm, std::string(31, 'x'), "32 bytes"},
      {KeyProfile::kVllm, std::string(36, 'x'), "BlockHashWithGroupId"},
      {KeyProfile::kSglang, std::string(63, 'a'), "64 lowercase hex"},
      {KeyProfile::kSglang, std::string(64, 'A'), "64 lowercase hex"},
      {KeyProfile::kBytes, "", "1 to 1024"},
      {KeyProfile::kBytes, std::string(kMaxEngineKeyBytes + 1, 'x'), "1 to 1024"},
      {static_cast<KeyProfile>(7), "x", "unknown profile 7"},
  };
  for (const Bad& b : bad) {
    INFO("refusal expected to say " << b.says);
    // A first key the profile takes, then the bad one.
    const std::string good(b.profile == KeyProfile::kVllm ? 32 : 64, 'a');
    const std::vector<std::string_view> keys = {good, b.key};
    std::vector<BlockHash> out(2);
    Status s = EngineKeyMapper(root, b.profile).ChainInto(keys, out);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidArgument);
    const bool known = static_cast<uint32_t>(b.profile) <= 2;
    CHECK(s.message().find(known ? "engine_keys.keys[1]" : "engine_keys.keys[0]") !=
          std::string::npos);
    CHECK(s.message().find(b.says) != std::string::npos);
  }
  std::vector<BlockHash> small(1);
  const std::vector<std::string_view> two = {"a", "b"};
  Status s = EngineKeyMapper(root, KeyProfile::kBytes).ChainInto(two, small);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("engine_keys.out") != std::string::npos);
}

TEST_CASE("engine keys: a store serves the longest saved prefix of an engine-keyed chain",
          "[engine_keys]") {
  KeyedStore s(32);
  // Two requests sharing their first 2 blocks, as vLLM names them.
  const std::vector<BlockHash> a = s.Chain(VllmKeys(1, 5, 2));
  const std::vector<BlockHash> b = s.Chain(VllmKeys(2, 4, 2));
  REQUIRE(a[1] == b[1]);
  REQUIRE(a[2] != b[2]);
  s.Save(a);
  CHECK(s.store->Lookup(a).blocks == 5);
  CHECK(s.store->Lookup(b).blocks == 2);
  EngineBuffers dst(s.store->layout(), 2);
  Result<LoadResult> loaded = s.store->Load(std::span(b).first(2), dst.all());
  REQUIRE(loaded.ok());
  REQUIRE(loaded->blocks == 2);
  CHECK(dst.Matches(0, a[0]));
  CHECK(dst.Matches(1, a[1]));
}

TEST_CASE("engine keys: a full tier evicts an engine-keyed chain's tail first",
          "[engine_keys]") {
  KeyedStore s(6);
  const std::vector<BlockHash> a = s.Chain(VllmKeys(1, 6));
  s.Save(a);
  REQUIRE(s.store->Lookup(a).blocks == 6);
  // Two new blocks: two of a's must go, and they are its tail, so the prefix
  // a later request would look up is still whole.
  s.Save(s.Chain(VllmKeys(2, 2)));
  CHECK(s.store->Lookup(a).blocks == 4);
  CHECK(s.store->Stats().tier(Tier::kHost).blocks == 6);
}

TEST_CASE("engine keys: erasing an engine-keyed block erases the blocks below it",
          "[engine_keys]") {
  KeyedStore s(32);
  const std::vector<BlockHash> a = s.Chain(VllmKeys(1, 5, 2));
  const std::vector<BlockHash> b = s.Chain(VllmKeys(2, 4, 2));
  s.Save(a);
  s.Save(b);
  Result<EraseResult> erased = s.store->Erase(std::span(a).subspan(1, 1));
  REQUIRE(erased.ok());
  CHECK(erased->blocks == 4 + 2);  // a[1..5) and b[2..4): both continue through a[1]
  CHECK(s.store->Lookup(a).blocks == 1);
  CHECK(s.store->Lookup(b).blocks == 1);
}

}  // namespace
}  // namespace kvtier
