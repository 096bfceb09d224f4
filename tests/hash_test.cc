// PrefixHasher: the golden vectors that pin hash.h's byte layout, and the
// properties the store relies on (namespaces apart, prefixes equal, chains
// stable).
//
// The golden values were NOT produced by this code. Each input was built byte
// by byte in Python from hash.h's layout and hashed by the xxhsum CLI
// (xxhash 0.8.1), which prints XXH128 as hi then lo, like ToHex():
//
//   ns   = b"kvtier.ns.v1" + pack("<I", len(m)) + m + pack("<QII", fp, codec, rank)
//          + pack("<I", len(s)) + s
//   blk  = pack("<QQ", parent.lo, parent.hi) + pack("<4I", *tokens) + extra
//   open(f, "wb").write(ns); xxhsum -H2 f        (XXH3-128, seed 0)
#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kvtier/hash.h"

namespace kvtier {
namespace {

Namespace SampleNamespace() {
  Namespace ns;
  ns.model_id = "meta-llama/Llama-3.1-8B@main";
  ns.layout_fingerprint = 0x0123456789abcdefull;
  ns.codec_tag = 7;
  ns.rank = 1;
  ns.tenant_salt = "tenant-a";
  return ns;
}

// Two full blocks of 4 and one partial token. 0xFFFFFFFF and 128000 catch a
// narrowed or big-endian token encoding.
const std::vector<uint32_t> kTokens = {128000, 9906, 1917,   0, 0xFFFFFFFFu,
                                       42,     7,    100000, 5};

std::vector<std::byte> Bytes(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

// Tokens of the big-block vectors: (i * 2654435761) mod 2^32.
std::vector<uint32_t> BigTokens(size_t n) {
  std::vector<uint32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(i * 2654435761ull);
  return out;
}

TEST_CASE("ToHex prints hi then lo as 32 lowercase hex digits", "[hash]") {
  BlockHash h{0x0000000000000abcull, 0xfedcba9876543210ull};
  CHECK(h.ToHex() == "fedcba98765432100000000000000abc");
  CHECK(BlockHash{}.ToHex() == std::string(32, '0'));
}

TEST_CASE("namespace root golden vectors never change", "[hash]") {
  BlockHash root = PrefixHasher::NamespaceRoot(SampleNamespace());
  // lo/hi pinned directly, so a swapped ToHex cannot hide a swapped struct.
  CHECK(root.hi == 0x27f60645753abf64ull);
  CHECK(root.lo == 0x588acbf003ffeca5ull);
  CHECK(PrefixHasher(SampleNamespace(), 4).root() == root);
  CHECK(PrefixHasher::NamespaceRoot(Namespace{}).ToHex() ==
        "e0f82933bdcc81e61b3ae1817dc2e3ae");
}

TEST_CASE("block hash golden vectors never change", "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 4);
  std::vector<BlockHash> chain = hasher.Chain(kTokens);
  REQUIRE(chain.size() == 2);
  CHECK(chain[0].ToHex() == "591b6c98136d9311b6b82132d6b131cb");
  CHECK(chain[1].ToHex() == "e5a2568699af25bb210a7d286390a62f");
}

TEST_CASE("extra key bytes are hashed into every block (golden)", "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 4);
  std::vector<std::byte> lora = Bytes("lora:7");
  std::vector<BlockHash> chain = hasher.Chain(kTokens, lora);
  REQUIRE(chain.size() == 2);
  CHECK(chain[0].ToHex() == "054cd6572faa09871c2d1c59790fe7bd");
  CHECK(chain[1].ToHex() == "f1e649d88242bd07720b81029477cb92");
  CHECK(chain[0] != hasher.Chain(kTokens)[0]);
}

TEST_CASE("blocks too big for the stack buffer hash the same bytes (golden)", "[hash]") {
  std::vector<uint32_t> tokens = BigTokens(2048);
  SECTION("1024-token blocks take the streaming path") {
    std::vector<BlockHash> chain = PrefixHasher(SampleNamespace(), 1024).Chain(tokens);
    REQUIRE(chain.size() == 2);
    CHECK(chain[0].ToHex() == "6b30b92862b350343312e181d150d0dc");
    CHECK(chain[1].ToHex() == "567dcdece90a4e9d46718117bc15fc07");
  }
  SECTION("inputs of exactly 4096 bytes and one more straddle the paths") {
    PrefixHasher hasher(SampleNamespace(), 1020);  // 16 + 4080 bytes before extra
    std::span<const uint32_t> block(tokens.data(), 1020);
    CHECK(hasher.Next(hasher.root(), block, Bytes("0123456789abcdef")).ToHex() ==
          "ddbd4dc55bfdb6e15948c31b71ed9644");
    CHECK(hasher.Next(hasher.root(), block, Bytes("0123456789abcdef!")).ToHex() ==
          "8804ca23d5ad7eeb8833c51841c3089e");
  }
}

TEST_CASE("common block sizes hash the documented bytes (golden)", "[hash]") {
  // 1, 16, 32 and 64 tokens run a loop specialised for its length; pin each.
  struct Golden {
    uint32_t block_tokens;
    const char* block0;
    const char* block1;
  };
  const Golden goldens[] = {
      {1, "498c9c558db01772b5be07f890b1469c", "297ace4c5299a7220539423586537ee6"},
      {16, "6defea52653a049d2404c1de2ba46662", "5b1b5e50ead2cce315e30b1f659d0e34"},
      {32, "8b04af18c3a526adaa89f7982913d869", "6970bd16f95cef4a1054f04b927f68db"},
      {64, "cc7df5ef6e90512289897107f94fc672", "ff488e14cf9c370181416298eb692280"},
  };
  std::vector<uint32_t> tokens = BigTokens(128);
  for (const Golden& g : goldens) {
    INFO("block_tokens " << g.block_tokens);
    PrefixHasher hasher(SampleNamespace(), g.block_tokens);
    std::vector<BlockHash> chain =
        hasher.Chain(std::span(tokens).first(2 * g.block_tokens));
    REQUIRE(chain.size() == 2);
    CHECK(chain[0].ToHex() == g.block0);
    CHECK(chain[1].ToHex() == g.block1);
    CHECK(hasher.Next(chain[0], std::span(tokens).subspan(g.block_tokens,
                                                          g.block_tokens)) == chain[1]);
  }
}

TEST_CASE("namespaces differing in any field share no root and no block hash", "[hash]") {
  const Namespace base = SampleNamespace();
  std::vector<Namespace> variants(7, base);
  variants[1].model_id = "meta-llama/Llama-3.1-8B@other";
  variants[2].layout_fingerprint ^= 1;
  variants[3].codec_tag = 8;
  variants[4].rank = 2;
  variants[5].tenant_salt = "tenant-b";
  // Length prefixes keep field boundaries apart: "...main" + "tenant-a" must
  // not equal "...maint" + "enant-a".
  variants[6].model_id = base.model_id + "t";
  variants[6].tenant_salt = "enant-a";

  std::vector<std::vector<BlockHash>> chains;
  for (const Namespace& ns : variants)
    chains.push_back(PrefixHasher(ns, 4).Chain(kTokens));
  for (size_t i = 0; i < variants.size(); ++i) {
    for (size_t j = i + 1; j < variants.size(); ++j) {
      INFO("namespace variants " << i << " and " << j);
      CHECK(PrefixHasher::NamespaceRoot(variants[i]) !=
            PrefixHasher::NamespaceRoot(variants[j]));
      for (size_t b = 0; b < chains[i].size(); ++b) CHECK(chains[i][b] != chains[j][b]);
    }
  }
}

TEST_CASE("a changed token in block i changes hashes i.. and keeps 0..i-1", "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 16);
  std::vector<uint32_t> tokens = BigTokens(16 * 8);
  const std::vector<BlockHash> base = hasher.Chain(tokens);
  REQUIRE(base.size() == 8);
  CHECK(hasher.Chain(tokens) == base);  // deterministic

  for (size_t i = 0; i < base.size(); ++i) {
    std::vector<uint32_t> changed = tokens;
    changed[i * 16 + 15] += 1;  // the last token of block i
    const std::vector<BlockHash> other = hasher.Chain(changed);
    INFO("changed block " << i);
    for (size_t b = 0; b < i; ++b) CHECK(other[b] == base[b]);
    for (size_t b = i; b < base.size(); ++b) CHECK(other[b] != base[b]);
  }
}

TEST_CASE("a prompt's chain is the prefix of its extension's chain", "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 16);
  std::vector<uint32_t> longer = BigTokens(16 * 10 + 3);
  std::vector<uint32_t> shorter(longer.begin(), longer.begin() + 16 * 6 + 9);
  const std::vector<BlockHash> a = hasher.Chain(shorter);
  const std::vector<BlockHash> b = hasher.Chain(longer);
  REQUIRE(a.size() == 6);
  REQUIRE(b.size() == 10);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
}

TEST_CASE("a trailing partial block is not hashed", "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 4);
  CHECK(hasher.Chain(std::span(kTokens).first(3)).empty());
  CHECK(hasher.Chain(std::span(kTokens).first(4)).size() == 1);
  CHECK(hasher.Chain(std::span(kTokens).first(7)).size() == 1);
  CHECK(hasher.Chain(std::span(kTokens).first(8)).size() == 2);
  CHECK(hasher.Chain(kTokens).size() == 2);  // 9 tokens
  CHECK(hasher.Chain({}).empty());
}

TEST_CASE("Chain equals repeated Next from the root", "[hash]") {
  for (uint32_t block_tokens : {1u, 16u, 1024u}) {
    PrefixHasher hasher(SampleNamespace(), block_tokens);
    std::vector<uint32_t> tokens = BigTokens(block_tokens * 5);
    std::vector<std::byte> extra = Bytes("image:9f86d081");
    for (bool with_extra : {false, true}) {
      std::span<const std::byte> key =
          with_extra ? std::span<const std::byte>(extra) : std::span<const std::byte>();
      const std::vector<BlockHash> chain = hasher.Chain(tokens, key);
      REQUIRE(chain.size() == 5);
      BlockHash parent = hasher.root();
      for (size_t b = 0; b < chain.size(); ++b) {
        parent = hasher.Next(
            parent, std::span(tokens).subspan(b * block_tokens, block_tokens), key);
        INFO("block_tokens " << block_tokens << ", extra " << with_extra << ", block "
                             << b);
        CHECK(chain[b] == parent);
      }
    }
  }
}

TEST_CASE("ChainInto fills the first blocks and refuses too few tokens", "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 4);
  const std::vector<BlockHash> chain = hasher.Chain(kTokens);

  std::vector<BlockHash> out(2);
  REQUIRE(hasher.ChainInto(kTokens, out).ok());
  CHECK(out == chain);

  std::vector<BlockHash> one(1);
  REQUIRE(hasher.ChainInto(std::span(kTokens).first(4), one).ok());
  CHECK(one[0] == chain[0]);

  std::vector<BlockHash> three(3, BlockHash{1, 1});
  Status s = hasher.ChainInto(kTokens, three);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().rfind("chain:", 0) == 0);
  CHECK(s.message().find("9 tokens given") != std::string::npos);
  CHECK(s.message().find("12 needed") != std::string::npos);
  CHECK(three[0] == BlockHash{1, 1});  // nothing written on failure

  CHECK(hasher.ChainInto({}, std::span<BlockHash>()).ok());
}

TEST_CASE("a hasher with block_tokens 0 returns no hashes instead of crashing",
          "[hash]") {
  PrefixHasher hasher(SampleNamespace(), 0);
  CHECK(hasher.Chain(kTokens).empty());
  std::vector<BlockHash> out(1);
  Status s = hasher.ChainInto(kTokens, out);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().rfind("chain:", 0) == 0);
}

}  // namespace
}  // namespace kvtier
