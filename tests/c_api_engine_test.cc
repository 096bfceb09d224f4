// The C API's engine calls: engine keys to a store's chain (the C++ mapper's
// names, usable by save and lookup), vLLM's and SGLang's block hashes (the
// golden file's), and every wrong size or count refused with a message
// naming the field while the store stays usable.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kvtier/engine_keys.h"
#include "kvtier/kvtier_c.h"
#include "lib/c_api/c_api_support.h"
#include "tests/c_api_test_support.h"
#include "tests/golden_support.h"

namespace {

using kvtier::testing::DigestOfHex;
using kvtier::testing::EngineHashesGolden;
using kvtier::testing::HexOf;

using kvtier::testing::CheckNames;

// Its own model id: the engine keys' golden names depend on the namespace.
struct CStore : kvtier::testing::CStore {
  CStore() : kvtier::testing::CStore("c-engine@1") {}
};

// `n` SGLang-looking keys: 64 hex digits each, end to end.
std::string SglangKeys(size_t n, char first) {
  std::string keys;
  for (size_t i = 0; i < n; ++i)
    keys += std::string(63, 'a') + static_cast<char>(first + i);
  return keys;
}

kvtier_code Chain(CStore& s, const std::string& keys, const std::vector<size_t>& sizes,
                  std::vector<kvtier_block_hash>& out, uint32_t group = 0) {
  return kvtier_engine_key_chain(
      s.store, KVTIER_KEYS_SGLANG, group, reinterpret_cast<const uint8_t*>(keys.data()),
      keys.size(), sizes.data(), sizes.size(), out.data(), out.size(), &s.err);
}

TEST_CASE(
    "c api: engine keys give the C++ mapper's names and a chain save and lookup take",
    "[c_api][engine_keys]") {
  CStore s;
  const std::string keys = SglangKeys(3, '0');
  const std::vector<size_t> sizes(3, 64);
  std::vector<kvtier_block_hash> chain(3);
  REQUIRE(Chain(s, keys, sizes, chain) == KVTIER_OK);
  kvtier::EngineKeyMapper mapper(s.store->store->hasher().root(),
                                 kvtier::KeyProfile::kSglang);
  for (size_t i = 0; i < 3; ++i) {
    const kvtier::BlockHash want =
        mapper.Map(std::string_view(keys).substr(i * 64, 64)).value();
    CHECK(chain[i].lo == want.lo);
    CHECK(chain[i].hi == want.hi);
  }
  std::vector<kvtier_block_hash> other_group(3);
  REQUIRE(Chain(s, keys, sizes, other_group, /*group=*/1) == KVTIER_OK);
  CHECK(other_group[0].lo != chain[0].lo);

  const size_t seg_bytes = kvtier_segment_bytes(s.store);
  const size_t per_block = kvtier_segments_per_block(s.store);
  std::vector<unsigned char> memory(3 * per_block * seg_bytes, 0x5a);
  std::vector<kvtier_segment> segs(3 * per_block);
  for (size_t i = 0; i < segs.size(); ++i)
    segs[i] = {memory.data() + i * seg_bytes, seg_bytes, 0};
  size_t stored = 0, hit = 0;
  REQUIRE(kvtier_save(s.store, chain.data(), 2, 0, segs.data(), 2 * per_block, &stored,
                      &s.err) == KVTIER_OK);
  REQUIRE(kvtier_lookup(s.store, chain.data(), 3, &hit, &s.err) == KVTIER_OK);
  CHECK(hit == 2);
}

TEST_CASE(
    "c api: engine key sizes that do not add up, or a bad key, are refused by field",
    "[c_api][engine_keys]") {
  CStore s;
  const std::string keys = SglangKeys(2, '0');
  std::vector<kvtier_block_hash> out(2);
  CHECK(Chain(s, keys, {64, 63}, out) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_key_chain.key_bytes_len");
  CHECK(Chain(s, keys, {64, 65}, out) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_key_chain.key_sizes[1]");
  CHECK(Chain(s, keys, {32, 96}, out) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_keys.keys[0]");
  std::vector<kvtier_block_hash> one(1);
  CHECK(Chain(s, keys, {64, 64}, one) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "engine_key_chain.n_out");
  CHECK(kvtier_engine_key_chain(s.store, static_cast<kvtier_key_profile>(9), 0,
                                reinterpret_cast<const uint8_t*>("x"), 1,
                                std::vector<size_t>{1}.data(), 1, out.data(), 1,
                                &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "unknown profile 9");
  CHECK(kvtier_engine_key_chain(s.store, KVTIER_KEYS_BYTES, 0, nullptr, 4, nullptr, 0,
                                out.data(), 0, &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "key_bytes");
  // Still usable.
  REQUIRE(Chain(s, keys, {64, 64}, out) == KVTIER_OK);
}

TEST_CASE("c api: vLLM and SGLang hashes match the golden file",
          "[c_api][engine_hashes]") {
  const nlohmann::json golden = EngineHashesGolden();
  kvtier_error err{};
  uint8_t seed[KVTIER_VLLM_HASH_BYTES];
  REQUIRE(kvtier_vllm_none_hash("1234", 4, seed, &err) == KVTIER_OK);
  CHECK(HexOf(seed) == golden["vllm_none_hash"]["1234"].get<std::string>());

  for (const auto& c : golden["vllm"]) {
    INFO("vllm case " << c["name"].get<std::string>());
    const auto tokens = c["tokens"].get<std::vector<uint32_t>>();
    const auto& r = c["request"];
    const std::string lora = r.value("lora_name", ""), salt = r.value("cache_salt", "");
    std::vector<std::string> ids;
    std::vector<kvtier_vllm_mm_feature> mm;
    for (const auto& f : r.value("mm_features", nlohmann::json::array()))
      ids.push_back(f["identifier"].get<std::string>());
    size_t i = 0;
    for (const auto& f : r.value("mm_features", nlohmann::json::array())) {
      mm.push_back({ids[i].data(), ids[i].size(), f["offset"].get<int64_t>(),
                    f["length"].get<int64_t>()});
      ++i;
    }
    kvtier_vllm_request_keys keys{};
    keys.struct_size = sizeof(keys);
    keys.has_lora = r.contains("lora_name");
    keys.lora_name = lora.data();
    keys.lora_name_len = lora.size();
    keys.mm_features = mm.data();
    keys.mm_feature_count = mm.size();
    keys.cache_salt = salt.data();
    keys.cache_salt_len = salt.size();
    std::vector<uint8_t> prior;
    for (const auto& p : c["prior"]) {
      const kvtier::Sha256Digest d = DigestOfHex(p.get<std::string>());
      prior.insert(prior.end(), d.begin(), d.end());
    }
    const size_t n_out = c["expected"].size();
    std::vector<uint8_t> out(n_out * 32);
    size_t written = 0;
    REQUIRE(kvtier_vllm_block_hashes(seed, c["block_size"].get<uint32_t>(), tokens.data(),
                                     tokens.size(), &keys, prior.data(),
                                     prior.size() / 32, out.data(), n_out, &written,
                                     &err) == KVTIER_OK);
    REQUIRE(written == n_out);
    for (size_t b = 0; b < n_out; ++b) {
      CHECK(HexOf(std::span(out).subspan(b * 32, 32)) ==
            c["expected"][b].get<std::string>());
    }
  }
  for (const auto& c : golden["sglang"]) {
    INFO("sglang case " << c["name"].get<std::string>());
    const auto tokens = c["tokens"].get<std::vector<uint32_t>>();
    const std::string prior = c["prior"].get<std::string>();
    const size_t n_out = c["expected"].size();
    std::string out(n_out * KVTIER_SGLANG_HASH_CHARS, '?');
    size_t written = 0;
    REQUIRE(kvtier_sglang_page_hashes(tokens.data(), tokens.size(),
                                      c["page_size"].get<uint32_t>(), prior.data(),
                                      prior.size(), out.data(), n_out, &written,
                                      &err) == KVTIER_OK);
    REQUIRE(written == n_out);
    for (size_t p = 0; p < n_out; ++p)
      CHECK(out.substr(p * 64, 64) == c["expected"][p].get<std::string>());
  }
}

TEST_CASE("c api: hash profile outputs too small or bad structs are refused by field",
          "[c_api][engine_hashes]") {
  kvtier_error err{};
  uint8_t seed[KVTIER_VLLM_HASH_BYTES] = {};
  const std::vector<uint32_t> tokens(12, 7);
  std::vector<uint8_t> out(2 * 32);
  size_t written = 99;
  CHECK(kvtier_vllm_block_hashes(seed, 4, tokens.data(), tokens.size(), nullptr, nullptr,
                                 0, out.data(), 2, &written,
                                 &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "vllm_block_hashes.n_out");
  CHECK(written == 99);
  // One prior block: two new ones fit.
  CHECK(kvtier_vllm_block_hashes(seed, 4, tokens.data(), tokens.size(), nullptr,
                                 out.data(), 1, out.data(), 2, &written,
                                 &err) == KVTIER_OK);
  CHECK(written == 2);
  kvtier_vllm_request_keys keys{};
  keys.struct_size = sizeof(keys) + 8;
  CHECK(kvtier_vllm_block_hashes(seed, 4, tokens.data(), tokens.size(), &keys, nullptr, 0,
                                 out.data(), 3, &written,
                                 &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "vllm_block_hashes.request.struct_size");
  keys.struct_size = sizeof(keys);
  keys.mm_feature_count = 1;
  CHECK(kvtier_vllm_block_hashes(seed, 4, tokens.data(), tokens.size(), &keys, nullptr, 0,
                                 out.data(), 3, &written,
                                 &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "request.mm_features");
  CHECK(kvtier_vllm_block_hashes(seed, 0, tokens.data(), tokens.size(), nullptr, nullptr,
                                 0, out.data(), 3, &written,
                                 &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "vllm_block_hashes.block_size");

  std::string pages(64, '?');
  CHECK(kvtier_sglang_page_hashes(tokens.data(), tokens.size(), 4, nullptr, 0,
                                  pages.data(), 1, &written,
                                  &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "sglang_page_hashes.n_out");
  CHECK(kvtier_sglang_page_hashes(tokens.data(), tokens.size(), 12, "xy", 2, pages.data(),
                                  1, &written, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "sglang.prior_hash");
  CHECK(kvtier_sglang_page_hashes(tokens.data(), tokens.size(), 12, nullptr, 0,
                                  pages.data(), 1, &written, &err) == KVTIER_OK);
  CHECK(pages.find('?') == std::string::npos);
}

}  // namespace
