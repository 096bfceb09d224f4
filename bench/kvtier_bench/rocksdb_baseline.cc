// The naive RocksDB block store kvtier is compared with: each block one
// value (key = chain id and block index), BlobDB on so values go to blob
// files, default write options (WAL on, no sync); reads with O_DIRECT so a
// Load reads the disk as kvtier's O_DIRECT tier does, not the page cache.
#include "bench/kvtier_bench/target.h"

#if KVTIER_WITH_NVME
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstring>
#include <filesystem>

namespace kvtier::bench {
namespace {

class RocksDbTarget final : public Target {
 public:
  RocksDbTarget(const BenchConfig& c, std::unique_ptr<rocksdb::DB> db)
      : config_(c), layout_(BenchLayout(c.block_bytes)), db_(std::move(db)) {}

  const KvLayout& layout() const override { return layout_; }
  uint64_t capacity_blocks() const override {
    return config_.capacity_bytes / config_.block_bytes;
  }

  bool Save(uint64_t id, Buffers& buf) override {
    rocksdb::WriteBatch batch;
    for (uint32_t i = 0; i < config_.batch; ++i) {
      const Key k(id, i);
      batch.Put(k.slice(), rocksdb::Slice(reinterpret_cast<const char*>(buf.block(i)),
                                          config_.block_bytes));
    }
    if (!db_->Write(rocksdb::WriteOptions(), &batch).ok()) return false;
    saved_.fetch_add(config_.batch, std::memory_order_relaxed);
    return true;
  }

  // The naive store has neither asynchronous loads nor a prefix lookup
  // (kvtier-bench refuses --inflight and --op lookup with --tier rocksdb).
  std::unique_ptr<PendingLoad> BeginLoad(uint64_t, Buffers&) override { return nullptr; }
  size_t Lookup(uint64_t) override { return 0; }

  size_t Load(uint64_t id, Buffers& buf) override {
    size_t n = 0;
    rocksdb::PinnableSlice value;
    for (uint32_t i = 0; i < config_.batch; ++i, value.Reset()) {
      const Key k(id, i);
      if (!db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), k.slice(), &value)
               .ok() ||
          value.size() != config_.block_bytes) {
        break;  // a prefix, as Store::Load delivers
      }
      std::memcpy(buf.block(i), value.data(), value.size());
      ++n;
    }
    loaded_.fetch_add(n, std::memory_order_relaxed);
    return n;
  }

  // Blob files are written at memtable flush: a Save is on disk after it.
  void Flush() override { (void)db_->Flush(rocksdb::FlushOptions()); }

  TargetCounters Counters() const override {
    TargetCounters c;
    c.saved_blocks = saved_.load();
    c.loaded_blocks = loaded_.load();
    return c;
  }

  std::string Describe() const override {
    return "rocksdb " + std::to_string(ROCKSDB_MAJOR) + "." +
           std::to_string(ROCKSDB_MINOR) +
           ": one value per block, enable_blob_files, WAL on, use_direct_reads";
  }

 private:
  struct Key {
    Key(uint64_t id, uint32_t i) {
      std::memcpy(bytes, &id, 8);
      std::memcpy(bytes + 8, &i, 4);
    }
    rocksdb::Slice slice() const { return rocksdb::Slice(bytes, sizeof bytes); }
    char bytes[12];
  };

  const BenchConfig config_;
  const KvLayout layout_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<uint64_t> saved_{0}, loaded_{0};
};

}  // namespace

Result<std::unique_ptr<Target>> OpenRocksDbTarget(const BenchConfig& c) {
  const std::string path = (std::filesystem::path(c.dir) / "rocksdb").string();
  rocksdb::Options o;
  o.create_if_missing = true;
  o.enable_blob_files = true;
  o.min_blob_size = 0;
  o.use_direct_reads = true;
  o.IncreaseParallelism(2);
  (void)rocksdb::DestroyDB(path, o);  // every run starts empty, as the Store's does
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(o, path, &db);
  if (!s.ok())
    return Status(StatusCode::kIoError, "rocksdb open " + path + ": " + s.ToString());
  return std::unique_ptr<Target>(new RocksDbTarget(c, std::unique_ptr<rocksdb::DB>(db)));
}

}  // namespace kvtier::bench

#else  // the NVMe tier, and RocksDB with it, is not built

namespace kvtier::bench {
Result<std::unique_ptr<Target>> OpenRocksDbTarget(const BenchConfig&) {
  return Status(StatusCode::kNotSupported,
                "kvtier was built without RocksDB (KVTIER_WITH_NVME=OFF)");
}
}  // namespace kvtier::bench

#endif
