// The stored-block format: header encode/verify, and the chunked copy that
// moves a payload between engine segments and a slot while hashing it.
#include "lib/stored_block.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <string>

// The payload checksum runs through libxxhash's CPUID dispatch
// (xxh_x86dispatch.h replaces XXH3_64bits_update with it): the widest
// vector unit the CPU has (AVX2, AVX-512), whatever -march this build used.
// Inlined XXH3 gave a portable build only SSE2, and the checksum was a
// quarter of a host Load's time.
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
#endif

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace kvtier::internal {
namespace {

// Copy and hash in pieces that stay in L1/L2 between the copy and the hash:
// the hash then reads cached bytes and the block costs one trip to memory.
constexpr size_t kChunkBytes = size_t{64} << 10;
// Payloads at least this big are copied with streaming (non-temporal) stores:
// out of cache they beat glibc's memcpy, and a block that size would evict
// the destination from L1/L2 before anyone used it anyway.
constexpr size_t kStreamMinPayload = size_t{64} << 10;

// ---- streaming copy -------------------------------------------------------

#if defined(__AVX512F__)
using Vec = __m512i;
inline Vec LoadVec(const std::byte* s) { return _mm512_loadu_si512(s); }
inline void StreamVec(std::byte* d, Vec v) {
  _mm512_stream_si512(reinterpret_cast<Vec*>(d), v);
}
#elif defined(__AVX__)
using Vec = __m256i;
inline Vec LoadVec(const std::byte* s) {
  return _mm256_loadu_si256(reinterpret_cast<const Vec*>(s));
}
inline void StreamVec(std::byte* d, Vec v) {
  _mm256_stream_si256(reinterpret_cast<Vec*>(d), v);
}
#elif defined(__SSE2__)
using Vec = __m128i;
inline Vec LoadVec(const std::byte* s) {
  return _mm_loadu_si128(reinterpret_cast<const Vec*>(s));
}
inline void StreamVec(std::byte* d, Vec v) {
  _mm_stream_si128(reinterpret_cast<Vec*>(d), v);
}
#endif

#if defined(__SSE2__)
constexpr size_t kV = sizeof(Vec);
constexpr size_t kStride = 4 * kV;  // four loads in flight, then four stores

// memcpy with non-temporal stores for the 64-byte-aligned middle of `d`.
// Named registers, not an array: GCC 12 spills an array to the stack.
void StreamCopy(std::byte* d, const std::byte* s, size_t n) {
  const size_t head = std::min(n, (0 - reinterpret_cast<uintptr_t>(d)) & 63);
  std::memcpy(d, s, head);
  d += head, s += head, n -= head;
  for (; n >= kStride; d += kStride, s += kStride, n -= kStride) {
    const Vec a = LoadVec(s), b = LoadVec(s + kV), c = LoadVec(s + 2 * kV),
              e = LoadVec(s + 3 * kV);
    StreamVec(d, a);
    StreamVec(d + kV, b);
    StreamVec(d + 2 * kV, c);
    StreamVec(d + 3 * kV, e);
  }
  std::memcpy(d, s, n);
}
// Orders the streaming stores before whatever publishes the slot next.
void StreamFence() { _mm_sfence(); }
#else
void StreamCopy(std::byte* d, const std::byte* s, size_t n) { std::memcpy(d, s, n); }
void StreamFence() {}
#endif

void CopyChunk(std::byte* d, const std::byte* s, size_t n, bool stream) {
  if (stream) {
    StreamCopy(d, s, n);
  } else {
    std::memcpy(d, s, n);
  }
}

// XXH3-64 of a payload, seeded with the block hash's low word. INITSTATE
// first: xxhash 0.8.1's reset_withSeed skips deriving the secret when the
// state's stale `seed` field already equals the seed, so a stack state left
// over from an earlier call with the same seed hashes with garbage.
void StartPayloadHash(XXH3_state_t* state, uint64_t seed) {
  XXH3_INITSTATE(state);
  XXH3_64bits_reset_withSeed(state, seed);
}

// ---- 8-bit codecs: encode/decode a segment in runs of groups ----------------

// Groups per run: about kChunkBytes of engine bytes, so a run's codes are
// still in cache when they are hashed (write) or decoded (read).
size_t GroupsPerRun(const BlockCodec& codec) {
  return std::max<size_t>(1, kChunkBytes / codec.GroupBytes());
}

// Encodes one segment at `out` (codes, then scales) and hashes what it
// stored, in stored order. Returns the end of the stored segment.
std::byte* EncodeSegment(const BlockCodec& codec, const Segment& seg, std::byte* out,
                         XXH3_state_t* state) {
  const size_t groups = seg.bytes / codec.GroupBytes();
  const size_t per_run = GroupsPerRun(codec);
  const size_t n = codec.group_values();
  auto* codes = reinterpret_cast<uint8_t*>(out);
  uint8_t* scales = codes + groups * n;
  const auto* src = static_cast<const std::byte*>(seg.data);
  for (size_t g = 0; g < groups; g += per_run) {
    const size_t run = std::min(per_run, groups - g);
    codec.Encode(src + g * codec.GroupBytes(), run, codes + g * n,
                 scales + g * kCodecScaleBytes);
    XXH3_64bits_update(state, codes + g * n, run * n);
  }
  XXH3_64bits_update(state, scales, groups * kCodecScaleBytes);
  return reinterpret_cast<std::byte*>(scales + groups * kCodecScaleBytes);
}

// Hashes and decodes one stored segment at `in` into `seg`. Returns the end
// of the stored segment.
const std::byte* DecodeSegment(const BlockCodec& codec, const std::byte* in,
                               const Segment& seg, XXH3_state_t* state) {
  const size_t groups = seg.bytes / codec.GroupBytes();
  const size_t per_run = GroupsPerRun(codec);
  const size_t n = codec.group_values();
  const auto* codes = reinterpret_cast<const uint8_t*>(in);
  const uint8_t* scales = codes + groups * n;
  auto* dst = static_cast<std::byte*>(seg.data);
  if (dst == nullptr) {  // verified, not written
    XXH3_64bits_update(state, codes, groups * (n + kCodecScaleBytes));
    return reinterpret_cast<const std::byte*>(scales + groups * kCodecScaleBytes);
  }
  for (size_t g = 0; g < groups; g += per_run) {
    const size_t run = std::min(per_run, groups - g);
    XXH3_64bits_update(state, codes + g * n, run * n);  // pulls the run into cache
    codec.Decode(codes + g * n, scales + g * kCodecScaleBytes, run,
                 dst + g * codec.GroupBytes());
  }
  XXH3_64bits_update(state, scales, groups * kCodecScaleBytes);
  return reinterpret_cast<const std::byte*>(scales + groups * kCodecScaleBytes);
}

// ---- header -----------------------------------------------------------------

constexpr size_t kOffMagic = 0, kOffVersion = 4, kOffCodec = 6, kOffDType = 7,
                 kOffPayloadBytes = 8, kOffHashLo = 16, kOffHashHi = 24,
                 kOffPayloadSum = 32, kOffSegments = 40, kOffGroupValues = 44,
                 kOffSegmentBytes = 48, kOffHeaderSum = 56, kHeaderSummed = 56;
// Marks a segment-bytes field that digests uneven segment sizes.
constexpr uint64_t kUnevenSegments = uint64_t{1} << 63;

template <typename T>
void PutLe(std::byte* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
template <typename T>
T GetLe(const std::byte* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

// How a payload is cut into segments and each segment into groups: what a
// reader must share with the writer to decode it (bytes 7 and 40..55).
struct SegmentGeometry {
  uint8_t dtype = 0;
  uint32_t segments = 0;
  uint32_t group_values = 1;
  uint64_t segment_bytes = 0;

  bool operator==(const SegmentGeometry&) const = default;
};

// XXH3-64, seed 0, of the segments' stored sizes as u64 little-endian.
uint64_t SizesDigest(const BlockCodec& codec, std::span<const Segment> segments) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  for (const Segment& seg : segments) {
    std::byte le[8];
    PutLe<uint64_t>(le, codec.StoredBytes(seg.bytes));
    XXH3_64bits_update(&state, le, sizeof(le));
  }
  return XXH3_64bits_digest(&state);
}

SegmentGeometry GeometryOf(const BlockCodec& codec, std::span<const Segment> segments) {
  SegmentGeometry g;
  if (!codec.raw()) {
    g.dtype = static_cast<uint8_t>(codec.dtype());
    g.group_values = codec.group_values();
  }
  g.segments = static_cast<uint32_t>(segments.size());
  if (segments.empty()) return g;
  const size_t first = segments[0].bytes;
  const bool even = std::all_of(segments.begin(), segments.end(),
                                [&](const Segment& s) { return s.bytes == first; });
  g.segment_bytes =
      even ? codec.StoredBytes(first) : kUnevenSegments | SizesDigest(codec, segments);
  return g;
}

struct Header {
  uint32_t magic;
  uint16_t version;
  uint8_t codec;
  uint64_t payload_bytes;
  BlockHash hash;
  uint64_t payload_sum;
  SegmentGeometry geometry;
  uint64_t header_sum;
};

uint64_t HeaderSum(const std::byte* header) {
  return XXH3_64bits_withSeed(header, kHeaderSummed, 0);
}

void EncodeHeader(const Header& h, std::byte* out) {
  PutLe<uint32_t>(out + kOffMagic, h.magic);
  PutLe<uint16_t>(out + kOffVersion, h.version);
  PutLe<uint8_t>(out + kOffCodec, h.codec);
  PutLe<uint8_t>(out + kOffDType, h.geometry.dtype);
  PutLe<uint64_t>(out + kOffPayloadBytes, h.payload_bytes);
  PutLe<uint64_t>(out + kOffHashLo, h.hash.lo);
  PutLe<uint64_t>(out + kOffHashHi, h.hash.hi);
  PutLe<uint64_t>(out + kOffPayloadSum, h.payload_sum);
  PutLe<uint32_t>(out + kOffSegments, h.geometry.segments);
  PutLe<uint32_t>(out + kOffGroupValues, h.geometry.group_values);
  PutLe<uint64_t>(out + kOffSegmentBytes, h.geometry.segment_bytes);
  PutLe<uint64_t>(out + kOffHeaderSum, HeaderSum(out));
}

Header DecodeHeader(const std::byte* in) {
  return Header{
      .magic = GetLe<uint32_t>(in + kOffMagic),
      .version = GetLe<uint16_t>(in + kOffVersion),
      .codec = GetLe<uint8_t>(in + kOffCodec),
      .payload_bytes = GetLe<uint64_t>(in + kOffPayloadBytes),
      .hash = {GetLe<uint64_t>(in + kOffHashLo), GetLe<uint64_t>(in + kOffHashHi)},
      .payload_sum = GetLe<uint64_t>(in + kOffPayloadSum),
      .geometry = {.dtype = GetLe<uint8_t>(in + kOffDType),
                   .segments = GetLe<uint32_t>(in + kOffSegments),
                   .group_values = GetLe<uint32_t>(in + kOffGroupValues),
                   .segment_bytes = GetLe<uint64_t>(in + kOffSegmentBytes)},
      .header_sum = GetLe<uint64_t>(in + kOffHeaderSum),
  };
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string CodecNameOf(uint8_t codec) {
  const char* name = CodecName(static_cast<Codec>(codec));
  return name[0] != 'u' ? name : "unknown codec " + std::to_string(codec);
}

// "32 segments of 4224 bytes, 128-value groups of fp16".
std::string GeometryText(const SegmentGeometry& g) {
  std::string text = std::to_string(g.segments) + " segments of ";
  text += (g.segment_bytes & kUnevenSegments) != 0
              ? "uneven sizes (digest " + Hex(g.segment_bytes & ~kUnevenSegments) + ")"
              : std::to_string(g.segment_bytes) + " bytes";
  if (g.dtype == 0) return text;
  return text + ", " + std::to_string(g.group_values) + "-value groups of " +
         std::string(DTypeName(static_cast<DType>(g.dtype)));
}

// Corruption "stored block: <what>", noting whether the header checksum also
// fails: a field that differs under a valid checksum is a slot holding
// something else, not a damaged one.
Status Mismatch(const std::string& what, bool header_sum_ok) {
  return Corruption("stored block: " + what +
                    (header_sum_ok ? "" : "; header checksum fails too: header damaged"));
}

// Checks every header field against what the reader expects, before any
// payload byte is touched. `want` is the reader's geometry.
Status CheckHeader(const Header& h, const std::byte* raw, const BlockHash& expected,
                   Codec codec, size_t want_payload, const SegmentGeometry& want,
                   size_t slot_bytes) {
  if (h.version != kStoredVersion && h.magic == kStoredMagic) {
    // Another version puts its header checksum elsewhere: no damage verdict.
    return Corruption("stored block: format version " + std::to_string(h.version) +
                      ", this build reads version " + std::to_string(kStoredVersion) +
                      " only (a block written by another kvtier version is a miss)");
  }
  const bool sum_ok = HeaderSum(raw) == h.header_sum;
  if (h.magic != kStoredMagic) {
    return Mismatch(
        "bad magic (slot holds " + Hex(h.magic) + ", wanted " + Hex(kStoredMagic) + ")",
        sum_ok);
  }
  if (h.codec != static_cast<uint8_t>(codec)) {
    return Mismatch("codec mismatch (slot holds " + CodecNameOf(h.codec) + ", wanted " +
                        CodecNameOf(static_cast<uint8_t>(codec)) + ")",
                    sum_ok);
  }
  if (h.hash != expected) {
    return Mismatch("hash mismatch (slot holds " + h.hash.ToHex() + ", wanted " +
                        expected.ToHex() + ")",
                    sum_ok);
  }
  if (h.payload_bytes != want_payload) {
    return Mismatch("payload size mismatch (slot holds " +
                        std::to_string(h.payload_bytes) + " bytes, destination takes " +
                        std::to_string(want_payload) + ")",
                    sum_ok);
  }
  if (!(h.geometry == want)) {
    return Mismatch("segment geometry mismatch (slot holds " + GeometryText(h.geometry) +
                        "; destination takes " + GeometryText(want) + ")",
                    sum_ok);
  }
  if (h.payload_bytes > slot_bytes - kStoredHeaderBytes) {
    return Mismatch("payload of " + std::to_string(h.payload_bytes) +
                        " bytes overruns the slot of " + std::to_string(slot_bytes) +
                        " bytes",
                    sum_ok);
  }
  if (!sum_ok) {
    return Corruption("stored block: header checksum mismatch (slot holds " +
                      Hex(h.header_sum) + ", header hashes to " + Hex(HeaderSum(raw)) +
                      ")");
  }
  return Status::Ok();
}

}  // namespace

size_t StoredPayloadBytes(const BlockCodec& codec, std::span<const Segment> segments) {
  size_t total = 0;
  for (const Segment& seg : segments) total += codec.StoredBytes(seg.bytes);
  return total;
}

void WriteStoredBlock(const BlockHash& hash, const BlockCodec& codec,
                      std::span<const Segment> src, std::span<std::byte> slot) {
  const size_t payload = StoredPayloadBytes(codec, src);
  assert(slot.size() >= StoredBlockBytes(payload));
  const bool stream = codec.raw() && payload >= kStreamMinPayload;

  XXH3_state_t state;
  StartPayloadHash(&state, hash.lo);
  std::byte* out = slot.data() + kStoredHeaderBytes;
  for (const Segment& seg : src) {
    if (!codec.raw()) {
      out = EncodeSegment(codec, seg, out, &state);
      continue;
    }
    const auto* in = static_cast<const std::byte*>(seg.data);
    for (size_t done = 0; done < seg.bytes;) {
      const size_t n = std::min(kChunkBytes, seg.bytes - done);
      // Hash the source chunk: the copy just pulled it into cache, while
      // streaming stores left the destination in memory only.
      // A segment already in place (copied into the slot by DMA) is only hashed.
      if (in + done != out) CopyChunk(out, in + done, n, stream);
      XXH3_64bits_update(&state, in + done, n);
      out += n;
      done += n;
    }
  }
  if (stream) StreamFence();

  EncodeHeader(Header{.magic = kStoredMagic,
                      .version = kStoredVersion,
                      .codec = static_cast<uint8_t>(codec.codec()),
                      .payload_bytes = payload,
                      .hash = hash,
                      .payload_sum = XXH3_64bits_digest(&state),
                      .geometry = GeometryOf(codec, src),
                      .header_sum = 0},
               slot.data());
}

Status ReadStoredBlock(const BlockHash& expected, const BlockCodec& codec,
                       std::span<const std::byte> slot, std::span<const Segment> dst) {
  if (slot.size() < kStoredHeaderBytes) {
    return Corruption("stored block: slot of " + std::to_string(slot.size()) +
                      " bytes cannot hold the " + std::to_string(kStoredHeaderBytes) +
                      "-byte header");
  }
  const Header h = DecodeHeader(slot.data());
  const size_t payload = StoredPayloadBytes(codec, dst);
  if (Status s = CheckHeader(h, slot.data(), expected, codec.codec(), payload,
                             GeometryOf(codec, dst), slot.size());
      !s.ok()) {
    return s;
  }

  const bool stream = codec.raw() && payload >= kStreamMinPayload;
  XXH3_state_t state;
  StartPayloadHash(&state, expected.lo);
  const std::byte* in = slot.data() + kStoredHeaderBytes;
  for (const Segment& seg : dst) {
    if (!codec.raw()) {
      in = DecodeSegment(codec, in, seg, &state);
      continue;
    }
    auto* out = static_cast<std::byte*>(seg.data);
    if (out == nullptr) {  // verified, not written
      XXH3_64bits_update(&state, in, seg.bytes);
      in += seg.bytes;
      continue;
    }
    for (size_t done = 0; done < seg.bytes;) {
      const size_t n = std::min(kChunkBytes, seg.bytes - done);
      CopyChunk(out + done, in, n, stream);
      XXH3_64bits_update(&state, in, n);  // the slot chunk, cached by the copy
      in += n;
      done += n;
    }
  }
  if (stream) StreamFence();

  const uint64_t sum = XXH3_64bits_digest(&state);
  if (sum != h.payload_sum) {
    return Corruption("stored block: payload checksum mismatch (slot holds " +
                      Hex(h.payload_sum) + ", payload of " + std::to_string(payload) +
                      " bytes hashes to " + Hex(sum) + ")");
  }
  return Status::Ok();
}

}  // namespace kvtier::internal

namespace kvtier::internal {

Status CheckStoredHeader(const BlockHash& expected, const BlockCodec& codec,
                         std::span<const std::byte> header, size_t slot_bytes,
                         std::span<const Segment> dst) {
  if (header.size() < kStoredHeaderBytes || slot_bytes < kStoredHeaderBytes) {
    return Corruption("stored block: slot of " + std::to_string(slot_bytes) +
                      " bytes cannot hold the " + std::to_string(kStoredHeaderBytes) +
                      "-byte header");
  }
  return CheckHeader(DecodeHeader(header.data()), header.data(), expected, codec.codec(),
                     StoredPayloadBytes(codec, dst), GeometryOf(codec, dst), slot_bytes);
}

void WriteStoredHeader(const BlockHash& hash, const BlockCodec& codec,
                       std::span<const Segment> segments, std::span<std::byte> header) {
  assert(header.size() >= kStoredHeaderBytes);
  EncodeHeader(Header{.magic = kStoredMagic,
                      .version = kStoredVersion,
                      .codec = static_cast<uint8_t>(codec.codec()),
                      .payload_bytes = StoredPayloadBytes(codec, segments),
                      .hash = hash,
                      .payload_sum = 0,
                      .geometry = GeometryOf(codec, segments),
                      .header_sum = 0},
               header.data());
}

namespace {

bool HeaderChecksOut(const Header& h, std::span<const std::byte> stored) {
  return h.magic == kStoredMagic && h.version == kStoredVersion &&
         h.header_sum == HeaderSum(stored.data()) &&
         h.payload_bytes <= stored.size() - kStoredHeaderBytes;
}

}  // namespace

std::optional<uint64_t> HashStoredPayload(std::span<const std::byte> stored) {
  if (stored.size() < kStoredHeaderBytes) return std::nullopt;
  const Header h = DecodeHeader(stored.data());
  if (!HeaderChecksOut(h, stored)) return std::nullopt;
  XXH3_state_t state;
  StartPayloadHash(&state, h.hash.lo);
  XXH3_64bits_update(&state, stored.data() + kStoredHeaderBytes, h.payload_bytes);
  return XXH3_64bits_digest(&state);
}

void SetStoredPayloadSum(std::span<std::byte> stored, uint64_t sum) {
  if (stored.size() < kStoredHeaderBytes) return;
  Header h = DecodeHeader(stored.data());
  if (!HeaderChecksOut(h, stored)) return;
  h.payload_sum = sum;
  EncodeHeader(h, stored.data());
}

void CopyStoredSegments(const BlockCodec& codec, std::span<const std::byte> slot,
                        std::span<const Segment> dst) {
  const std::byte* in = slot.data() + kStoredHeaderBytes;
  for (const Segment& seg : dst) {
    const size_t stored = codec.StoredBytes(seg.bytes);
    auto* out = static_cast<std::byte*>(seg.data);
    if (out != nullptr) {
      if (codec.raw()) {
        std::memcpy(out, in, seg.bytes);
      } else {
        const size_t groups = seg.bytes / codec.GroupBytes();
        const auto* codes = reinterpret_cast<const uint8_t*>(in);
        codec.Decode(codes, codes + groups * codec.group_values(), groups, out);
      }
    }
    in += stored;
  }
}

}  // namespace kvtier::internal
