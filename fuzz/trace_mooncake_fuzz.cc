// Fuzzes the mooncake trace reader: any bytes give a Status (OK or an error
// naming the line), never a crash, a hang or unbounded memory.
#include <cstddef>
#include <cstdint>

#include "bench/replay/trace_reader.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvtier::replay;
  ReadOptions options;
  options.format = TraceFormat::kMooncake;
  options.block_tokens = 16;
  options.skip_bad = size > 0 && (data[0] & 1) != 0;  // both paths
  Trace trace;
  auto in = kvtier::fuzz::StreamOf(data, size);
  (void)ReadMooncake(in, "fuzz", options, trace);
  return 0;
}
