// Fuzzes the sessions trace reader (one JSON document per file): any bytes
// give a Status, never a crash, a hang or unbounded memory.
#include <cstddef>
#include <cstdint>

#include "bench/replay/trace_reader.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvtier::replay;
  ReadOptions options;
  options.format = TraceFormat::kSessions;
  options.skip_bad = size > 0 && (data[0] & 1) != 0;
  Trace trace;
  auto in = kvtier::fuzz::StreamOf(data, size);
  (void)ReadSessions(in, "fuzz", 7, options, trace);
  return 0;
}
