// scripts/gpu-check.sh: what a machine with a GPU runs (the GPU tests and the
// transfer ratios as JSON); without a GPU it says so and exits 77.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "backends/gpu/copy_engine.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

TEST_CASE("gpu-check.sh says there is no GPU and exits 77 on a machine without one",
          "[gpu][script]") {
  if (internal::OpenCudaCopyEngine(0).ok()) KVTIER_SKIP("this machine has a CUDA device");
  const std::string cmd = std::string(KVTIER_SOURCE_DIR) + "/scripts/gpu-check.sh " +
                          KVTIER_BENCH_BIN + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = pclose(p);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 77);
  CHECK(out.find("no usable GPU") != std::string::npos);
}

}  // namespace
}  // namespace kvtier
