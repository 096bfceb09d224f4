// DESIGN invariant 8: a build without liburing or RocksDB still builds, and
// asking for the NVMe tier is NotSupported naming the option, never ignored.
#include <catch2/catch.hpp>

#include "tests/nvme_support.h"

namespace kvtier {
namespace {

TEST_CASE("a build without the NVMe tier says NotSupported", "[nvme][bad-input]") {
  testing::TempDir dir;
  const Result<std::unique_ptr<Store>> opened =
      Store::Open(testing::NvmeOptions(dir.path(), 2, 8));
  if (opened.ok()) {
    KVTIER_SKIP("this build has the NVMe tier (configure with -DKVTIER_WITH_NVME=OFF)");
  }
  INFO(opened.status().ToString());
  CHECK(opened.status().code() == StatusCode::kNotSupported);
  CHECK(opened.status().message().find("options.nvme") != std::string::npos);
}

}  // namespace
}  // namespace kvtier
