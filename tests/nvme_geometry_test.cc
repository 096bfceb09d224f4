// The NVMe tier on a TierGeometry (frames of pages, slotless ids), driven
// directly over real files, real io_uring and a real RocksDB manifest: whole
// blocks take a frame, trimmed blocks a page, all-sliding blocks no bytes;
// each lands where the placement says, round-trips byte-exact, survives a
// reopen in its form, and an overlapped older entry is dropped at recovery.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/nvme/nvme_tier.h"
#include "backends/testing/faulty_io_queue.h"
#include "lib/sliding_window.h"
#include "lib/stored_block.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using internal::BlockForm;
using internal::BlockIo;
using internal::NvmeTier;
using internal::NvmeTierConfig;
using internal::RecoveredBlock;
using internal::SlidingWindow;
using testing::EngineBuffers;
using testing::TempDir;

// 6 layers, 5 sliding: a trimmed block keeps 1/6 of the layers. Segments of
// 8 KiB make a page of 20 KiB and frames of 5 pages.
KvLayout SlidingLayout(uint32_t full_window = 0) {
  KvLayout l = testing::SmallLayout(6, 16);
  l.kv_heads = 4;
  l.head_dim = 64;
  l.layer_windows = {64, 64, 64, 64, 64, full_window};
  return l;
}

KvLayout AllSlidingLayout() { return SlidingLayout(/*full_window=*/64); }

// A tier of `frames` frames for `layout` over `dirs`.
struct TierSetup {
  KvLayout layout;
  std::vector<std::string> dirs;
  uint32_t frames = 4;
  std::shared_ptr<testing::IoFaults> faults = std::make_shared<testing::IoFaults>();

  NvmeTierConfig Config() const {
    const internal::FormBytes bytes = internal::StoredBytesByForm(layout, Codec::kRaw);
    NvmeTierConfig c;
    c.directories = dirs;
    c.whole_bytes = bytes.whole;
    c.trimmed_bytes = bytes.trimmed;
    c.capacity_bytes = uint64_t{frames} * internal::NvmeGeometry(c).frame_bytes();
    c.codec = internal::BlockCodec::For(Codec::kRaw, layout);
    c.identity = "test=nvme-geometry\n";
    c.namespace_id = 7;
    c.wrap_queue = testing::FaultyIoQueue::Wrapper(faults);
    return c;
  }
  std::unique_ptr<NvmeTier> Open() const {
    auto tier = NvmeTier::Create(Config());
    INFO(tier.status().ToString());
    REQUIRE(tier.ok());
    return std::move(tier).value();
  }
};

BlockHash HashOf(uint64_t i) { return BlockHash{0x1000 + i, 0xabc0 + i}; }

// One block's engine buffers filled for `hash`.
struct Block {
  Block(const KvLayout& layout, const BlockHash& h) : hash(h), buffers(layout, 1) {
    buffers.FillFrom({&hash, 1});
  }
  BlockHash hash;
  EngineBuffers buffers;
};

// The segments a copy of `form` stores.
std::vector<Segment> Kept(const KvLayout& layout, const EngineBuffers& b,
                          BlockForm form) {
  std::vector<Segment> kept;
  const auto span = SlidingWindow(layout, 0).Kept(b.all(), form, kept);
  return {span.begin(), span.end()};
}

Status WriteOne(NvmeTier& tier, uint32_t slot, const BlockHash& hash,
                std::span<const Segment> src) {
  BlockIo r{slot, hash, nullptr, src, Status::Ok(), {}};
  tier.WriteBatch({&r, 1});
  return r.status;
}

Status ReadOne(NvmeTier& tier, uint32_t slot, const BlockHash& hash,
               std::span<const Segment> dst) {
  BlockIo r{slot, hash, nullptr, dst, Status::Ok(), {}};
  tier.ReadBatch({&r, 1});
  return r.status;
}

// Writes `hash` at `slot` in `form`, reads it back into fresh buffers, and
// checks the stored segments are exact.
void CheckRoundTrip(NvmeTier& tier, const KvLayout& layout, uint32_t slot,
                    const BlockHash& hash, BlockForm form) {
  INFO("slot " << slot);
  const SlidingWindow window(layout, 0);
  Block block(layout, hash);
  EngineBuffers dst(layout, 1);
  std::vector<Segment> scratch;
  const auto kept = window.Kept(dst.all(), form, scratch);
  const Status r = ReadOne(tier, slot, hash, kept);
  INFO(r.ToString());
  REQUIRE(r.ok());
  for (size_t s = 0; s < layout.SegmentsPerBlock(); ++s) {
    if (form == BlockForm::kTrimmed && window.IsSliding(s)) continue;
    CHECK(std::memcmp(dst.all()[s].data, block.buffers.all()[s].data,
                      layout.SegmentBytes()) == 0);
  }
}

// The 16 hash bytes of the stored header at `offset` of `dir`'s cache file.
BlockHash HashOnDisk(const std::string& dir, uint64_t offset) {
  const int fd = ::open((dir + "/" + internal::kCacheFileName).c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  unsigned char header[internal::kStoredHeaderBytes] = {};
  const ssize_t n = ::pread(fd, header, sizeof(header), static_cast<off_t>(offset));
  ::close(fd);
  REQUIRE(n == static_cast<ssize_t>(sizeof(header)));
  uint64_t lo = 0, hi = 0;
  for (int i = 7; i >= 0; --i) lo = lo << 8 | header[16 + i];
  for (int i = 7; i >= 0; --i) hi = hi << 8 | header[24 + i];
  return BlockHash{lo, hi};
}

// Flips one byte at `offset` of `dir`'s cache file.
void FlipByte(const std::string& dir, uint64_t offset) {
  const int fd = ::open((dir + "/" + internal::kCacheFileName).c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  unsigned char b = 0;
  REQUIRE(::pread(fd, &b, 1, static_cast<off_t>(offset)) == 1);
  b ^= 0xff;
  REQUIRE(::pwrite(fd, &b, 1, static_cast<off_t>(offset)) == 1);
  ::close(fd);
}

std::vector<RecoveredBlock> Sorted(std::vector<RecoveredBlock> blocks) {
  std::sort(
      blocks.begin(), blocks.end(),
      [](const RecoveredBlock& a, const RecoveredBlock& b) { return a.slot < b.slot; });
  return blocks;
}

TEST_CASE("a sliding layout's NVMe geometry is frames of trimmed-block pages",
          "[nvme][geometry]") {
  TempDir dir;
  TierSetup setup{SlidingLayout(), {dir.path().string()}};
  auto tier = setup.Open();
  const internal::TierGeometry& g = tier->geometry();
  CHECK(g.page_bytes == 20480);  // 2 segments of 8 KiB + header, in 4 KiB
  CHECK(g.pages_per_frame == 5);
  CHECK(g.frames == 4);
  CHECK(g.slotless == 0);
  CHECK(g.whole_bytes == internal::StoredBlockBytes(12 * 8192));
  CHECK(g.trimmed_bytes == internal::StoredBlockBytes(2 * 8192));

  TempDir plain_dir;
  TierSetup plain{testing::SmallLayout(), {plain_dir.path().string()}};
  auto one = plain.Open();
  CHECK(one->geometry().pages_per_frame == 1);  // a slot per block, as before
  CHECK(one->slot_bytes() == 4096);
}

TEST_CASE("whole blocks on frames and trimmed blocks on pages round-trip byte-exact",
          "[nvme][geometry]") {
  TempDir a, b;
  TierSetup setup{SlidingLayout(), {a.path().string(), b.path().string()}};
  auto tier = setup.Open();
  const KvLayout& layout = setup.layout;
  const internal::TierGeometry& g = tier->geometry();
  // Frames 0 and 3 whole; trimmed pages in frames 1 and 2, written from the
  // last page down, so an I/O longer than a page would clobber its neighbour.
  struct Placed {
    uint32_t slot;
    BlockForm form;
  };
  const std::vector<Placed> placed = {{0, BlockForm::kWhole},   {15, BlockForm::kWhole},
                                      {9, BlockForm::kTrimmed}, {8, BlockForm::kTrimmed},
                                      {7, BlockForm::kTrimmed}, {5, BlockForm::kTrimmed},
                                      {12, BlockForm::kTrimmed}};
  for (size_t i = 0; i < placed.size(); ++i) {
    Block block(layout, HashOf(i));
    const auto src = Kept(layout, block.buffers, placed[i].form);
    INFO("slot " << placed[i].slot);
    REQUIRE(WriteOne(*tier, placed[i].slot, block.hash, src).ok());
  }
  for (size_t i = 0; i < placed.size(); ++i) {
    CheckRoundTrip(*tier, layout, placed[i].slot, HashOf(i), placed[i].form);
    // Frame f in file f % 2 at (f / 2) * frame_bytes, the page inside it.
    const uint32_t slot = placed[i].slot, frame = slot / g.pages_per_frame;
    const uint64_t offset = uint64_t{frame / 2} * g.frame_bytes() +
                            uint64_t{slot % g.pages_per_frame} * g.page_bytes;
    CHECK(HashOnDisk(setup.dirs[frame % 2], offset) == HashOf(i));
  }
  // The front counts stored bytes, not frames.
  CHECK(tier->bytes_written() == 2 * g.whole_bytes + 5 * g.trimmed_bytes);
}

TEST_CASE(
    "a whole block read for its full-attention layers writes only those and verifies",
    "[nvme][geometry]") {
  TempDir dir;
  TierSetup setup{SlidingLayout(), {dir.path().string()}};
  auto tier = setup.Open();
  const KvLayout& layout = setup.layout;
  const SlidingWindow window(layout, 0);
  Block block(layout, HashOf(1));
  REQUIRE(WriteOne(*tier, 5, block.hash, block.buffers.all()).ok());

  EngineBuffers dst(layout, 1);
  for (const Segment& s : dst.all()) std::memset(s.data, 0xab, s.bytes);
  std::vector<Segment> scratch;
  const auto targets =
      window.ReadTargets(dst.all(), BlockForm::kWhole, BlockForm::kTrimmed, scratch);
  REQUIRE(ReadOne(*tier, 5, block.hash, targets).ok());
  for (size_t s = 0; s < layout.SegmentsPerBlock(); ++s) {
    INFO("segment " << s);
    const auto* got = static_cast<const unsigned char*>(dst.all()[s].data);
    if (window.IsSliding(s)) {
      CHECK(std::all_of(got, got + layout.SegmentBytes(),
                        [](unsigned char c) { return c == 0xab; }));
    } else {
      CHECK(std::memcmp(got, block.buffers.all()[s].data, layout.SegmentBytes()) == 0);
    }
  }
  // A flipped byte in a sliding layer nobody copies still fails the read.
  const uint64_t frame_offset = uint64_t{1} * tier->geometry().frame_bytes();
  FlipByte(setup.dirs[0], frame_offset + internal::kStoredHeaderBytes + 100);
  const Status s = ReadOne(*tier, 5, block.hash, targets);
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kCorruption);
  CHECK(tier->checksum_errors() == 1);
}

TEST_CASE("all-sliding blocks are slotless: no bytes, no I/O, and they survive reopen",
          "[nvme][geometry]") {
  TempDir dir;
  TierSetup setup{AllSlidingLayout(), {dir.path().string()}};
  const uint32_t pages = [&] {
    auto tier = setup.Open();
    const internal::TierGeometry& g = tier->geometry();
    CHECK(g.trimmed_bytes == 0);
    CHECK(g.pages_per_frame == 1);
    REQUIRE(g.slotless > 3);
    Block whole(setup.layout, HashOf(0));
    REQUIRE(WriteOne(*tier, 2, whole.hash, whole.buffers.all()).ok());

    const uint64_t ops = setup.faults->ops.load();
    const uint32_t first = g.pages();
    BlockIo w[2] = {{first, HashOf(1), nullptr, {}, Status::Ok(), {}},
                    {first + 3, HashOf(2), nullptr, {}, Status::Ok(), {}}};
    tier->WriteBatch(w);
    REQUIRE(w[0].status.ok());
    REQUIRE(w[1].status.ok());
    CHECK(ReadOne(*tier, first + 3, HashOf(2), {}).ok());
    CHECK(ReadOne(*tier, first, HashOf(1), {}).ok());
    CHECK(setup.faults->ops.load() == ops);  // nothing went to the device
    // The id names its block: another hash there is a miss, not a hit.
    CHECK(ReadOne(*tier, first, HashOf(2), {}).code() == StatusCode::kCorruption);
    CHECK(ReadOne(*tier, first + 1, HashOf(1), {}).code() == StatusCode::kCorruption);
    // Single calls reach the tier too (the front routes them to the batch).
    REQUIRE(tier->Write(first + 5, HashOf(3), {}).ok());
    CHECK(tier->Read(first + 5, HashOf(3), {}).ok());
    CHECK(tier->Read(first + 5, HashOf(4), {}).code() == StatusCode::kCorruption);
    tier->Forget(first + 5);
    return first;
  }();

  {
    auto tier = setup.Open();
    const auto recovered = Sorted(tier->TakeRecovered());
    REQUIRE(recovered.size() == 3);
    CHECK(recovered[0].slot == 2);
    CHECK(recovered[0].form == BlockForm::kWhole);
    CHECK(recovered[1].slot == pages);
    CHECK(recovered[1].hash == HashOf(1));
    CHECK(recovered[1].form == BlockForm::kTrimmed);
    CHECK(recovered[2].slot == pages + 3);
    CHECK(recovered[2].form == BlockForm::kTrimmed);
    CHECK(ReadOne(*tier, pages + 3, HashOf(2), {}).ok());
    CheckRoundTrip(*tier, setup.layout, 2, HashOf(0), BlockForm::kWhole);
    // Forgotten, it is gone now and after the next reopen.
    tier->Forget(pages + 3);
    CHECK(ReadOne(*tier, pages + 3, HashOf(2), {}).code() == StatusCode::kCorruption);
  }
  auto tier = setup.Open();
  CHECK(tier->TakeRecovered().size() == 2);
  CHECK(tier->recovery_dropped() == 0);
}

TEST_CASE("a reopened tier recovers whole and trimmed blocks in their forms and slots",
          "[nvme][geometry]") {
  TempDir a, b;
  TierSetup setup{SlidingLayout(), {a.path().string(), b.path().string()}};
  {
    auto tier = setup.Open();
    Block whole(setup.layout, HashOf(0)), t1(setup.layout, HashOf(1)),
        t2(setup.layout, HashOf(2));
    const BlockHash parent = HashOf(0);
    const auto k1 = Kept(setup.layout, t1.buffers, BlockForm::kTrimmed);
    const auto k2 = Kept(setup.layout, t2.buffers, BlockForm::kTrimmed);
    BlockIo w[3] = {{10, whole.hash, nullptr, whole.buffers.all(), Status::Ok(), {}},
                    {16, t1.hash, &parent, k1, Status::Ok(), {}},
                    {19, t2.hash, nullptr, k2, Status::Ok(), {}}};
    tier->WriteBatch(w);
    for (const BlockIo& r : w) REQUIRE(r.status.ok());
  }
  auto tier = setup.Open();
  CHECK(tier->recovered() == 3);
  CHECK(tier->recovery_dropped() == 0);
  const auto recovered = Sorted(tier->TakeRecovered());
  REQUIRE(recovered.size() == 3);
  CHECK(recovered[0].slot == 10);
  CHECK(recovered[0].form == BlockForm::kWhole);
  CHECK(recovered[1].slot == 16);
  CHECK(recovered[1].form == BlockForm::kTrimmed);
  CHECK(recovered[1].has_parent);
  CHECK(recovered[1].parent == HashOf(0));
  CHECK(recovered[2].slot == 19);
  CHECK(recovered[2].form == BlockForm::kTrimmed);
  CheckRoundTrip(*tier, setup.layout, 10, HashOf(0), BlockForm::kWhole);
  CheckRoundTrip(*tier, setup.layout, 16, HashOf(1), BlockForm::kTrimmed);
  CheckRoundTrip(*tier, setup.layout, 19, HashOf(2), BlockForm::kTrimmed);
}

TEST_CASE("an older entry a newer block overlaps is dropped at recovery",
          "[nvme][geometry]") {
  TempDir dir;
  TierSetup setup{SlidingLayout(), {dir.path().string()}};
  {
    auto tier = setup.Open();
    const KvLayout& layout = setup.layout;
    Block old_trimmed(layout, HashOf(1)), whole(layout, HashOf(2));
    Block old_whole(layout, HashOf(3)), trimmed(layout, HashOf(4));
    // Frame 0: a trimmed page, then (never forgotten) a whole block over it.
    REQUIRE(WriteOne(*tier, 2, old_trimmed.hash,
                     Kept(layout, old_trimmed.buffers, BlockForm::kTrimmed))
                .ok());
    REQUIRE(WriteOne(*tier, 0, whole.hash, whole.buffers.all()).ok());
    // Frame 1: a whole block, then a trimmed page inside it.
    REQUIRE(WriteOne(*tier, 5, old_whole.hash, old_whole.buffers.all()).ok());
    REQUIRE(WriteOne(*tier, 7, trimmed.hash,
                     Kept(layout, trimmed.buffers, BlockForm::kTrimmed))
                .ok());
    // The overwritten page no longer verifies as its old block.
    const auto dst = Kept(layout, old_trimmed.buffers, BlockForm::kTrimmed);
    CHECK(ReadOne(*tier, 2, HashOf(1), dst).code() == StatusCode::kCorruption);
  }
  auto tier = setup.Open();
  CHECK(tier->recovery_dropped() == 2);
  const auto recovered = Sorted(tier->TakeRecovered());
  REQUIRE(recovered.size() == 2);
  CHECK(recovered[0].slot == 0);
  CHECK(recovered[0].hash == HashOf(2));
  CHECK(recovered[0].form == BlockForm::kWhole);
  CHECK(recovered[1].slot == 7);
  CHECK(recovered[1].hash == HashOf(4));
  CHECK(recovered[1].form == BlockForm::kTrimmed);
  CheckRoundTrip(*tier, setup.layout, 0, HashOf(2), BlockForm::kWhole);
  CheckRoundTrip(*tier, setup.layout, 7, HashOf(4), BlockForm::kTrimmed);
  // The dropped entries left the manifest: they stay gone.
  tier.reset();
  auto again = setup.Open();
  CHECK(again->recovered() == 2);
  CHECK(again->recovery_dropped() == 0);
}

TEST_CASE("a directory written with another geometry is refused naming the field",
          "[nvme][geometry][bad-input]") {
  TempDir dir;
  TierSetup setup{SlidingLayout(), {dir.path().string()}};
  {
    auto tier = setup.Open();
    Block block(setup.layout, HashOf(0));
    REQUIRE(WriteOne(*tier, 0, block.hash, block.buffers.all()).ok());
  }
  // Same identity otherwise, but nothing trims: one page per frame.
  NvmeTierConfig other = setup.Config();
  other.trimmed_bytes = other.whole_bytes;
  other.capacity_bytes = 4 * internal::NvmeGeometry(other).frame_bytes();
  auto refused = NvmeTier::Create(other);
  INFO(refused.status().ToString());
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("page_bytes") != std::string::npos);
  CHECK(refused.status().message().find("options.nvme.directories[0]") !=
        std::string::npos);

  other.wipe_on_mismatch = true;
  auto wiped = NvmeTier::Create(other);
  REQUIRE(wiped.ok());
  CHECK((*wiped)->wiped());
  CHECK((*wiped)->TakeRecovered().empty());
}

TEST_CASE("NVMe capacity below one frame or a whole block off a frame start is refused",
          "[nvme][geometry][bad-input]") {
  TempDir dir;
  TierSetup setup{SlidingLayout(), {dir.path().string()}};
  NvmeTierConfig small = setup.Config();
  small.capacity_bytes = internal::NvmeGeometry(small).frame_bytes() - 1;
  auto refused = NvmeTier::Create(small);
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("options.nvme.capacity_bytes") !=
        std::string::npos);

  auto tier = setup.Open();
  Block block(setup.layout, HashOf(0));
  const Status s = WriteOne(*tier, 1, block.hash, block.buffers.all());
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("does not fit slot 1") != std::string::npos);
  CHECK(tier->io_errors() == 0);
}

}  // namespace
}  // namespace kvtier
