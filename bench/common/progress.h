// ProgressLine: "replay requests: 4096/12031 (34%)" rewritten in place on
// stderr, only when stderr is a terminal (never into a pipe or a log), at
// most ten times a second.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace kvtier::bench {

class ProgressLine {
 public:
  // `enabled` false (or stderr not a terminal) makes every call a no-op.
  ProgressLine(std::string what, bool enabled);
  ~ProgressLine();  // clears the line

  void Update(size_t done, size_t total);
  bool active() const { return active_; }

 private:
  std::string what_;
  bool active_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace kvtier::bench
