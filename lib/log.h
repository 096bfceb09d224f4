// Logger: where the store's messages go (Options::logging, Options::log or
// stderr at the level KVTIER_LOG names), filtered by level; and
// RateLimitedLog for messages a failing device could repeat per block.
//
// Thread safety: Logger is an immutable value; RateLimitedLog is
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "kvtier/options.h"

namespace kvtier::internal {

// The level KVTIER_LOG names ("debug", "info", "warning", "error", "off";
// case-insensitive), or `fallback` when unset or unrecognized.
LogLevel LogLevelFromEnv(LogLevel fallback = LogLevel::kWarning);
std::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  // The default sink: stderr at the level KVTIER_LOG names.
  Logger();
  // Options::log (warnings and errors); nullptr = the default sink. Implicit
  // so `config.log = options.log` keeps compiling where it is written.
  Logger(void (*legacy)(const char*));  // NOLINT(google-explicit-constructor)
  Logger(LogFn sink, void* user_data, LogLevel level);

  // Options::logging if its sink is set, else Options::log, else stderr.
  static Logger For(const Options& options);

  bool Enabled(LogLevel level) const {
    return level != LogLevel::kOff && level >= level_;
  }
  void Log(LogLevel level, std::string_view message) const;
  void Debug(std::string_view m) const { Log(LogLevel::kDebug, m); }
  void Info(std::string_view m) const { Log(LogLevel::kInfo, m); }
  void Warning(std::string_view m) const { Log(LogLevel::kWarning, m); }
  void Error(std::string_view m) const { Log(LogLevel::kError, m); }

 private:
  LogFn sink_ = nullptr;  // nullptr with legacy_ nullptr: stderr
  void* user_data_ = nullptr;
  void (*legacy_)(const char*) = nullptr;
  LogLevel level_ = LogLevel::kWarning;
};

// Lets through at most `burst` messages per `period_ms`; the first message
// after a quiet spell says how many were suppressed. For per-block failures
// (checksum errors) that would otherwise flood the sink.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(uint32_t burst = 5, uint64_t period_ms = 10'000)
      : burst_(burst), period_ms_(period_ms) {}

  // Logs `message` (with the suppressed count, if any) unless the budget of
  // this period is spent, in which case it only counts it.
  void Log(const Logger& logger, LogLevel level, std::string_view message);
  uint64_t suppressed() const {
    return suppressed_total_.load(std::memory_order_relaxed);
  }

 private:
  const uint32_t burst_;
  const uint64_t period_ms_;
  std::atomic<uint64_t> period_start_ms_{0};
  std::atomic<uint32_t> in_period_{0};
  std::atomic<uint64_t> suppressed_since_{0};
  std::atomic<uint64_t> suppressed_total_{0};
};

}  // namespace kvtier::internal
