// Bad input: each gets InvalidArgument (or NotSupported) naming the field,
// and the store keeps working afterwards.
#include <catch2/catch.hpp>

#include "kvtier/kvtier.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;

Options GoodOptions() {
  Options o;
  o.layout = testing::SmallLayout();
  o.model_id = "bad-input-model@1";
  o.host.capacity_bytes = 1 << 20;
  o.host.lock_memory = false;
  return o;
}

void CheckError(const Status& s, StatusCode code, const std::string& field) {
  INFO(s.ToString());
  CHECK(s.code() == code);
  CHECK(s.message().find(field) != std::string::npos);
}

// After a rejected call the store still saves and loads byte-exact.
void CheckStillWorks(Store& store) {
  std::vector<uint32_t> tokens(12, 9);
  const auto chain = store.hasher().Chain(tokens);
  EngineBuffers src(store.layout(), chain.size()), dst(store.layout(), chain.size());
  src.FillFrom(chain);
  REQUIRE(store.Save(chain, src.all()).ok());
  REQUIRE(store.Load(chain, dst.all())->blocks == chain.size());
  for (size_t b = 0; b < chain.size(); ++b) CHECK(dst.Matches(b, chain[b]));
}

struct Fixture {
  std::unique_ptr<Store> store = std::move(Store::Open(GoodOptions())).value();
  std::vector<BlockHash> chain = store->hasher().Chain(std::vector<uint32_t>(8, 1));
  EngineBuffers buffers{store->layout(), 2};
};

TEST_CASE("a null segment is InvalidArgument naming the segment", "[store][bad-input]") {
  Fixture f;
  std::vector<Segment> segs(f.buffers.all().begin(), f.buffers.all().end());
  segs[3].data = nullptr;
  CheckError(f.store->Save(f.chain, segs).status(), StatusCode::kInvalidArgument,
             "save.src[3].data");
  CheckError(f.store->Load(f.chain, segs).status(), StatusCode::kInvalidArgument,
             "load.dst[3].data");
  CheckStillWorks(*f.store);
  CHECK(f.store->Stats().invalid_calls == 2);
}

TEST_CASE("a wrong segment count is InvalidArgument", "[store][bad-input]") {
  Fixture f;
  auto segs = f.buffers.all();
  CheckError(f.store->Save(f.chain, segs.first(segs.size() - 1)).status(),
             StatusCode::kInvalidArgument, "save.src");
  CheckError(f.store->Load(std::span(f.chain).first(1), segs).status(),
             StatusCode::kInvalidArgument, "load.dst");
  CheckStillWorks(*f.store);
}

TEST_CASE("a wrong segment size is InvalidArgument naming bytes", "[store][bad-input]") {
  Fixture f;
  std::vector<Segment> segs(f.buffers.all().begin(), f.buffers.all().end());
  segs[0].bytes -= 2;
  CheckError(f.store->Save(f.chain, segs).status(), StatusCode::kInvalidArgument,
             "save.src[0].bytes");
  CheckStillWorks(*f.store);
}

TEST_CASE("device segments without a GPU tier are NotSupported", "[store][bad-input]") {
  Fixture f;
  std::vector<Segment> segs(f.buffers.all().begin(), f.buffers.all().end());
  segs[1].kind = MemoryKind::kDevice;
  CheckError(f.store->Save(f.chain, segs).status(), StatusCode::kNotSupported,
             "save.src[1].kind");
  CheckStillWorks(*f.store);
}

TEST_CASE("first_block past the chain is InvalidArgument", "[store][bad-input]") {
  Fixture f;
  CheckError(f.store->Save(f.chain, {}, 5).status(), StatusCode::kInvalidArgument,
             "save.first_block");
  CheckStillWorks(*f.store);
}

TEST_CASE("a chain longer than the token list is InvalidArgument", "[store][bad-input]") {
  Fixture f;
  std::vector<uint32_t> tokens(10, 3);  // 2 full blocks of 4
  std::vector<BlockHash> out(3);
  CheckError(f.store->hasher().ChainInto(tokens, out), StatusCode::kInvalidArgument,
             "chain");
  CHECK(f.store->hasher().ChainInto(tokens, std::span(out).first(2)).ok());
  CheckStillWorks(*f.store);
}

TEST_CASE("zero capacity is InvalidArgument naming the tier", "[store][bad-input]") {
  Options o = GoodOptions();
  o.host.capacity_bytes = 0;
  CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument,
             "options.host.capacity_bytes");
}

TEST_CASE("capacity below one block is InvalidArgument", "[store][bad-input]") {
  Options o = GoodOptions();
  o.host.capacity_bytes = o.layout.BlockBytes() / 2;
  CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument,
             "options.host.capacity_bytes");
}

TEST_CASE("a layout that contradicts itself is InvalidArgument", "[store][bad-input]") {
  Options o = GoodOptions();
  o.layout.layer_windows = {0, 1024, 0};  // three windows for two layers
  CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument,
             "layout.layer_windows");
  o = GoodOptions();
  o.layout.head_dim = 0;
  CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument, "layout.head_dim");
}

TEST_CASE("segments sized for another layout are InvalidArgument", "[store][bad-input]") {
  Fixture f;
  KvLayout bigger = f.store->layout();
  bigger.head_dim *= 2;
  EngineBuffers other(bigger, 2);
  CheckError(f.store->Save(f.chain, other.all()).status(), StatusCode::kInvalidArgument,
             "bytes");
  CheckStillWorks(*f.store);
}

TEST_CASE("a missing model id is InvalidArgument", "[store][bad-input]") {
  Options o = GoodOptions();
  o.model_id.clear();
  CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument, "options.model_id");
}

TEST_CASE("a tier not built yet is NotSupported, never ignored", "[store][bad-input]") {
  Options gpu = GoodOptions();
  gpu.gpu.capacity_bytes = 1 << 30;
  CheckError(Store::Open(gpu).status(), StatusCode::kNotSupported, "options.gpu");
}

TEST_CASE("an 8-bit codec over an fp8 layout or an unknown codec is InvalidArgument",
          "[store][bad-input][codec]") {
  Options fp8_layout = GoodOptions();
  fp8_layout.layout.dtype = DType::kFp8E4M3;
  for (Codec c : {Codec::kInt8, Codec::kFp8}) {
    Options o = fp8_layout;
    o.host.codec = c;
    CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument,
               "options.host.codec");
    o = fp8_layout;
    o.nvme.codec = c;  // checked even with the tier off: it seeds the namespace
    CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument,
               "options.nvme.codec");
  }
  fp8_layout.host.codec = Codec::kRaw;
  CHECK(Store::Open(fp8_layout).ok());
  Options unknown = GoodOptions();
  unknown.gpu.codec = static_cast<Codec>(9);
  CheckError(Store::Open(unknown).status(), StatusCode::kInvalidArgument,
             "options.gpu.codec");
}

}  // namespace
}  // namespace kvtier
