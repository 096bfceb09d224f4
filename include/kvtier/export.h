// KVTIER_EXPORT marks what libkvtier.so exports: the library is built with
// hidden visibility, so only the public API leaves it. Harmless to consumers
// and in the static library.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define KVTIER_EXPORT __attribute__((visibility("default")))
#else
#define KVTIER_EXPORT
#endif
