// BM_Int8Encode / BM_Int8Decode / BM_Fp8Encode / BM_Fp8Decode: one block of
// fp16 KV through the codec kernels the store would pick (AVX2+F16C here),
// reported as bytes per second of fp16 (engine) bytes, to be read against
// BM_Memcpy of the same bytes. Groups of 128 values (head_dim 128). Source
// and destination span 512 MiB of fp16 and its stored form, so every
// iteration streams from memory, like bm_memcpy.cc. The *Scalar variants
// time the baseline-ISA kernels a CPU without AVX2 would run.
// BM_HostSave{Int8,Fp8} / BM_HostLoad{Int8,Fp8}: the same block through an
// 8-bit host tier (encode + XXH3 of the stored bytes + header, and back),
// to be read against BM_HostSave / BM_HostLoad (raw) and BM_Memcpy.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "backends/host/host_tier.h"
#include "lib/codec/block_codec.h"
#include "lib/codec/codec_kernels.h"
#include "lib/codec/codec_math.h"
#include "lib/stored_block.h"

namespace kvtier {
namespace {

constexpr size_t kWorkingSetBytes = size_t{512} << 20;  // >> L3: out of cache
constexpr uint32_t kHeadDim = 128;
constexpr size_t kGroupBytes = kHeadDim * 2;  // fp16

// Page-aligned fp16 values in [-4, 4), faulted in and filled once.
const uint8_t* Fp16Memory() {
  static uint8_t* memory = [] {
    auto* m = static_cast<uint8_t*>(std::aligned_alloc(4096, kWorkingSetBytes));
    uint32_t x = 12345;
    for (size_t i = 0; i < kWorkingSetBytes; i += 2) {
      x = x * 1664525u + 1013904223u;
      const float v = static_cast<float>(x >> 8) / static_cast<float>(1 << 24) * 8 - 4;
      const uint16_t h = internal::codec::FloatToHalf(v);
      std::memcpy(m + i, &h, 2);
    }
    return m;
  }();
  return memory;
}

struct Buffers {
  explicit Buffers(size_t block)
      : groups(block / kGroupBytes),
        count(kWorkingSetBytes / block),
        codes_stride(groups * kHeadDim),
        codes(count * codes_stride),
        scales(count * groups * 4),
        out(static_cast<uint8_t*>(std::aligned_alloc(4096, kWorkingSetBytes))) {
    std::memset(codes.data(), 1, codes.size());
    std::memset(scales.data(), 0, scales.size());
    std::memset(out, 0, kWorkingSetBytes);
  }
  ~Buffers() { std::free(out); }
  size_t groups, count, codes_stride;
  std::vector<uint8_t> codes, scales;
  uint8_t* out;
};

void Encode(benchmark::State& state, Codec codec, const internal::CodecKernels& k) {
  const size_t block = static_cast<size_t>(state.range(0));
  const uint8_t* src = Fp16Memory();
  Buffers b(block);
  size_t i = 0;
  for (auto _ : state) {
    k.encode(codec, DType::kFp16, kHeadDim, b.groups, src + i * block,
             b.codes.data() + i * b.codes_stride, b.scales.data() + i * b.groups * 4);
    benchmark::ClobberMemory();
    i = (i + 1) % b.count;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
  state.SetLabel(k.name);
}

void Decode(benchmark::State& state, Codec codec, const internal::CodecKernels& k) {
  const size_t block = static_cast<size_t>(state.range(0));
  Buffers b(block);
  // Real codes and scales, so decode sees what encode produced.
  for (size_t j = 0; j < b.count; ++j) {
    k.encode(codec, DType::kFp16, kHeadDim, b.groups, Fp16Memory() + j * block,
             b.codes.data() + j * b.codes_stride, b.scales.data() + j * b.groups * 4);
  }
  size_t i = 0;
  for (auto _ : state) {
    k.decode(codec, DType::kFp16, kHeadDim, b.groups, b.codes.data() + i * b.codes_stride,
             b.scales.data() + i * b.groups * 4, b.out + i * block);
    benchmark::ClobberMemory();
    i = (i + 1) % b.count;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
  state.SetLabel(k.name);
}

void BM_Int8Encode(benchmark::State& s) {
  Encode(s, Codec::kInt8, internal::BestCodecKernels());
}
void BM_Int8Decode(benchmark::State& s) {
  Decode(s, Codec::kInt8, internal::BestCodecKernels());
}
void BM_Fp8Encode(benchmark::State& s) {
  Encode(s, Codec::kFp8, internal::BestCodecKernels());
}
void BM_Fp8Decode(benchmark::State& s) {
  Decode(s, Codec::kFp8, internal::BestCodecKernels());
}
void BM_Int8EncodeScalar(benchmark::State& s) {
  Encode(s, Codec::kInt8, internal::ScalarCodecKernels());
}
void BM_Int8DecodeScalar(benchmark::State& s) {
  Decode(s, Codec::kInt8, internal::ScalarCodecKernels());
}
void BM_Fp8EncodeScalar(benchmark::State& s) {
  Encode(s, Codec::kFp8, internal::ScalarCodecKernels());
}
void BM_Fp8DecodeScalar(benchmark::State& s) {
  Decode(s, Codec::kFp8, internal::ScalarCodecKernels());
}

// ---- through the host tier: encode + checksum + header, and back ----------

constexpr size_t kSegmentsPerBlock = 64;  // as bm_host.cc: 32 layers, K and V

std::vector<Segment> BlockSegments(const uint8_t* base, size_t block, size_t j) {
  std::vector<Segment> segs(kSegmentsPerBlock);
  const size_t seg = block / kSegmentsPerBlock;
  for (size_t s = 0; s < kSegmentsPerBlock; ++s) {
    segs[s] = Segment{const_cast<uint8_t*>(base) + j * block + s * seg, seg};
  }
  return segs;
}

// A host tier of 256 MiB (it holds about 512 MiB of fp16) per codec and size.
internal::HostTier* TierFor(Codec codec, size_t block) {
  static std::map<std::pair<Codec, size_t>, std::unique_ptr<internal::HostTier>> tiers;
  auto& tier = tiers[{codec, block}];
  if (!tier) {
    KvLayout layout;
    layout.num_layers = 32;
    layout.kv_heads = 1;
    layout.head_dim = kHeadDim;
    layout.block_tokens = static_cast<uint32_t>(block / kSegmentsPerBlock / kGroupBytes);
    internal::HostTierConfig config;
    config.capacity_bytes = kWorkingSetBytes / 2;
    config.codec = internal::BlockCodec::For(codec, layout);
    config.slot_bytes =
        internal::StoredBlockBytes(internal::StoredPayloadBytes(layout, codec));
    config.lock_memory = false;
    auto created = internal::HostTier::Create(config);
    if (created.ok()) tier = std::move(created).value();
  }
  return tier.get();
}

BlockHash HashOf(size_t slot) {
  return BlockHash{slot * 0x9E3779B97F4A7C15ull + 1, slot};
}

void HostSave(benchmark::State& state, Codec codec) {
  const size_t block = static_cast<size_t>(state.range(0));
  internal::HostTier* tier = TierFor(codec, block);
  if (tier == nullptr) return state.SkipWithError("HostTier::Create failed");
  const size_t blocks = kWorkingSetBytes / block;
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t slot = static_cast<uint32_t>(i % tier->slot_count());
    if (!tier->Write(slot, HashOf(slot), BlockSegments(Fp16Memory(), block, i % blocks))
             .ok()) {
      state.SkipWithError("HostTier::Write failed");
      break;
    }
    ++i;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
}

void HostLoad(benchmark::State& state, Codec codec) {
  const size_t block = static_cast<size_t>(state.range(0));
  internal::HostTier* tier = TierFor(codec, block);
  if (tier == nullptr) return state.SkipWithError("HostTier::Create failed");
  const size_t blocks = kWorkingSetBytes / block;
  for (uint32_t s = 0; s < tier->slot_count(); ++s) {
    if (!tier->Write(s, HashOf(s), BlockSegments(Fp16Memory(), block, s % blocks)).ok()) {
      return state.SkipWithError("HostTier::Write failed while filling");
    }
  }
  static uint8_t* engine = [] {
    auto* m = static_cast<uint8_t*>(std::aligned_alloc(4096, kWorkingSetBytes));
    std::memset(m, 0, kWorkingSetBytes);
    return m;
  }();
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t slot = static_cast<uint32_t>(i % tier->slot_count());
    if (!tier->Read(slot, HashOf(slot), BlockSegments(engine, block, i % blocks)).ok()) {
      state.SkipWithError("HostTier::Read failed");
      break;
    }
    ++i;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block));
}

void BM_HostSaveInt8(benchmark::State& s) { HostSave(s, Codec::kInt8); }
void BM_HostLoadInt8(benchmark::State& s) { HostLoad(s, Codec::kInt8); }
void BM_HostSaveFp8(benchmark::State& s) { HostSave(s, Codec::kFp8); }
void BM_HostLoadFp8(benchmark::State& s) { HostLoad(s, Codec::kFp8); }

BENCHMARK(BM_HostSaveInt8)->Arg(1 << 20);
BENCHMARK(BM_HostLoadInt8)->Arg(1 << 20);
BENCHMARK(BM_HostSaveFp8)->Arg(1 << 20);
BENCHMARK(BM_HostLoadFp8)->Arg(1 << 20);

BENCHMARK(BM_Int8Encode)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);
BENCHMARK(BM_Int8Decode)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);
BENCHMARK(BM_Fp8Encode)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);
BENCHMARK(BM_Fp8Decode)->Arg(256 << 10)->Arg(1 << 20)->Arg(2 << 20);
BENCHMARK(BM_Int8EncodeScalar)->Arg(1 << 20);
BENCHMARK(BM_Int8DecodeScalar)->Arg(1 << 20);
BENCHMARK(BM_Fp8EncodeScalar)->Arg(1 << 20);
BENCHMARK(BM_Fp8DecodeScalar)->Arg(1 << 20);

}  // namespace
}  // namespace kvtier
