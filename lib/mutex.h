// Mutex, MutexLock, ReaderMutexLock: absl::Mutex as ThreadSanitizer can see it.
//
// Debian's Abseil is built without -fsanitize=thread, so absl::Mutex's Lock
// and Unlock (compiled into the library) tell TSAN nothing, and every access
// the lock orders looks like a race. Under TSAN this wrapper reports each
// acquire and release through the __tsan_mutex_* interface; otherwise it is
// absl::Mutex and compiles to the same calls. Use it, not absl::Mutex, for
// every lock in kvtier, so `-DKVTIER_SANITIZE=thread` checks real races only.
//
// The Clang thread-safety annotations (ABSL_GUARDED_BY and friends) work on
// it as on absl::Mutex.
//
// Thread safety: a mutex.
#pragma once

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#if defined(ABSL_HAVE_THREAD_SANITIZER)
#include <sanitizer/tsan_interface.h>
#endif

namespace kvtier::internal {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  ~Mutex() { TsanDestroy(); }
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    TsanPreLock(0);
    mu_.Lock();
    TsanPostLock(0);
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    TsanPreUnlock(0);
    mu_.Unlock();
    TsanPostUnlock(0);
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() {
    TsanPreLock(kRead);
    mu_.ReaderLock();
    TsanPostLock(kRead);
  }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() {
    TsanPreUnlock(kRead);
    mu_.ReaderUnlock();
    TsanPostUnlock(kRead);
  }

  // Releases the lock until `cond` holds, then holds it again.
  // REQUIRES: held exclusively.
  void Await(const absl::Condition& cond) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    TsanPreUnlock(0);
    TsanPostUnlock(0);
    mu_.Await(cond);
    TsanPreLock(0);
    TsanPostLock(0);
  }
  // As Await, giving up after `timeout`; returns whether `cond` holds.
  bool AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    TsanPreUnlock(0);
    TsanPostUnlock(0);
    const bool met = mu_.AwaitWithTimeout(cond, timeout);
    TsanPreLock(0);
    TsanPostLock(0);
    return met;
  }

  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() { mu_.AssertHeld(); }

 private:
#if defined(ABSL_HAVE_THREAD_SANITIZER)
  static constexpr unsigned kRead = __tsan_mutex_read_lock;
  void* Addr() { return &mu_; }  // absl's inline constructor announced it here
  void TsanPreLock(unsigned flags) { __tsan_mutex_pre_lock(Addr(), flags); }
  void TsanPostLock(unsigned flags) { __tsan_mutex_post_lock(Addr(), flags, 0); }
  void TsanPreUnlock(unsigned flags) { __tsan_mutex_pre_unlock(Addr(), flags); }
  void TsanPostUnlock(unsigned flags) { __tsan_mutex_post_unlock(Addr(), flags); }
  void TsanDestroy() { __tsan_mutex_destroy(Addr(), 0); }
#else
  static constexpr unsigned kRead = 0;
  void TsanPreLock(unsigned) {}
  void TsanPostLock(unsigned) {}
  void TsanPreUnlock(unsigned) {}
  void TsanPostUnlock(unsigned) {}
  void TsanDestroy() {}
#endif

  absl::Mutex mu_;
};

// Holds `mu` exclusively for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Holds `mu` shared for its scope.
class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace kvtier::internal
