"""Engines' own block hashes, bit-exact (kvtier/engine_hashes.h): vLLM's
sha256_cbor block hashes and SGLang's page hashes, computed by libkvtier.

    seed = kvtier.vllm_none_hash("1234")          # vLLM's NONE_HASH (PYTHONHASHSEED)
    keys = kvtier.vllm_block_hashes(tokens, 16, seed, lora_name="sql-lora")
    pages = kvtier.sglang_page_hashes(tokens, 64)  # hex strings
    chain = store.engine_key_chain(keys, profile="vllm")

See the C++ header for the vLLM and SGLang versions these match.
"""
import ctypes

from . import _capi
from .errors import Error, INVALID_ARGUMENT


def _check(code, err):
    if code != 0:
        raise Error(code, err.message.decode(errors="replace"))


def _token_array(tokens):
    """tokens (a sequence of ints or a uint32 buffer) as a c_uint32 array."""
    try:
        view = memoryview(tokens)
    except TypeError:
        view = None
    if view is not None and view.format in ("I", "L", "=I", "<I") and view.itemsize == 4:
        return (ctypes.c_uint32 * (view.nbytes // 4)).from_buffer_copy(view)
    if view is not None:
        raise Error(INVALID_ARGUMENT, "tokens: a buffer of uint32 is needed, got format "
                    f"{view.format!r}")
    tokens = list(tokens)
    for t in tokens:
        if not 0 <= t < (1 << 32):
            raise Error(INVALID_ARGUMENT, f"tokens: {t} is not a uint32 token id")
    return (ctypes.c_uint32 * len(tokens))(*tokens)


def _utf8(s, field):
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode()
    raise Error(INVALID_ARGUMENT, f"{field}: a str is needed, got {type(s).__name__}")


def vllm_none_hash(python_hash_seed):
    """vLLM's NONE_HASH in a process started with PYTHONHASHSEED=python_hash_seed."""
    seed = _utf8(python_hash_seed, "python_hash_seed")
    out = ctypes.create_string_buffer(_capi.VLLM_HASH_BYTES)
    err = _capi.Error()
    _check(_capi.lib.kvtier_vllm_none_hash(seed, len(seed), out, ctypes.byref(err)), err)
    return out.raw


def vllm_block_hashes(tokens, block_size, none_hash, lora_name=None, mm_features=(),
                      cache_salt="", prior=()):
    """vLLM's block hashes (32-byte bytes) of the full blocks of `tokens` after
    the `prior` ones, as its request block hasher computes them.

    lora_name: the request's LoRA name (None = no LoRA); mm_features:
    (identifier, offset, length) per multimodal item, sorted by offset;
    cache_salt: the request's salt ("" = none)."""
    if block_size < 1:
        raise Error(INVALID_ARGUMENT, f"block_size: must be at least 1, got {block_size}")
    if len(none_hash) != _capi.VLLM_HASH_BYTES:
        raise Error(INVALID_ARGUMENT, "none_hash: 32 bytes are needed, got "
                    f"{len(none_hash)}")
    toks = _token_array(tokens)
    ids = [_utf8(f[0], f"mm_features[{i}].identifier") for i, f in enumerate(mm_features)]
    mm = (_capi.VllmMmFeature * len(ids))(
        *[_capi.VllmMmFeature(ident, len(ident), int(f[1]), int(f[2]))
          for ident, f in zip(ids, mm_features)])
    lora = _utf8(lora_name, "lora_name") if lora_name is not None else b""
    salt = _utf8(cache_salt or "", "cache_salt")
    keys = _capi.VllmRequestKeys(ctypes.sizeof(_capi.VllmRequestKeys),
                                 int(lora_name is not None), lora, len(lora),
                                 ctypes.cast(mm, ctypes.POINTER(_capi.VllmMmFeature)),
                                 len(ids), salt, len(salt))
    prior = list(prior)
    if any(len(p) != _capi.VLLM_HASH_BYTES for p in prior):
        raise Error(INVALID_ARGUMENT, "prior: every prior hash is 32 bytes")
    prior_bytes = b"".join(prior)
    n_out = max(len(toks) // block_size - len(prior), 0)
    out = ctypes.create_string_buffer(max(n_out, 1) * _capi.VLLM_HASH_BYTES)
    written = ctypes.c_size_t(0)
    err = _capi.Error()
    _check(_capi.lib.kvtier_vllm_block_hashes(
        bytes(none_hash), block_size, toks, len(toks), ctypes.byref(keys), prior_bytes,
        len(prior), out, n_out, ctypes.byref(written), ctypes.byref(err)), err)
    raw = out.raw
    return [raw[i * 32:(i + 1) * 32] for i in range(written.value)]


def sglang_page_hashes(tokens, page_size, prior_hash=None):
    """SGLang's page hashes (64-digit hex str) of the full pages of `tokens`,
    the first chained onto prior_hash (None = the sequence start)."""
    if page_size < 1:
        raise Error(INVALID_ARGUMENT, f"page_size: must be at least 1, got {page_size}")
    toks = _token_array(tokens)
    prior = _utf8(prior_hash or "", "prior_hash")
    n_out = len(toks) // page_size
    out = ctypes.create_string_buffer(max(n_out, 1) * _capi.SGLANG_HASH_CHARS)
    written = ctypes.c_size_t(0)
    err = _capi.Error()
    _check(_capi.lib.kvtier_sglang_page_hashes(toks, len(toks), page_size, prior, len(prior),
                                               out, n_out, ctypes.byref(written),
                                               ctypes.byref(err)), err)
    raw = out.raw.decode("ascii")
    return [raw[i * 64:(i + 1) * 64] for i in range(written.value)]
