// KvLayout: validation names the bad field, the fingerprint is stable and
// covers every field, and the segment arithmetic; plus Status's text form.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kvtier/layout.h"
#include "kvtier/status.h"

namespace kvtier {
namespace {

// Llama-3.1-8B: 32 layers, 8 KV heads of 128, fp16, 16-token pages.
KvLayout Llama8B() {
  KvLayout l;
  l.num_layers = 32;
  l.kv_heads = 8;
  l.head_dim = 128;
  l.dtype = DType::kFp16;
  l.block_tokens = 16;
  l.parts_per_layer = 2;
  return l;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

TEST_CASE("typical layouts validate", "[layout]") {
  CHECK(Llama8B().Validate().ok());

  KvLayout mla;  // DeepSeek-V3 style: one combined latent page per layer
  mla.num_layers = 61;
  mla.kv_heads = 1;
  mla.head_dim = 576;
  mla.dtype = DType::kFp8E4M3;
  mla.parts_per_layer = 1;
  CHECK(mla.Validate().ok());

  KvLayout windowed = Llama8B();
  windowed.layer_windows.assign(32, 0);
  windowed.layer_windows[1] = 4096;
  CHECK(windowed.Validate().ok());
}

TEST_CASE("Validate names the offending field", "[layout]") {
  struct Case {
    const char* what;
    void (*mutate)(KvLayout&);
    const char* field;
  };
  const Case cases[] = {
      {"no layers", [](KvLayout& l) { l.num_layers = 0; },
       "layout.num_layers: must be > 0"},
      {"no kv heads", [](KvLayout& l) { l.kv_heads = 0; },
       "layout.kv_heads: must be > 0"},
      {"no head dim", [](KvLayout& l) { l.head_dim = 0; },
       "layout.head_dim: must be > 0"},
      {"empty blocks", [](KvLayout& l) { l.block_tokens = 0; },
       "layout.block_tokens: must be > 0"},
      {"too many layers", [](KvLayout& l) { l.num_layers = 1025; }, "layout.num_layers:"},
      {"too many heads", [](KvLayout& l) { l.kv_heads = 1025; }, "layout.kv_heads:"},
      {"huge head dim", [](KvLayout& l) { l.head_dim = 16385; }, "layout.head_dim:"},
      {"huge blocks", [](KvLayout& l) { l.block_tokens = 65537; },
       "layout.block_tokens:"},
      {"dtype 0", [](KvLayout& l) { l.dtype = static_cast<DType>(0); }, "layout.dtype:"},
      {"dtype 9", [](KvLayout& l) { l.dtype = static_cast<DType>(9); }, "layout.dtype:"},
      {"0 parts", [](KvLayout& l) { l.parts_per_layer = 0; }, "layout.parts_per_layer:"},
      {"3 parts", [](KvLayout& l) { l.parts_per_layer = 3; }, "layout.parts_per_layer:"},
      {"short windows", [](KvLayout& l) { l.layer_windows.assign(31, 0); },
       "layout.layer_windows:"},
      {"long windows", [](KvLayout& l) { l.layer_windows.assign(33, 0); },
       "layout.layer_windows:"},
      // 65536 * 64 * 128 * 2 bytes = 1 GiB exactly is allowed; one head more is not.
      {"segment over 1 GiB",
       [](KvLayout& l) {
         l.block_tokens = 65536;
         l.kv_heads = 65;
       },
       "layout.block_tokens:"},
  };
  for (const Case& c : cases) {
    KvLayout l = Llama8B();
    c.mutate(l);
    Status s = l.Validate();
    INFO(c.what << ": " << s.ToString());
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(StartsWith(s.message(), c.field));
  }

  KvLayout at_limit = Llama8B();
  at_limit.block_tokens = 65536;
  at_limit.kv_heads = 64;
  CHECK(at_limit.SegmentBytes() == (size_t{1} << 30));
  CHECK(at_limit.Validate().ok());
}

TEST_CASE("a bad layer_windows length says how many entries it has and needs",
          "[layout]") {
  KvLayout l = Llama8B();
  l.layer_windows.assign(3, 0);
  Status s = l.Validate();
  CHECK(s.message().find("has 3 entries") != std::string::npos);
  CHECK(s.message().find("(32)") != std::string::npos);
}

// Computed outside this code: the serialization documented in lib/layout.cc,
// packed with Python struct ('<7I' after "kvtier.layout.v1") and hashed by
// `xxhsum -H3` (XXH3-64, seed 0; xxhash 0.8.1).
TEST_CASE("layout fingerprint golden vectors never change", "[layout]") {
  CHECK(Llama8B().Fingerprint() == 0x8fc88138b52e541aull);

  KvLayout windowed;
  windowed.num_layers = 4;
  windowed.kv_heads = 2;
  windowed.head_dim = 64;
  windowed.dtype = DType::kBf16;
  windowed.block_tokens = 32;
  windowed.parts_per_layer = 1;
  windowed.layer_windows = {0, 4096, 0, 4096};
  CHECK(windowed.Fingerprint() == 0xbe840e8ef84028e5ull);
}

TEST_CASE("the fingerprint and equality change with every field", "[layout]") {
  std::vector<KvLayout> variants(10, Llama8B());
  variants[1].num_layers = 33;
  variants[2].kv_heads = 4;
  variants[3].head_dim = 64;
  variants[4].dtype = DType::kBf16;
  variants[5].block_tokens = 32;
  variants[6].parts_per_layer = 1;
  variants[7].layer_windows.assign(32, 0);  // literal: explicit zeros != empty
  variants[8].layer_windows.assign(32, 0);
  variants[8].layer_windows[31] = 1024;
  // Fields must not bleed into each other: swapping two values changes it.
  variants[9].kv_heads = 128;
  variants[9].head_dim = 8;

  for (size_t i = 0; i < variants.size(); ++i) {
    CHECK(variants[i] == variants[i]);
    CHECK(variants[i].Fingerprint() == KvLayout(variants[i]).Fingerprint());
    for (size_t j = i + 1; j < variants.size(); ++j) {
      INFO("variants " << i << " and " << j);
      CHECK_FALSE(variants[i] == variants[j]);
      CHECK(variants[i].Fingerprint() != variants[j].Fingerprint());
    }
  }
}

TEST_CASE("segment and block sizes follow from the layout", "[layout]") {
  const KvLayout llama = Llama8B();
  CHECK(llama.SegmentsPerBlock() == 64);
  CHECK(llama.SegmentBytes() == 16 * 8 * 128 * 2);  // 32 KiB
  CHECK(llama.BlockBytes() == 64 * 32768);          // 2 MiB

  KvLayout mla;
  mla.num_layers = 61;
  mla.kv_heads = 1;
  mla.head_dim = 576;
  mla.dtype = DType::kFp8E4M3;
  mla.parts_per_layer = 1;
  CHECK(mla.SegmentsPerBlock() == 61);
  CHECK(mla.SegmentBytes() == 16 * 576);
  CHECK(mla.BlockBytes() == 61 * 16 * 576);

  KvLayout fp32 = Llama8B();
  fp32.dtype = DType::kFp32;
  CHECK(fp32.SegmentBytes() == 2 * llama.SegmentBytes());

  // Every field at its limit: computed without overflow (2^42 and 2^53 bytes),
  // and rejected by the segment limit rather than wrapping to a small size.
  KvLayout huge;
  huge.num_layers = 1024;
  huge.kv_heads = 1024;
  huge.head_dim = 16384;
  huge.block_tokens = 65536;
  huge.dtype = DType::kFp32;
  CHECK(huge.SegmentBytes() == (size_t{1} << 42));
  CHECK(huge.BlockBytes() == (size_t{1} << 53));
  CHECK(StartsWith(huge.Validate().message(), "layout.block_tokens:"));
}

TEST_CASE("WindowOf is 0 (full attention) unless a window is given", "[layout]") {
  KvLayout l = Llama8B();
  CHECK(l.WindowOf(5) == 0);
  l.layer_windows.assign(32, 0);
  l.layer_windows[5] = 4096;
  CHECK(l.WindowOf(5) == 4096);
  CHECK(l.WindowOf(4) == 0);
}

TEST_CASE("dtypes have their element size and a name", "[layout]") {
  CHECK(DTypeBytes(DType::kFp16) == 2);
  CHECK(DTypeBytes(DType::kBf16) == 2);
  CHECK(DTypeBytes(DType::kFp32) == 4);
  CHECK(DTypeBytes(DType::kFp8E4M3) == 1);
  CHECK(DTypeBytes(static_cast<DType>(0)) == 0);
  CHECK(DTypeName(DType::kFp16) == "fp16");
  CHECK(DTypeName(DType::kBf16) == "bf16");
  CHECK(DTypeName(DType::kFp32) == "fp32");
  CHECK(DTypeName(DType::kFp8E4M3) == "fp8_e4m3");
  CHECK(DTypeName(static_cast<DType>(77)) == "invalid");
}

TEST_CASE("Status prints as code: message", "[layout][status]") {
  CHECK(Status().ToString() == "OK");
  CHECK(InvalidArgument("layout.head_dim: must be > 0").ToString() ==
        "InvalidArgument: layout.head_dim: must be > 0");
  CHECK(ResourceExhausted("").ToString() == "ResourceExhausted");
  CHECK(StatusCodeName(StatusCode::kNotSupported) == "NotSupported");
  CHECK(StatusCodeName(StatusCode::kNotFound) == "NotFound");
  CHECK(StatusCodeName(StatusCode::kUnavailable) == "Unavailable");
  CHECK(StatusCodeName(StatusCode::kIoError) == "IoError");
  CHECK(StatusCodeName(StatusCode::kCorruption) == "Corruption");
  CHECK(StatusCodeName(StatusCode::kInternal) == "Internal");
  CHECK(StatusCodeName(static_cast<StatusCode>(99)) == "Unknown");
  CHECK(Unavailable("x").IsRetryable());
  CHECK_FALSE(IoError("x").IsRetryable());
}

}  // namespace
}  // namespace kvtier
