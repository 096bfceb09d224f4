// The bench tools' command-line conventions (CLI11): --help exits 0, a bad
// argument prints "<tool>: <message>\n(see --help)" and exits 2.
#pragma once

#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace kvtier::bench {

inline constexpr int kArgError = 2;

inline int ArgError(const std::string& tool, const std::string& message) {
  std::cerr << tool << ": " << message << "\n(see --help)\n";
  return kArgError;
}

// Parses; returns the exit code when the program should stop (help or a
// bad argument), nothing when it should run.
inline std::optional<int> ParseArgs(CLI::App& app, const std::string& tool, int argc,
                                    const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return ArgError(tool, e.what());
  }
  return std::nullopt;
}

}  // namespace kvtier::bench
