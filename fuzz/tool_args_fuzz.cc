// Fuzzes the tools' command lines: the first byte picks kvtier-replay or
// kvtier-bench, the rest is split at '\n' into arguments for its parser
// (ParseReplayArgs, ParseBenchArgs: CLI11, then the checks of values that
// depend on each other). Every command line is accepted or refused with an
// exit code, never a crash or an escaping exception. --config (which reads a
// file) is left out; paths are only stat-ed by the parsers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/kvtier_bench/args.h"
#include "bench/replay/args.h"

namespace {

std::vector<std::string> Split(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string arg;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(arg);
      arg.clear();
    } else {
      arg.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(arg);
  return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool replay = (data[0] & 1) != 0;
  std::vector<std::string> args = Split(data + 1, size - 1);
  for (const std::string& a : args) {
    if (a.find("config") != std::string::npos) return 0;
  }
  args.insert(args.begin(), replay ? "kvtier-replay" : "kvtier-bench");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  const int argc = static_cast<int>(argv.size());
  if (replay) {
    kvtier::replay::Args a;
    (void)kvtier::replay::ParseReplayArgs(argc, argv.data(), &a);
  } else {
    kvtier::bench::Args a;
    kvtier::bench::BenchConfig c;
    (void)kvtier::bench::ParseBenchArgs(argc, argv.data(), &a, &c);
  }
  return 0;
}
