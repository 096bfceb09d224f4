// Logger and RateLimitedLog (lib/log.h).
#include "lib/log.h"

#include <strings.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace kvtier::internal {
namespace {

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "unknown";
}

LogLevel LogLevelFromEnv(LogLevel fallback) {
  const char* env = std::getenv("KVTIER_LOG");
  if (env == nullptr) return fallback;
  for (int l = 0; l <= static_cast<int>(LogLevel::kOff); ++l) {
    const LogLevel level = static_cast<LogLevel>(l);
    if (strcasecmp(env, std::string(LogLevelName(level)).c_str()) == 0) return level;
  }
  if (strcasecmp(env, "warn") == 0) return LogLevel::kWarning;
  return fallback;
}

Logger::Logger() : level_(LogLevelFromEnv()) {}

Logger::Logger(void (*legacy)(const char*)) : Logger() {
  if (legacy != nullptr) {
    legacy_ = legacy;
    level_ = LogLevel::kWarning;
  }
}

Logger::Logger(LogFn sink, void* user_data, LogLevel level)
    : sink_(sink), user_data_(user_data), level_(level) {}

Logger Logger::For(const Options& options) {
  if (options.logging.sink != nullptr) {
    return Logger(options.logging.sink, options.logging.user_data, options.logging.level);
  }
  return Logger(options.log);
}

void Logger::Log(LogLevel level, std::string_view message) const {
  if (!Enabled(level)) return;
  const std::string text(message);
  if (sink_ != nullptr) {
    sink_(user_data_, level, text.c_str());
  } else if (legacy_ != nullptr) {
    legacy_(text.c_str());
  } else {
    std::fprintf(stderr, "kvtier [%s]: %s\n", LogLevelName(level).data(), text.c_str());
  }
}

void RateLimitedLog::Log(const Logger& logger, LogLevel level, std::string_view message) {
  if (!logger.Enabled(level)) return;
  const uint64_t now = NowMs();
  uint64_t start = period_start_ms_.load(std::memory_order_relaxed);
  if (now - start >= period_ms_ &&
      period_start_ms_.compare_exchange_strong(start, now, std::memory_order_relaxed)) {
    in_period_.store(0, std::memory_order_relaxed);
  }
  if (in_period_.fetch_add(1, std::memory_order_relaxed) >= burst_) {
    suppressed_since_.fetch_add(1, std::memory_order_relaxed);
    suppressed_total_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t suppressed = suppressed_since_.exchange(0, std::memory_order_relaxed);
  if (suppressed == 0) {
    logger.Log(level, message);
  } else {
    logger.Log(level, std::string(message) + " (" + std::to_string(suppressed) +
                          " similar messages suppressed before this one)");
  }
}

}  // namespace kvtier::internal
