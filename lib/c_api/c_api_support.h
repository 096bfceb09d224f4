// Shared by the C API's files (kvtier_c.h): the opaque handles, turning a
// Status into a kvtier_code and message, the exception boundary, and the
// struct_size rules.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"
#include "kvtier/store.h"
#include "kvtier/transfer.h"

// What a C log callback needs to outlive: the store's threads call it.
struct kvtier_c_log_target {
  kvtier_log_fn fn = nullptr;
  void* user_data = nullptr;
};

struct kvtier_store {
  std::unique_ptr<kvtier_c_log_target> log;  // declared first: outlives `store`
  std::unique_ptr<kvtier::Store> store;
};

struct kvtier_prefetch {
  kvtier::PrefetchHandle handle;
};

// The Store borrows the segment list of a transfer until it is done: the
// converted list lives here, and releasing the handle waits for the end.
struct kvtier_transfer {
  std::vector<kvtier::Segment> segments;
  kvtier::TransferHandle handle;
  bool is_load = true;
};

namespace kvtier::internal {

kvtier_code CFail(const Status& s, kvtier_error* err);
kvtier_code CNull(const char* field, kvtier_error* err);

// Runs `body`, turning an escaping exception (std::bad_alloc,
// std::length_error) into KVTIER_INTERNAL: none crosses into C.
// An enum the C caller passed (a field or an argument) as the int it holds.
// A C caller may store any int there; loading one that is none of the enum's
// values as the enum type is undefined behaviour in C++ (UBSAN: "not a valid
// value"), so its bytes are read as an int.
template <typename E>
int RawEnum(const E& value) {
  static_assert(sizeof(E) == sizeof(int));
  int raw;
  std::memcpy(&raw, &value, sizeof(raw));
  return raw;
}

template <typename Body>
kvtier_code CGuarded(kvtier_error* err, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return CFail(Internal(std::string("unexpected exception: ") + e.what()), err);
  } catch (...) {
    return CFail(Internal("unexpected exception"), err);
  }
}

// InvalidArgument unless min_size <= struct_size <= max_size; names
// `<what>.struct_size` and the sizes this library knows.
Status CheckStructSize(const char* what, size_t struct_size, size_t min_size,
                       size_t max_size);

// `a * b` into *out, or InvalidArgument naming `field` when it overflows.
Status CheckedMultiply(size_t a, size_t b, const char* field, size_t* out);

// The C++ Options of a kvtier_options whose struct_size was checked; fields
// past it take kvtier_options_init's defaults. `log` receives the C log
// callback, which the Options then point at.
Options OptionsFromC(const kvtier_options& c, kvtier_c_log_target* log);
// InvalidArgument naming an enum, pointer or count field the C struct can
// hold wrongly (an unknown codec, a null directory).
Status CheckCOptions(const kvtier_options& c);
// The checks every call taking a kvtier_options* makes before using it: not
// null, a known struct_size, then CheckCOptions; KVTIER_OK or the failure
// written to err.
kvtier_code CheckOptionsArgument(const kvtier_options* options, kvtier_error* err);

// kvtier_engine_key_chain's work for a namespace root (a store's, or the
// one a scheduler's options name).
kvtier_code EngineKeyChainC(const BlockHash& root, kvtier_key_profile profile,
                            uint32_t group, const uint8_t* key_bytes,
                            size_t key_bytes_len, const size_t* key_sizes, size_t n_keys,
                            kvtier_block_hash* out, size_t n_out, kvtier_error* err);

// The C chain and segments as the C++ API takes them.
inline std::span<const BlockHash> ChainOf(const kvtier_block_hash* chain, size_t n) {
  static_assert(sizeof(kvtier_block_hash) == sizeof(BlockHash));
  return {reinterpret_cast<const BlockHash*>(chain), n};
}

inline std::vector<Segment> SegmentsOf(const kvtier_segment* segs, size_t n) {
  std::vector<Segment> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = Segment{segs[i].data, segs[i].bytes,
                     segs[i].device ? MemoryKind::kDevice : MemoryKind::kHost};
  }
  return out;
}

// InvalidArgument when blocks * segments_per_block overflows (2^63 blocks
// would wrap to 0 segments and match an empty span). A count that merely
// differs goes on to the Store, which rejects it and counts the call.
inline Status CheckSegmentCount(const kvtier_store* store, const char* call,
                                size_t blocks) {
  const std::string field = std::string(call) + ".n_blocks";
  size_t expected = 0;
  return CheckedMultiply(blocks, store->store->layout().SegmentsPerBlock(), field.c_str(),
                         &expected);
}

// A save's first_block within the chain and its segment count (after the
// null checks).
inline Status CheckSaveRange(const kvtier_store* store, size_t n_blocks,
                             size_t first_block) {
  if (first_block > n_blocks) {
    return InvalidArgument("save.first_block: " + std::to_string(first_block) +
                           " > n_blocks " + std::to_string(n_blocks));
  }
  return CheckSegmentCount(store, "save", n_blocks - first_block);
}

}  // namespace kvtier::internal
