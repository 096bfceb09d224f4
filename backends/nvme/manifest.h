// Manifest: the NVMe tier's persistent index in RocksDB, one database in the
// first cache directory. Key "b" + slot + seq (ManifestKey: one write of one
// slot) -> the block written there and how to check it; key "meta" -> the
// identity (namespace, layout, geometry) the directory was written with.
//
// Keyed by the write, not by the hash: a delete names exactly one write of
// one slot, so a late delete (NvmeTier::Forget after the Store's lock) can
// never erase a newer entry, whether it names the same hash in another slot
// or in the same one. Two entries may then name one hash (the old one's
// delete still pending): recovery keeps the newer and drops the older.
// Entries of kvtier 0.1 (key "b" + hash) do not decode: recovery drops them
// as malformed, so a 0.1 directory opens empty.
//
// Order (DESIGN invariant 6): an entry is put only after its slot write
// completed, and the entry of a block whose slot is about to be overwritten
// is deleted before the write starts. So after a kill every entry points at
// a slot that holds exactly that block. Writes go to RocksDB's WAL without
// fsync: they survive a process kill (the OS has them), not a power cut.
//
// Thread safety: thread-safe (RocksDB is).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/hash.h"
#include "kvtier/status.h"

namespace rocksdb {
class DB;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace kvtier::internal {

// One entry's key: the slot and the write (seq) that put it there.
struct ManifestKey {
  uint32_t slot = 0;
  uint64_t seq = 0;
};

// Test seam: runs before every RocksDB write (put, delete, clear), inside
// the manifest's write order, so a delay here stalls writers the way a
// RocksDB write stall does.
struct ManifestHooks {
  std::function<void()> before_write;
};

struct ManifestEntry {
  BlockHash hash;
  BlockHash parent;  // previous block of its chain; valid if has_parent
  bool has_parent = false;
  uint32_t slot = 0;
  uint8_t codec = 0;
  uint64_t stored_bytes = 0;   // StoredBlockBytes of the block
  uint64_t header_digest = 0;  // XXH3-64 of the slot's 64-byte header
  uint64_t namespace_id = 0;   // fingerprint of the store's namespace
  uint64_t seq = 0;            // write order: recovery replays it oldest first

  ManifestKey key() const { return ManifestKey{slot, seq}; }
};

// Decodes one stored entry ("b"+hash -> value); false when the record is
// not one this version writes (wrong sizes or version). Exposed for the
// fuzzer (fuzz/manifest_entry_fuzz.cc); LoadAll uses it.
bool DecodeManifestEntry(std::string_view key, std::string_view value, ManifestEntry* e);

// The most disk the manifest of a tier with `slots` slots takes, which
// every cache file's filesystem keeps free at Open (CacheFile::Open):
// RocksDB's write-ahead logs (bounded, never preallocated), its info logs
// and MANIFEST files, a level-0 backlog of memtable flushes up to the write
// stop, and the tables, at most kManifestEntryDiskBytes an entry, twice over
// while a compaction rewrites them. 80 MiB + 512 bytes a slot.
uint64_t ManifestReserveBytes(uint64_t slots);

// Free space below which the manifest writes nothing (Put and Delete give
// ResourceExhausted, the tier counts a full event and backs off): RocksDB
// meeting ENOSPC mid-write aborts the process in Debian's build, so a disk
// that something else filled must stop the manifest before that.
inline constexpr uint64_t kManifestFloorBytes = uint64_t{16} << 20;

class Manifest {
 public:
  // Opens or creates the manifest in `dir`. `identity` is "key=value" lines;
  // a manifest written with another identity is refused (InvalidArgument
  // naming `field`, the key that differs and both values) or, if `wipe`,
  // emptied. *wiped says whether that happened.
  static Result<std::unique_ptr<Manifest>> Open(const std::string& dir,
                                                const std::string& field,
                                                const std::string& identity, bool wipe,
                                                bool* wiped, ManifestHooks hooks = {});
  ~Manifest();

  // Every entry, in seq order. Entries that do not decode are counted in
  // *malformed and deleted.
  Result<std::vector<ManifestEntry>> LoadAll(uint64_t* malformed);
  // Deletes the entries of `keys` (absent ones are no error).
  Status Delete(std::span<const ManifestKey> keys);
  Status Put(std::span<const ManifestEntry> entries);
  // Empties the manifest (keeps the identity).
  Status Clear();

 private:
  Manifest(std::unique_ptr<rocksdb::DB> db, std::string path, ManifestHooks hooks);
  rocksdb::Status Write(rocksdb::WriteBatch* batch);
  // ResourceExhausted when the manifest's filesystem has less than
  // kManifestFloorBytes free.
  Status CheckRoom(const char* what) const;

  std::unique_ptr<rocksdb::DB> db_;
  const std::string path_;
  const ManifestHooks hooks_;
  // Writes go to RocksDB one at a time. RocksDB would group concurrent
  // writers itself, but Debian's build is not instrumented for TSAN, which
  // then reports the group leader appending a follower's batch as a race;
  // the batches are small and the writer thread sends most of them anyway.
  std::mutex write_mu_;
};

}  // namespace kvtier::internal
