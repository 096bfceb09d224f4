// Force-included in the fuzz build only. clang 14 rejects
// __builtin_cpu_supports("f16c") (GCC 12 and later clangs take it), which
// lib/codec/codec_dispatch.cc asks; here the F16C bit comes from CPUID and
// the other features from the builtin. The library itself should ask CPUID
// for F16C so it builds with clang 14 (reported).
#pragma once

#if defined(__clang__) && __clang_major__ < 15 && defined(__x86_64__) && defined(__cplusplus)
#include <cpuid.h>

#include <cstring>

inline bool KvtierFuzzCpuSupports(const char* feature) {
  if (std::strcmp(feature, "f16c") == 0) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
  }
  if (std::strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2");
  if (std::strcmp(feature, "fma") == 0) return __builtin_cpu_supports("fma");
  return false;
}
#define __builtin_cpu_supports(feature) KvtierFuzzCpuSupports(feature)
#endif
