// Helpers for the C API's tests: a small store's options, a store opened
// with them, and the check that an error message names a field.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kvtier/kvtier_c.h"

namespace kvtier::testing {

inline kvtier_options SmallCOptions(const char* model_id = "c-api-model@1") {
  kvtier_options o;
  kvtier_options_init(&o);
  o.num_layers = 2;
  o.kv_heads = 2;
  o.head_dim = 8;
  o.block_tokens = 4;
  o.model_id = model_id;
  o.host_capacity_bytes = 1 << 20;
  o.host_lock_memory = 0;
  return o;
}

struct CStore {
  explicit CStore(const char* model_id = "c-api-model@1") {
    kvtier_options o = SmallCOptions(model_id);
    REQUIRE(kvtier_open(&o, &store, &err) == KVTIER_OK);
  }
  ~CStore() { kvtier_close(store); }
  CStore(const CStore&) = delete;
  CStore& operator=(const CStore&) = delete;
  kvtier_store* store = nullptr;
  kvtier_error err{};
};

// The hashes of `blocks` full blocks of 4 tokens each, the tokens a
// function of `seed` (tests' stores use block_tokens = 4).
inline std::vector<kvtier_block_hash> CChain(kvtier_store* store, size_t blocks,
                                             uint32_t seed) {
  std::vector<uint32_t> tokens(blocks * 4);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = seed * 1000 + uint32_t(i);
  std::vector<kvtier_block_hash> hashes(blocks);
  kvtier_error err{};
  REQUIRE(kvtier_hash_chain(store, tokens.data(), tokens.size(), hashes.data(), blocks,
                            &err) == KVTIER_OK);
  return hashes;
}

inline void CheckNames(const kvtier_error& err, const std::string& field) {
  INFO(err.message);
  CHECK(std::string(err.message).find(field) != std::string::npos);
}

}  // namespace kvtier::testing
