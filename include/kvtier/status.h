// Status and Result<T>: how every kvtier call reports failure. No exception
// crosses the public API.
//
// Thread safety: values; copy freely between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "kvtier/export.h"
namespace kvtier {

// The code tells the caller what to do next:
//   kInvalidArgument, kNotSupported  - fix the call or the build; never retry.
//   kNotFound                        - a miss; recompute.
//   kResourceExhausted, kUnavailable - transient (tier full, device busy);
//                                      retrying later may succeed.
//   kIoError, kCorruption            - the environment failed; the store has
//                                      already degraded to misses.
//   kInternal                        - a bug in kvtier; please report.
//   kCancelled                       - the caller cancelled it (a transfer).
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,
  kNotSupported = 2,
  kNotFound = 3,
  kResourceExhausted = 4,
  kUnavailable = 5,
  kIoError = 6,
  kCorruption = 7,
  kInternal = 8,
  kCancelled = 9,
};

KVTIER_EXPORT std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Names the offending field where there is one, e.g.
  // "options.host.capacity_bytes: must hold at least one block (...)".
  const std::string& message() const { return message_; }
  // True for codes where the same call may succeed later.
  bool IsRetryable() const {
    return code_ == StatusCode::kResourceExhausted || code_ == StatusCode::kUnavailable;
  }
  KVTIER_EXPORT std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) {
  return Status(StatusCode::kInvalidArgument, std::move(msg));
}
inline Status NotSupported(std::string msg) {
  return Status(StatusCode::kNotSupported, std::move(msg));
}
inline Status NotFound(std::string msg) {
  return Status(StatusCode::kNotFound, std::move(msg));
}
inline Status ResourceExhausted(std::string msg) {
  return Status(StatusCode::kResourceExhausted, std::move(msg));
}
inline Status Unavailable(std::string msg) {
  return Status(StatusCode::kUnavailable, std::move(msg));
}
inline Status IoError(std::string msg) {
  return Status(StatusCode::kIoError, std::move(msg));
}
inline Status Corruption(std::string msg) {
  return Status(StatusCode::kCorruption, std::move(msg));
}
inline Status Internal(std::string msg) {
  return Status(StatusCode::kInternal, std::move(msg));
}
inline Status Cancelled(std::string msg) {
  return Status(StatusCode::kCancelled, std::move(msg));
}

// Either a T or a non-OK Status.
// REQUIRES: value() only when ok(); status() is OK exactly when ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kvtier
