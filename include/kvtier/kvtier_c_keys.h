/* kvtier C API: blocks named by the engine's own keys, and the engines'
 * block hashes computed bit-exactly (kvtier/engine_keys.h,
 * kvtier/engine_hashes.h in C). Part of the C API: kvtier/kvtier_c.h
 * includes it; the types it uses (kvtier_store, kvtier_block_hash,
 * kvtier_error, ...) are kvtier_c.h's. */
#ifndef KVTIER_KVTIER_C_KEYS_H_
#define KVTIER_KVTIER_C_KEYS_H_

#include "kvtier/kvtier_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Engine keys (kvtier/engine_keys.h) ----------------------------------
 * Blocks named by the engine's own keys instead of tokens. Keys go in
 * prefix order; the chain comes back in that order and is passed to lookup,
 * load, save and erase like kvtier_hash_chain's. */
typedef enum kvtier_key_profile {
  KVTIER_KEYS_BYTES = 0, /* any byte string, 1..1024 bytes */
  KVTIER_KEYS_VLLM = 1,  /* vLLM's BlockHash: 32 bytes (16 with xxhash) */
  KVTIER_KEYS_SGLANG = 2 /* SGLang's page hash: 64 lowercase hex digits */
} kvtier_key_profile;

/* Maps n_keys engine keys to out[0..n_keys) in this store's namespace.
 * The keys lie end to end in key_bytes (key_bytes_len bytes in all), key i
 * being key_sizes[i] bytes. `group`: vLLM's KV-cache group or SGLang's pool
 * index (0 when the engine has one). KVTIER_INVALID_ARGUMENT naming the
 * field when n_out != n_keys, the sizes do not add up to key_bytes_len, or
 * a key does not fit the profile ("engine_keys.keys[i]"). */
KVTIER_EXPORT kvtier_code kvtier_engine_key_chain(
    const kvtier_store* store, kvtier_key_profile profile, uint32_t group,
    const uint8_t* key_bytes, size_t key_bytes_len, const size_t* key_sizes,
    size_t n_keys, kvtier_block_hash* out, size_t n_out, kvtier_error* err);

/* ---- Engines' block hashes (kvtier/engine_hashes.h) ----------------------
 * No store needed. Bit-exact with vLLM's sha256_cbor and SGLang's page hash;
 * the header says which versions and how. */
#define KVTIER_VLLM_HASH_BYTES 32
#define KVTIER_SGLANG_HASH_CHARS 64

/* One multimodal item of a vLLM request: `identifier` (not NUL-terminated,
 * identifier_len bytes of UTF-8) at token positions [offset, offset+length). */
typedef struct kvtier_vllm_mm_feature {
  const char* identifier;
  size_t identifier_len;
  int64_t offset;
  int64_t length;
} kvtier_vllm_mm_feature;

/* What a vLLM request's hashes depend on besides its tokens. Zero it and set
 * struct_size = sizeof(kvtier_vllm_request_keys). */
typedef struct kvtier_vllm_request_keys {
  size_t struct_size;
  int has_lora; /* the request has a LoRA: lora_name is hashed into every block */
  const char* lora_name;
  size_t lora_name_len;
  const kvtier_vllm_mm_feature* mm_features; /* sorted by offset */
  size_t mm_feature_count;
  const char* cache_salt; /* 0 bytes = none */
  size_t cache_salt_len;
} kvtier_vllm_request_keys;

/* NONE_HASH of a vLLM process started with PYTHONHASHSEED=seed. */
KVTIER_EXPORT kvtier_code kvtier_vllm_none_hash(const char* seed, size_t seed_len,
                                                uint8_t out[KVTIER_VLLM_HASH_BYTES],
                                                kvtier_error* err);

/* vLLM's block hashes of the full blocks of `tokens` after the n_prior hashes
 * in `prior` (n_prior * 32 bytes; none for a new request), seeded by
 * none_hash (32 bytes). `request` may be NULL (no LoRA, multimodal items or
 * salt). Writes *n_written hashes of 32 bytes to out, which has room for
 * n_out. KVTIER_INVALID_ARGUMENT when n_out is less than the count
 * (n_tokens / block_size - n_prior), naming n_out and the count. */
KVTIER_EXPORT kvtier_code kvtier_vllm_block_hashes(
    const uint8_t* none_hash, uint32_t block_size, const uint32_t* tokens,
    size_t n_tokens, const kvtier_vllm_request_keys* request, const uint8_t* prior,
    size_t n_prior, uint8_t* out, size_t n_out, size_t* n_written, kvtier_error* err);

/* SGLang's page hashes of the full pages of `tokens`, chained onto
 * prior_hex (prior_hex_len hex digits; 0 = the sequence start). Writes
 * *n_written hashes of 64 hex digits each, end to end without terminators,
 * to out, which has room for n_out hashes (n_out * 64 chars).
 * KVTIER_INVALID_ARGUMENT when n_out < n_tokens / page_size. */
KVTIER_EXPORT kvtier_code kvtier_sglang_page_hashes(
    const uint32_t* tokens, size_t n_tokens, uint32_t page_size, const char* prior_hex,
    size_t prior_hex_len, char* out, size_t n_out, size_t* n_written, kvtier_error* err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KVTIER_KVTIER_C_KEYS_H_ */
