// Fuzzes the manifest's entry decoder: the first byte splits the input into
// a key and a value; any record decodes or is refused, never read past.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backends/nvme/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0] % size;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string_view key = all.substr(0, split);
  const std::string_view value = all.substr(std::min(split, all.size()));
  kvtier::internal::ManifestEntry e;
  if (kvtier::internal::DecodeManifestEntry(key, value, &e)) {
    // A decoded entry's fields are plain values: touch them all.
    volatile uint64_t sink = e.hash.lo ^ e.hash.hi ^ e.parent.lo ^ e.slot ^ e.codec ^
                             e.stored_bytes ^ e.header_digest ^ e.namespace_id ^ e.seq;
    (void)sink;
  }
  return 0;
}
