// ProgressLine: a carriage-return progress line on a terminal.
#include "bench/common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace kvtier::bench {

ProgressLine::ProgressLine(std::string what, bool enabled)
    : what_(std::move(what)), active_(enabled && isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
}

void ProgressLine::Update(size_t done, size_t total) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  std::fprintf(stderr, "\r\033[K%s: %zu/%zu (%.0f%%)", what_.c_str(), done, total,
               total == 0 ? 100.0 : 100.0 * static_cast<double>(done) / total);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace kvtier::bench
