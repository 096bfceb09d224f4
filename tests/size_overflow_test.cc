// Counts whose products would overflow are refused with a clear error, never
// wrapped into a small number that lets a call run past its buffers.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "backends/nvme/open_nvme.h"
#include "kvtier/kvtier.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

Namespace SomeNamespace() {
  Namespace ns;
  ns.model_id = "overflow@1";
  return ns;
}

TEST_CASE("ChainInto refuses a block count whose token count would wrap size_t",
          "[hash][overflow]") {
  const PrefixHasher hasher(SomeNamespace(), 4);
  std::vector<uint32_t> tokens(8, 1);
  BlockHash one[1];
  // 2^62 blocks of 4 tokens "need" 2^64 = 0 tokens once wrapped. The span
  // is never written: the check comes first.
  const std::span<BlockHash> huge(one, size_t{1} << 62);
  const Status s = hasher.ChainInto(tokens, huge);
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("more than SIZE_MAX") != std::string::npos);
  // Just past the tokens given, without wrapping: the ordinary message.
  std::vector<BlockHash> three(3);
  CHECK(hasher.ChainInto(tokens, three).message().find("12 needed") != std::string::npos);
}

TEST_CASE("an NVMe tier refuses a layout whose stored block exceeds one I/O",
          "[nvme][overflow]") {
  testing::TempDir dir;
  Options o;
  o.model_id = "overflow@1";
  o.layout.num_layers = 2;
  o.layout.kv_heads = 64;
  o.layout.head_dim = 128;
  o.layout.dtype = DType::kFp16;
  o.layout.block_tokens = 65536;  // 1 GiB segments, 4 GiB blocks
  REQUIRE(o.layout.Validate().ok());
  o.nvme.capacity_bytes = uint64_t{1} << 40;
  o.nvme.directories = {dir.path().string()};
  const Status s = internal::OpenNvmeTier(o, {}).status();
  INFO(s.ToString());
  if (s.code() == StatusCode::kNotSupported) KVTIER_SKIP("built without the NVMe tier");
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("largest I/O") != std::string::npos);
}

}  // namespace
}  // namespace kvtier
