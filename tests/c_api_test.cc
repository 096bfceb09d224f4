// The C API's error paths: every null or wrong argument is a code and a
// message naming the field, never a crash, and the store stays usable.
// (The happy path runs as examples/c_example.c, compiled as C.)
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "tests/c_api_test_support.h"

namespace {

using kvtier::testing::CheckNames;
using kvtier::testing::CStore;

kvtier_options SmallOptions() { return kvtier::testing::SmallCOptions(); }

TEST_CASE("c api: null arguments are INVALID_ARGUMENT naming the argument", "[c_api]") {
  CStore s;
  kvtier_error err{};
  kvtier_store* out = nullptr;
  CHECK(kvtier_open(nullptr, &out, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "options");
  kvtier_options o = SmallOptions();
  CHECK(kvtier_open(&o, nullptr, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "out");

  size_t n = 0;
  kvtier_block_hash h{};
  CHECK(kvtier_lookup(nullptr, &h, 1, &n, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "store");
  CHECK(kvtier_lookup(s.store, nullptr, 1, &n, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "chain");
  CHECK(kvtier_lookup(s.store, &h, 1, nullptr, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "hit_blocks");
  CHECK(kvtier_load(s.store, &h, 1, nullptr, 4, &n, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "dst");
  CHECK(kvtier_save(s.store, &h, 1, 0, nullptr, 4, &n, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "src");
  CHECK(kvtier_hash_chain(s.store, nullptr, 8, &h, 1, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "tokens");
  CHECK(kvtier_stats_get(s.store, nullptr) == KVTIER_INVALID_ARGUMENT);
  // A null error buffer is allowed: the code alone reports the failure.
  CHECK(kvtier_lookup(nullptr, &h, 1, &n, nullptr) == KVTIER_INVALID_ARGUMENT);
  kvtier_close(nullptr);  // a no-op
}

TEST_CASE("c api: options not set up by kvtier_options_init are refused", "[c_api]") {
  kvtier_options o = SmallOptions();
  o.struct_size = 8;
  kvtier_store* out = nullptr;
  kvtier_error err{};
  CHECK(kvtier_open(&o, &out, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "options.struct_size");
  CHECK(out == nullptr);
}

TEST_CASE("c api: Open's errors name the option", "[c_api]") {
  kvtier_store* out = nullptr;
  kvtier_error err{};
  kvtier_options o = SmallOptions();
  o.model_id = nullptr;
  CHECK(kvtier_open(&o, &out, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "options.model_id");
  o = SmallOptions();
  o.head_dim = 0;
  CHECK(kvtier_open(&o, &out, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "layout.head_dim");
  o = SmallOptions();
  o.host_codec = KVTIER_CODEC_INT8;
  o.dtype = KVTIER_DTYPE_FP8_E4M3;  // already 8-bit: an 8-bit codec is refused
  CHECK(kvtier_open(&o, &out, &err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(err, "options.host.codec");
  CHECK(out == nullptr);
}

TEST_CASE("c api: the NVMe tier's checksum key and key file reach Open",
          "[c_api][keyed]") {
  kvtier_store* out = nullptr;
  kvtier_error err{};
  kvtier_options o = SmallOptions();
  char dir_template[] = "/tmp/kvtier-c-keyed-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const char* dirs[] = {dir_template};
  o.nvme_capacity_bytes = 64 * 4096;
  o.nvme_directories = dirs;
  o.nvme_directory_count = 1;
  o.nvme_checksum_key = "short";
  CHECK(kvtier_open(&o, &out, &err) != KVTIER_OK);
  if (std::string(err.message).find("NotSupported") == std::string::npos) {
    CheckNames(err, "options.nvme.checksum_key: 5 bytes");
  }
  o.nvme_checksum_key = nullptr;
  const std::string file = std::string(dir_template) + "/no-such.key";
  o.nvme_checksum_key_file = file.c_str();
  CHECK(kvtier_open(&o, &out, &err) != KVTIER_OK);
  if (std::string(err.message).find("NotSupported") == std::string::npos) {
    CheckNames(err, "options.nvme.checksum_key_file");
    o.nvme_create_checksum_key_file = 1;
    REQUIRE(kvtier_open(&o, &out, &err) == KVTIER_OK);
    kvtier_close(out);
  }
  std::filesystem::remove_all(dir_template);
}

TEST_CASE("c api: a wrong segment count is refused and the store still round-trips",
          "[c_api]") {
  CStore s;
  const size_t per_block = kvtier_segments_per_block(s.store);
  const size_t seg_bytes = kvtier_segment_bytes(s.store);
  REQUIRE(per_block == 4);
  std::vector<uint32_t> tokens(8);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 31);
  kvtier_block_hash chain[2];
  REQUIRE(kvtier_hash_chain(s.store, tokens.data(), tokens.size(), chain, 2, &s.err) ==
          KVTIER_OK);

  std::vector<unsigned char> src(2 * per_block * seg_bytes), dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
  std::vector<kvtier_segment> src_segs, dst_segs;
  for (size_t i = 0; i < 2 * per_block; ++i) {
    src_segs.push_back({src.data() + i * seg_bytes, seg_bytes, 0});
    dst_segs.push_back({dst.data() + i * seg_bytes, seg_bytes, 0});
  }
  size_t stored = 0;
  CHECK(kvtier_save(s.store, chain, 2, 0, src_segs.data(), src_segs.size() - 1, &stored,
                    &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "save.src");

  REQUIRE(kvtier_save(s.store, chain, 2, 0, src_segs.data(), src_segs.size(), &stored,
                      &s.err) == KVTIER_OK);
  CHECK(stored == 2);
  size_t loaded = 0;
  REQUIRE(kvtier_load(s.store, chain, 2, dst_segs.data(), dst_segs.size(), &loaded,
                      &s.err) == KVTIER_OK);
  CHECK(loaded == 2);
  CHECK(dst == src);
  kvtier_stats stats;
  REQUIRE(kvtier_stats_get(s.store, &stats) == KVTIER_OK);
  CHECK(stats.invalid_calls == 1);
  CHECK(stats.host_blocks == 2);
}

TEST_CASE("c api: layer windows and checkpoints trim what Save keeps", "[c_api]") {
  kvtier_options o = SmallOptions();
  const uint32_t windows[2] = {8, 0};  // two blocks of window, then a global layer
  o.layer_windows = windows;
  o.swa_checkpoint_blocks = 4;
  kvtier_store* store = nullptr;
  kvtier_error err{};
  REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  const size_t per_block = kvtier_segments_per_block(store);
  const size_t seg_bytes = kvtier_segment_bytes(store);
  std::vector<uint32_t> tokens(8 * 4);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 13);
  kvtier_block_hash chain[8];
  REQUIRE(kvtier_hash_chain(store, tokens.data(), tokens.size(), chain, 8, &err) ==
          KVTIER_OK);
  std::vector<unsigned char> src(8 * per_block * seg_bytes, 0x5A);
  std::vector<kvtier_segment> segs;
  for (size_t i = 0; i < 8 * per_block; ++i) {
    segs.push_back({src.data() + i * seg_bytes, seg_bytes, 0});
  }
  size_t stored = 0;
  REQUIRE(kvtier_save(store, chain, 8, 0, segs.data(), segs.size(), &stored, &err) ==
          KVTIER_OK);
  kvtier_stats stats;
  REQUIRE(kvtier_stats_get(store, &stats) == KVTIER_OK);
  CHECK(stats.save_trimmed_blocks == 4);  // blocks 0, 1, 4, 5
  CHECK(stats.trim_bytes_saved == 4 * 2 * seg_bytes);
  kvtier_close(store);
}

TEST_CASE("c api: erase drops a chain's tail, clear the rest, nulls are refused",
          "[c_api][erase]") {
  CStore s;
  const size_t per_block = kvtier_segments_per_block(s.store);
  const size_t seg_bytes = kvtier_segment_bytes(s.store);
  std::vector<uint32_t> tokens(12);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 17);
  kvtier_block_hash chain[3];
  REQUIRE(kvtier_hash_chain(s.store, tokens.data(), tokens.size(), chain, 3, &s.err) ==
          KVTIER_OK);
  std::vector<unsigned char> src(3 * per_block * seg_bytes, 7);
  std::vector<kvtier_segment> segs;
  for (size_t i = 0; i < 3 * per_block; ++i) {
    segs.push_back({src.data() + i * seg_bytes, seg_bytes, 0});
  }
  REQUIRE(kvtier_save(s.store, chain, 3, 0, segs.data(), segs.size(), nullptr, &s.err) ==
          KVTIER_OK);

  size_t erased = 99, hit = 0;
  CHECK(kvtier_erase(nullptr, chain, 3, &erased, &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "store");
  CHECK(kvtier_erase(s.store, nullptr, 3, &erased, &s.err) == KVTIER_INVALID_ARGUMENT);
  CheckNames(s.err, "chain");
  CHECK(kvtier_clear(nullptr, &erased, &s.err) == KVTIER_INVALID_ARGUMENT);

  REQUIRE(kvtier_erase(s.store, chain + 2, 1, &erased, &s.err) == KVTIER_OK);
  CHECK(erased == 1);
  REQUIRE(kvtier_lookup(s.store, chain, 3, &hit, &s.err) == KVTIER_OK);
  CHECK(hit == 2);
  REQUIRE(kvtier_clear(s.store, &erased, &s.err) == KVTIER_OK);
  CHECK(erased == 2);
  REQUIRE(kvtier_lookup(s.store, chain, 3, &hit, &s.err) == KVTIER_OK);
  CHECK(hit == 0);
  CHECK(kvtier_erase(s.store, chain, 3, nullptr, &s.err) == KVTIER_OK);  // may be NULL
}

}  // namespace
