// Manifest over RocksDB: identity check, entry encoding, recovery scan.
#include "backends/nvme/manifest.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

namespace kvtier::internal {
namespace {

constexpr char kMetaKey[] = "meta";
constexpr char kEntryPrefix = 'b';
constexpr size_t kKeyBytes = 13;  // 'b', slot, seq
constexpr size_t kValueBytes = 80;
constexpr uint8_t kValueVersion = 2;

template <typename T>
void Put(char* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<char>(v >> (8 * i));
}
template <typename T>
T Get(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string Key(const ManifestKey& key) {
  std::string k(kKeyBytes, '\0');
  k[0] = kEntryPrefix;
  Put<uint32_t>(k.data() + 1, key.slot);
  Put<uint64_t>(k.data() + 5, key.seq);
  return k;
}

std::string Encode(const ManifestEntry& e) {
  std::string v(kValueBytes, '\0');
  char* p = v.data();
  Put<uint8_t>(p + 0, kValueVersion);
  Put<uint8_t>(p + 1, e.codec);
  Put<uint8_t>(p + 2, e.has_parent ? 1 : 0);
  Put<uint32_t>(p + 4, e.slot);
  Put<uint64_t>(p + 8, e.stored_bytes);
  Put<uint64_t>(p + 16, e.header_digest);
  Put<uint64_t>(p + 24, e.namespace_id);
  Put<uint64_t>(p + 32, e.seq);
  Put<uint64_t>(p + 40, e.parent.lo);
  Put<uint64_t>(p + 48, e.parent.hi);
  Put<uint64_t>(p + 56, e.hash.lo);
  Put<uint64_t>(p + 64, e.hash.hi);
  return v;
}

}  // namespace

bool DecodeManifestEntry(std::string_view key, std::string_view value, ManifestEntry* e) {
  if (key.size() != kKeyBytes || value.size() != kValueBytes) return false;
  const char* p = value.data();
  if (Get<uint8_t>(p) != kValueVersion) return false;
  e->hash = {Get<uint64_t>(p + 56), Get<uint64_t>(p + 64)};
  e->codec = Get<uint8_t>(p + 1);
  e->has_parent = Get<uint8_t>(p + 2) != 0;
  e->slot = Get<uint32_t>(p + 4);
  e->stored_bytes = Get<uint64_t>(p + 8);
  e->header_digest = Get<uint64_t>(p + 16);
  e->namespace_id = Get<uint64_t>(p + 24);
  e->seq = Get<uint64_t>(p + 32);
  e->parent = {Get<uint64_t>(p + 40), Get<uint64_t>(p + 48)};
  // The key repeats slot and seq: an entry whose key disagrees is malformed.
  return Get<uint32_t>(key.data() + 1) == e->slot &&
         Get<uint64_t>(key.data() + 5) == e->seq;
}

namespace {

std::map<std::string, std::string> ParseIdentity(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

// Empty when equal; else names the first key that differs.
std::string IdentityDifference(const std::string& stored, const std::string& wanted) {
  const auto a = ParseIdentity(stored), b = ParseIdentity(wanted);
  if (a.count("format") == 0 && stored != wanted) {
    // Not a record kvtier wrote (damaged, or another program's database).
    std::string shown = stored.substr(0, 32);
    for (char& ch : shown)
      if (ch < 0x20 || ch > 0x7e) ch = '?';
    return "its identity record is not one kvtier writes (" +
           std::to_string(stored.size()) + " bytes starting '" + shown +
           "', no format= line), so the manifest is damaged or not kvtier's";
  }
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    const std::string have = it == a.end() ? "(none)" : it->second;
    if (have != v) return k + " is '" + have + "', this store has '" + v + "'";
  }
  for (const auto& [k, v] : a) {  // a line this store does not write
    if (b.count(k) == 0) return k + " is '" + v + "', this store has '(none)'";
  }
  return stored == wanted ? "" : "identity differs";
}

Status FromRocks(const std::string& what, const rocksdb::Status& s) {
  return IoError("nvme manifest: " + what + ": " + s.ToString());
}

// Whether RocksDB refused to open because its own files are damaged or
// missing (CURRENT, MANIFEST-*, a log or table), as opposed to the machine
// refusing (no space, no permission, a read-only file system).
bool ManifestDamaged(const rocksdb::Status& s) {
  if (s.IsNoSpace() || s.IsBusy() || s.IsTimedOut()) return false;
  const std::string text = s.ToString();
  for (const char* machine : {"Permission denied", "Read-only file system",
                              "No space left", "Too many open files"}) {
    if (text.find(machine) != std::string::npos) return false;
  }
  return s.IsCorruption() || s.IsIOError() || s.IsPathNotFound() || s.IsNotFound() ||
         s.IsInvalidArgument();
}

// Whether `path` holds a manifest's data: a table, or a write-ahead log
// with records. RocksDB must not create a new database over one (with
// CURRENT lost it would, and replay the old log into it). A directory left
// by a kill during the very first Open holds no data yet and is created
// afresh.
bool HoldsManifestData(const std::string& path) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    const std::string ext = e.path().extension().string();
    std::error_code size_ec;
    if (ext == ".sst" || (ext == ".log" && e.file_size(size_ec) > 0 && !size_ec)) {
      return true;
    }
  }
  return false;
}

// RocksDB's disk use, bounded so ManifestReserveBytes holds (RocksDB's
// defaults preallocate a 72 MB write-ahead log and keep 1 GB MANIFESTs).
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kWriteBufferBytes = 4 * kMiB;  // ~40k entries a memtable
constexpr uint64_t kMaxWalBytes = 16 * kMiB;      // older logs force a flush
constexpr uint64_t kInfoLogBytes = 1 * kMiB;      // LOG, and one old LOG kept
constexpr uint64_t kMaxManifestFileBytes = 4 * kMiB;
constexpr int kLevel0StopFiles = 10;  // flushes waiting for compaction
// An entry in a table: the 13-byte key, the 97-byte value and RocksDB's
// block, index and filter overhead, rounded up generously.
constexpr uint64_t kManifestEntryDiskBytes = 256;

rocksdb::Options ManifestOptions(const std::string& path) {
  const bool exists = HoldsManifestData(path);
  rocksdb::Options options;
  options.create_if_missing = !exists;
  options.compression = rocksdb::kNoCompression;  // 97-byte records of hashes
  options.allow_fallocate = false;                // logs take the disk they hold, no more
  options.write_buffer_size = kWriteBufferBytes;
  options.max_write_buffer_number = 2;
  options.max_total_wal_size = kMaxWalBytes;
  options.max_log_file_size = kInfoLogBytes;
  options.keep_log_file_num = 1;
  options.max_manifest_file_size = kMaxManifestFileBytes;
  options.level0_slowdown_writes_trigger = kLevel0StopFiles - 4;
  options.level0_stop_writes_trigger = kLevel0StopFiles;
  return options;
}

// Opens the RocksDB under `path`. A damaged one is Corruption naming it and
// the way out, or, with `wipe`, removed and created afresh (*wiped).
Result<std::unique_ptr<rocksdb::DB>> OpenDb(const std::string& path,
                                            const std::string& field, bool wipe,
                                            bool* wiped) {
  if (!HoldsManifestData(path)) {
    // Nothing to lose (a kill during the very first Open): RocksDB refuses
    // to create a database beside a leftover empty log, so start clean.
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ManifestOptions(path), path, &raw);
  if (!s.ok() && ManifestDamaged(s)) {
    if (!wipe) {
      return Corruption(field + ": the NVMe manifest '" + path + "' is damaged (" +
                        s.ToString() +
                        "), so the blocks it indexed cannot be trusted; set "
                        "options.nvme.wipe_on_mismatch to start this tier empty, or "
                        "remove that directory");
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec)
      return IoError("nvme manifest: remove damaged '" + path + "': " + ec.message());
    *wiped = true;
    s = rocksdb::DB::Open(ManifestOptions(path), path, &raw);
  }
  if (!s.ok()) return FromRocks("open '" + path + "'", s);
  return std::unique_ptr<rocksdb::DB>(raw);
}

}  // namespace

uint64_t ManifestReserveBytes(uint64_t slots) {
  // The log being written, the older ones kept until their flush, the info
  // logs, and a MANIFEST beside the one replacing it.
  constexpr uint64_t kLogs =
      kMaxWalBytes + kWriteBufferBytes + 3 * kInfoLogBytes + 2 * kMaxManifestFileBytes;
  // Level-0 tables up to the write stop, and the two memtables' flushes.
  constexpr uint64_t kLevel0 = (kLevel0StopFiles + 2) * kWriteBufferBytes;
  constexpr uint64_t kFixed = 80 * kMiB;
  static_assert(kLogs + kLevel0 <= kFixed, "the fixed reserve covers logs and level 0");
  return kFixed + slots * 2 * kManifestEntryDiskBytes;
}

Manifest::Manifest(std::unique_ptr<rocksdb::DB> db, std::string path, ManifestHooks hooks)
    : db_(std::move(db)), path_(std::move(path)), hooks_(std::move(hooks)) {}
Manifest::~Manifest() = default;

Result<std::unique_ptr<Manifest>> Manifest::Open(const std::string& dir,
                                                 const std::string& field,
                                                 const std::string& identity, bool wipe,
                                                 bool* wiped, ManifestHooks hooks) {
  *wiped = false;
  Result<std::unique_ptr<rocksdb::DB>> db =
      OpenDb(dir + "/kvtier-manifest", field, wipe, wiped);
  if (!db.ok()) return db.status();
  auto m = std::unique_ptr<Manifest>(
      new Manifest(std::move(db).value(), dir + "/kvtier-manifest", std::move(hooks)));
  // RocksDB creates its files 0644; the directory keeps them private.
  chmod((dir + "/kvtier-manifest").c_str(), 0700);

  std::string stored;
  rocksdb::Status s = m->db_->Get(rocksdb::ReadOptions(), kMetaKey, &stored);
  if (s.ok()) {
    const std::string diff = IdentityDifference(stored, identity);
    if (diff.empty()) return m;
    if (!wipe) {
      return InvalidArgument(field +
                             ": the cache there was written with another "
                             "layout or namespace (" +
                             diff +
                             "); point the store "
                             "elsewhere or set options.nvme.wipe_on_mismatch");
    }
    if (Status c = m->Clear(); !c.ok()) return c;
    *wiped = true;
  } else if (!s.IsNotFound()) {
    return FromRocks("read identity", s);
  }
  s = m->db_->Put(rocksdb::WriteOptions(), kMetaKey, identity);
  if (!s.ok()) return FromRocks("write identity", s);
  return m;
}

Result<std::vector<ManifestEntry>> Manifest::LoadAll(uint64_t* malformed) {
  std::vector<ManifestEntry> entries;
  std::vector<std::string> bad;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  const std::string prefix(1, kEntryPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    ManifestEntry e;
    if (DecodeManifestEntry(it->key().ToStringView(), it->value().ToStringView(), &e)) {
      entries.push_back(e);
    } else {
      bad.push_back(it->key().ToString());
    }
  }
  if (!it->status().ok()) return FromRocks("scan", it->status());
  rocksdb::WriteBatch batch;
  for (const auto& k : bad) batch.Delete(k);
  if (!bad.empty()) (void)Write(&batch);
  *malformed = bad.size();
  std::sort(entries.begin(), entries.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) { return a.seq < b.seq; });
  return entries;
}

rocksdb::Status Manifest::Write(rocksdb::WriteBatch* batch) {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (hooks_.before_write) hooks_.before_write();
  return db_->Write(rocksdb::WriteOptions(), batch);
}

Status Manifest::CheckRoom(const char* what) const {
  struct statvfs vfs {};
  if (statvfs(path_.c_str(), &vfs) != 0) return Status::Ok();  // RocksDB will tell
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes >= kManifestFloorBytes) return Status::Ok();
  return ResourceExhausted("nvme manifest: " + std::string(what) + " refused: '" + path_ +
                           "' has " + std::to_string(free_bytes) +
                           " bytes free, below the " +
                           std::to_string(kManifestFloorBytes) +
                           " the manifest keeps; free space on that filesystem");
}

Status Manifest::Delete(std::span<const ManifestKey> keys) {
  if (keys.empty()) return Status::Ok();
  if (Status room = CheckRoom("delete"); !room.ok()) return room;
  rocksdb::WriteBatch batch;
  for (const ManifestKey& k : keys) batch.Delete(Key(k));
  rocksdb::Status s = Write(&batch);
  return s.ok() ? Status::Ok() : FromRocks("delete", s);
}

Status Manifest::Put(std::span<const ManifestEntry> entries) {
  if (entries.empty()) return Status::Ok();
  if (Status room = CheckRoom("put"); !room.ok()) return room;
  rocksdb::WriteBatch batch;
  for (const ManifestEntry& e : entries) batch.Put(Key(e.key()), Encode(e));
  rocksdb::Status s = Write(&batch);
  return s.ok() ? Status::Ok() : FromRocks("put", s);
}

Status Manifest::Clear() {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(std::string(1, kEntryPrefix), std::string(1, kEntryPrefix + 1));
  rocksdb::Status s = Write(&batch);
  return s.ok() ? Status::Ok() : FromRocks("clear", s);
}

}  // namespace kvtier::internal
