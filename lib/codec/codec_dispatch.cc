// Picks the codec kernels from CPUID. Compiled for the baseline ISA like
// the rest of the dispatch path, so asking is safe on any x86-64 CPU.
#include "lib/codec/codec_kernels.h"

namespace kvtier::internal {

#if defined(__x86_64__)
extern const CodecKernels kAvx2CodecKernels;  // codec_avx2.cc

const CodecKernels* Avx2CodecKernels() {
  static const bool supported = [] {
    __builtin_cpu_init();  // needed if the first call runs in a static initializer
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") &&
           __builtin_cpu_supports("fma");
  }();
  return supported ? &kAvx2CodecKernels : nullptr;
}
#else
const CodecKernels* Avx2CodecKernels() { return nullptr; }
#endif

const CodecKernels& BestCodecKernels() {
  static const CodecKernels& best =
      Avx2CodecKernels() != nullptr ? *Avx2CodecKernels() : ScalarCodecKernels();
  return best;
}

}  // namespace kvtier::internal
