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
// it as on absl::Mutex. It has no Await: absl evaluates Await conditions
// inside its uninstrumented library, where TSAN would see them as unlocked
// reads. A thread that waits uses std::mutex + std::condition_variable,
// which TSAN understands (see lib/write_behind.h).
//
// Thread safety: a mutex.
#pragma once

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

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
