// vLLM's sha256_cbor block hashes and SGLang's page hashes (engine_hashes.h)
// against the golden file tests/golden/engine_hashes.py computes with hashlib
// and cbor2 as those engines' sources do, and the CBOR encoder against
// RFC 8949's own examples.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "kvtier/engine_hashes.h"
#include "lib/format/cbor_writer.h"
#include "tests/golden_support.h"

namespace kvtier {
namespace {

using testing::DigestOfHex;
using testing::EngineHashesGolden;
using testing::HexOf;

std::string CborHex(const CborValue& v) {
  std::vector<uint8_t> out;
  internal::CborWriter(out).Value(v);
  return HexOf(out);
}

VllmRequestKeys RequestOf(const nlohmann::json& j) {
  VllmRequestKeys r;
  if (j.contains("lora_name")) r.lora_name = j["lora_name"].get<std::string>();
  if (j.contains("cache_salt")) r.cache_salt = j["cache_salt"].get<std::string>();
  for (const auto& f : j.value("mm_features", nlohmann::json::array())) {
    r.mm_features.push_back({f["identifier"].get<std::string>(),
                             f["offset"].get<int64_t>(), f["length"].get<int64_t>()});
  }
  return r;
}

std::vector<std::string> Hex(const std::vector<Sha256Digest>& hashes) {
  std::vector<std::string> out;
  for (const Sha256Digest& h : hashes) out.push_back(HexOf(h));
  return out;
}

TEST_CASE("CBOR heads take their shortest form (RFC 8949 appendix A examples)",
          "[engine_hashes]") {
  using Items = std::vector<CborValue>;
  CHECK(CborHex({int64_t{0}}) == "00");
  CHECK(CborHex({int64_t{23}}) == "17");
  CHECK(CborHex({int64_t{24}}) == "1818");
  CHECK(CborHex({int64_t{1000}}) == "1903e8");
  CHECK(CborHex({int64_t{1000000}}) == "1a000f4240");
  CHECK(CborHex({int64_t{1000000000000}}) == "1b000000e8d4a51000");
  CHECK(CborHex({int64_t{-1}}) == "20");
  CHECK(CborHex({int64_t{-100}}) == "3863");
  CHECK(CborHex({int64_t{-1000}}) == "3903e7");
  CHECK(CborHex({INT64_MIN}) == "3b7fffffffffffffff");
  CHECK(CborHex({std::string("IETF")}) == "6449455446");
  CHECK(CborHex({std::vector<uint8_t>{1, 2, 3, 4}}) == "4401020304");
  CHECK(CborHex({Items{}}) == "80");
  CHECK(CborHex({Items{{int64_t{1}}, {Items{{int64_t{2}}, {int64_t{3}}}}}}) ==
        "8201820203");
  CHECK(CborHex({std::monostate{}}) == "f6");
}

TEST_CASE("vLLM NONE_HASH from PYTHONHASHSEED matches the golden file",
          "[engine_hashes]") {
  const nlohmann::json golden = EngineHashesGolden();
  for (const auto& [seed, hex] : golden["vllm_none_hash"].items()) {
    INFO("PYTHONHASHSEED=" << seed);
    Result<Sha256Digest> h = VllmNoneHash(seed);
    REQUIRE(h.ok());
    CHECK(HexOf(h.value()) == hex.get<std::string>());
  }
}

TEST_CASE("vLLM block hashes match the golden file bit for bit", "[engine_hashes]") {
  // Partial tails, 1-token blocks, LoRA, an empty LoRA name, salt, multimodal
  // items across blocks, and a request resumed after its prompt's blocks.
  const nlohmann::json golden = EngineHashesGolden();
  REQUIRE(golden["vllm"].size() >= 7);
  for (const auto& c : golden["vllm"]) {
    INFO("case " << c["name"].get<std::string>());
    Result<Sha256Digest> seed = VllmNoneHash(c["seed"].get<std::string>());
    REQUIRE(seed.ok());
    const auto tokens = c["tokens"].get<std::vector<uint32_t>>();
    std::vector<Sha256Digest> prior;
    for (const auto& p : c["prior"]) prior.push_back(DigestOfHex(p.get<std::string>()));
    Result<std::vector<Sha256Digest>> hashes =
        VllmBlockHashes(seed.value(), c["block_size"].get<uint32_t>(), tokens,
                        RequestOf(c["request"]), prior);
    REQUIRE(hashes.ok());
    CHECK(Hex(hashes.value()) == c["expected"].get<std::vector<std::string>>());
  }
}

TEST_CASE("vLLM: one block with extra keys built by hand equals the request's",
          "[engine_hashes]") {
  const Sha256Digest seed = VllmNoneHash("1234").value();
  const std::vector<uint32_t> tokens = {100, 101, 102, 103, 104, 105, 106, 107};
  VllmRequestKeys r;
  r.lora_name = "sql-lora";
  r.cache_salt = "tenant-a";
  const std::vector<Sha256Digest> chain = VllmBlockHashes(seed, 4, tokens, r).value();
  REQUIRE(chain.size() == 2);
  // Block 0 carries the LoRA name and the salt; block 1 the LoRA name only.
  const std::vector<CborValue> first = {{std::string("sql-lora")},
                                        {std::string("tenant-a")}};
  const std::vector<CborValue> second = {{std::string("sql-lora")}};
  CHECK(VllmHashBlock(seed, std::span(tokens).first(4), first).value() == chain[0]);
  CHECK(VllmHashBlock(chain[0], std::span(tokens).subspan(4), second).value() ==
        chain[1]);
  CHECK(VllmHashBlock(seed, std::span(tokens).first(4), std::nullopt).value() !=
        chain[0]);
}

TEST_CASE("vLLM: another seed, token or salt changes every later hash",
          "[engine_hashes]") {
  const std::vector<uint32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  const Sha256Digest s0 = VllmNoneHash("0").value();
  const auto base = VllmBlockHashes(s0, 4, tokens, {}).value();
  CHECK(VllmBlockHashes(VllmNoneHash("1").value(), 4, tokens, {}).value()[1] != base[1]);
  std::vector<uint32_t> other = tokens;
  other[0] = 9;
  CHECK(VllmBlockHashes(s0, 4, other, {}).value()[1] != base[1]);
  VllmRequestKeys salted;
  salted.cache_salt = "t";
  CHECK(VllmBlockHashes(s0, 4, tokens, salted).value()[1] != base[1]);
  // Prior blocks that cover every full block: nothing new, as vLLM.
  CHECK(VllmBlockHashes(s0, 4, tokens, {}, base).value().empty());
}

TEST_CASE("vLLM: bad block size and multimodal items are refused naming the field",
          "[engine_hashes]") {
  const Sha256Digest seed = VllmNoneHash("0").value();
  const std::vector<uint32_t> tokens(8, 1);
  Result<std::vector<Sha256Digest>> zero = VllmBlockHashes(seed, 0, tokens, {});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message().find("vllm.block_size") != std::string::npos);
  VllmRequestKeys unsorted;
  unsorted.mm_features = {{"b", 5, 1}, {"a", 1, 1}};
  Result<std::vector<Sha256Digest>> r = VllmBlockHashes(seed, 4, tokens, unsorted);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("vllm.mm_features[1].offset") != std::string::npos);
}

TEST_CASE("SGLang page hashes match the golden file bit for bit", "[engine_hashes]") {
  const nlohmann::json golden = EngineHashesGolden();
  REQUIRE(golden["sglang"].size() >= 3);
  for (const auto& c : golden["sglang"]) {
    INFO("case " << c["name"].get<std::string>());
    Result<std::vector<std::string>> hashes =
        SglangPageHashes(c["tokens"].get<std::vector<uint32_t>>(),
                         c["page_size"].get<uint32_t>(), c["prior"].get<std::string>());
    REQUIRE(hashes.ok());
    CHECK(hashes.value() == c["expected"].get<std::vector<std::string>>());
  }
  for (const auto& c : golden["sglang_page"]) {
    INFO("page " << c["name"].get<std::string>());
    Result<std::string> h = SglangHashPage(c["tokens"].get<std::vector<uint32_t>>(),
                                           c["prior"].get<std::string>());
    REQUIRE(h.ok());
    CHECK(h.value() == c["expected"].get<std::string>());
  }
}

TEST_CASE("SGLang: a bad prior hash or page size is refused naming the field",
          "[engine_hashes]") {
  const std::vector<uint32_t> tokens = {1, 2, 3, 4};
  for (const std::string bad : {"abc", "zz", "0g"}) {
    INFO("prior " << bad);
    Result<std::vector<std::string>> r = SglangPageHashes(tokens, 2, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("sglang.prior_hash") != std::string::npos);
  }
  Result<std::vector<std::string>> zero = SglangPageHashes(tokens, 0);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message().find("sglang.page_size") != std::string::npos);
  // Upper-case hex is the same bytes, as bytes.fromhex reads it.
  CHECK(SglangHashPage(tokens, "AB").value() == SglangHashPage(tokens, "ab").value());
}

}  // namespace
}  // namespace kvtier
