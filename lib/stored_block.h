// The bytes a tier keeps for one block: a 64-byte header naming the block's
// hash, codec, segment geometry and checksums, then the payload (the block's
// segments after the codec, in segment order; lib/codec/block_codec.h gives
// its exact layout). Every tier stores exactly this, so a block read back from
// any tier is verified the same way (DESIGN invariant 1).
//
//   offset size field
//        0    4 magic "KVTB" (0x4254564B little-endian)
//        4    2 format version (2)
//        6    1 codec (Codec)
//        7    1 engine dtype an 8-bit codec decodes to (DType); 0 for raw
//        8    8 payload bytes
//       16   16 block hash (lo, hi)
//       32    8 payload checksum: XXH3-64 of the payload, seed = hash.lo
//       40    4 segment count: segments stored (a trimmed block stores fewer)
//       44    4 group values: values per codec group (head_dim); 1 for raw
//       48    8 segment bytes: the stored bytes of every segment when they
//               are all equal (what a Store writes); for uneven segments
//               (allowed by the tier API) 2^63 | XXH3-64, seed 0, of their
//               stored sizes as u64 little-endian, in order
//       56    8 header checksum: XXH3-64 of bytes 0..55, seed 0
//       64    . payload
//
// Integers little-endian. Bytes 40..55 are the segment geometry: an 8-bit
// segment is its codes then its scales, so the same payload cut into other
// segments (or other groups) decodes to garbage under a valid checksum; a
// reader whose segments differ gets Corruption before any payload byte moves.
// The payload checksum covers the stored bytes (after the codec) and is
// computed chunk by chunk as they are produced or consumed, while each chunk
// is still in cache. WriteStoredBlock and ReadStoredBlock are the only places
// a slot's bytes are made and verified.
//
// Version 1 (kvtier 0.1: no geometry, header checksum at 40) is refused as
// Corruption, like any other version: a cache written by 0.1 reads as misses
// (an NVMe directory of 0.1 still opens: its manifest entries, keyed the 0.1
// way, are dropped at open as malformed and counted in recovery_dropped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "kvtier/hash.h"
#include "kvtier/options.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "lib/codec/block_codec.h"

namespace kvtier::internal {

inline constexpr size_t kStoredHeaderBytes = 64;
inline constexpr uint32_t kStoredMagic = 0x4254564B;  // "KVTB"
inline constexpr uint16_t kStoredVersion = 2;

// Bytes a slot needs for a block of `payload_bytes` (after the codec: see
// StoredPayloadBytes and BlockCodec::StoredBytes).
inline size_t StoredBlockBytes(size_t payload_bytes) {
  return kStoredHeaderBytes + payload_bytes;
}

// Payload bytes of the block `segments` under `codec`.
// REQUIRES: each segment is whole groups of `codec`.
size_t StoredPayloadBytes(const BlockCodec& codec, std::span<const Segment> segments);

// Encodes `src` with `codec` into `slot`: header + payload (raw: the
// segments concatenated; int8/fp8: each segment's codes then scales).
// REQUIRES: slot.size() >= StoredBlockBytes(StoredPayloadBytes(codec, src));
// segments are host memory, whole groups of `codec`. A raw segment whose
// data already is its place in the payload (copied there by DMA) is hashed,
// not copied: the checksum is then made over the slot's own bytes.
void WriteStoredBlock(const BlockHash& hash, const BlockCodec& codec,
                      std::span<const Segment> src, std::span<std::byte> slot);

// Checks the header (magic, version, codec, hash, size, segment geometry,
// header checksum) before touching the payload, so a slot written under
// another codec or segmentation is never decoded; then decodes (raw: copies) the payload
// into `dst` and checks the payload checksum. A `dst` segment with null data is verified
// but not written (a layer the reader does not need). Any mismatch is Corruption naming
// what differed; `dst` is then unspecified.
Status ReadStoredBlock(const BlockHash& expected, const BlockCodec& codec,
                       std::span<const std::byte> slot, std::span<const Segment> dst);

}  // namespace kvtier::internal

namespace kvtier::internal {

// Checks a stored block's header alone, as ReadStoredBlock does before it
// touches the payload: `header` is the slot's first kStoredHeaderBytes,
// `slot_bytes` the slot's size. OK means the slot holds `expected` under
// `codec` for `dst`'s segments and its header is intact; the payload is not
// checked (for a block whose payload stays in device memory).
Status CheckStoredHeader(const BlockHash& expected, const BlockCodec& codec,
                         std::span<const std::byte> header, size_t slot_bytes,
                         std::span<const Segment> dst);

// A block whose payload is made where the host cannot hash it (copied or
// encoded device to device into a GPU-tier slot) gets its header first and
// its payload checksum later, over the first host copy of that payload:
//
// Writes the 64-byte header of the block `hash` whose segments have the
// sizes of `segments` (their data is not read) under `codec`, with the
// payload checksum deferred (0, which no payload is expected to hash to:
// read as it is, the block is Corruption).
// REQUIRES: header.size() >= kStoredHeaderBytes; segments are whole groups.
void WriteStoredHeader(const BlockHash& hash, const BlockCodec& codec,
                       std::span<const Segment> segments, std::span<std::byte> header);
// The payload checksum of the payload as `stored` (header + payload, host
// memory) holds it now; nullopt when its header does not check out (magic,
// version, header checksum, a payload past `stored`).
std::optional<uint64_t> HashStoredPayload(std::span<const std::byte> stored);
// Writes `sum` as the payload checksum of `stored`, and the header checksum
// again, in place (ReadStoredBlock then checks the payload against `sum`).
// A header that does not check out is left as it is, for ReadStoredBlock to
// report.
void SetStoredPayloadSum(std::span<std::byte> stored, uint64_t sum);

// Decodes (raw: copies) the stored segments of `slot` into the non-null
// segments of `dst` (stored order, as ReadStoredBlock), skipping the null
// ones, without verifying anything: for a caller that verified the slot
// with ReadStoredBlock (all of `dst` null) and copies it out piecewise,
// e.g. layer by layer.
// REQUIRES: `slot` passed ReadStoredBlock for this codec and `dst`'s sizes,
// and has not changed since (the caller pins it).
void CopyStoredSegments(const BlockCodec& codec, std::span<const std::byte> slot,
                        std::span<const Segment> dst);

}  // namespace kvtier::internal
