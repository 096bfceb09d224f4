// Helpers for the tests that run a tool's real binary (kvtier-replay,
// kvtier-bench): exit code, stdout and stderr, and the JSON last line.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace kvtier::testing {

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout; stderr goes to err
  std::string err;
};

// Runs `binary args`; stderr is collected through a file in `dir`.
inline CliRun RunCli(const std::string& binary, const TempDir& dir,
                     const std::string& args) {
  const std::string err_path = (dir.path() / "stderr.txt").string();
  const std::string command = binary + " " + args + " 2>" + err_path;
  CliRun run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  run.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  return run;
}

// The last line of `out`, parsed as one JSON object.
inline nlohmann::json LastLineJson(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const size_t start = text.rfind('\n');
  return nlohmann::json::parse(start == std::string::npos ? text
                                                          : text.substr(start + 1));
}

}  // namespace kvtier::testing
