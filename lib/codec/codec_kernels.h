// CodecKernels: the loops that run the codec math (codec_math.h) over whole
// groups, one implementation per instruction set, picked at run time.
//
// Both implementations produce identical bytes for every input (tests force
// each and compare). The scalar one is compiled for the baseline x86-64 ISA
// whatever KVTIER_NATIVE says, so it runs on any CPU; the AVX2 one needs
// AVX2, F16C and FMA, checked with CPUID before it is ever called.
//
// Thread safety: the kernels are pure functions; any thread may call them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvtier/layout.h"
#include "kvtier/options.h"

namespace kvtier::internal {

// Encodes `groups` groups of `group_values` elements of `dtype` read from
// `src` (contiguous, group after group) into `codes` (one byte per element,
// same order) and `scales` (one float32 per group, little-endian, 4 bytes
// each, no alignment required).
// REQUIRES: codec is kInt8 or kFp8; dtype is kFp16, kBf16 or kFp32.
using EncodeGroupsFn = void (*)(Codec codec, DType dtype, uint32_t group_values,
                                size_t groups, const void* src, uint8_t* codes,
                                uint8_t* scales);
// The inverse: writes groups * group_values elements of `dtype` to `dst`.
using DecodeGroupsFn = void (*)(Codec codec, DType dtype, uint32_t group_values,
                                size_t groups, const uint8_t* codes,
                                const uint8_t* scales, void* dst);

struct CodecKernels {
  const char* name;  // "scalar", "avx2"
  EncodeGroupsFn encode;
  DecodeGroupsFn decode;
};

// The baseline-ISA kernels; run on every x86-64 CPU.
const CodecKernels& ScalarCodecKernels();
// The AVX2+F16C+FMA kernels, or nullptr when this CPU (or this build's
// target architecture) lacks them.
const CodecKernels* Avx2CodecKernels();
// The fastest kernels this CPU runs, chosen from CPUID once per process.
const CodecKernels& BestCodecKernels();

}  // namespace kvtier::internal
