// Shared by the C API's files (kvtier_c.h): the opaque handles, turning a
// Status into a kvtier_code and message, the exception boundary, and the
// struct_size rules.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kvtier/kvtier_c.h"
#include "kvtier/store.h"

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

namespace kvtier::internal {

kvtier_code CFail(const Status& s, kvtier_error* err);
kvtier_code CNull(const char* field, kvtier_error* err);

// Runs `body`, turning an escaping exception (std::bad_alloc,
// std::length_error) into KVTIER_INTERNAL: none crosses into C.
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

}  // namespace kvtier::internal
