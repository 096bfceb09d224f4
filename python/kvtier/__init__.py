"""kvtier: KV-cache tiers (host DRAM, NVMe) for LLM inference engines.

    import kvtier
    store = kvtier.Store(model_id="llama@main", num_layers=32, kv_heads=8,
                         head_dim=128, host_capacity_bytes=8 << 30)
    chain = store.hash_chain(prompt_tokens)
    hit = store.lookup(chain)
    store.load(chain[:hit], kv_buffer_of_hit_blocks)
    ...  # compute the rest
    store.save(chain, kv_buffer_of_new_blocks, first_block=hit)

A thin layer over the C API (kvtier_c.h) through ctypes: libkvtier.so is
found through $KVTIER_LIBRARY, the build or install that made this package,
or the system's library path.
"""
from ._capi import lib as _lib
from .engine_hashes import sglang_page_hashes, vllm_block_hashes, vllm_none_hash
from .errors import Error
from .options import Options
from .request_context import RequestContext
from . import split
from .store import Chain, MetricsServer, Prefetch, Store
from .transfer import Transfer

__version__ = _lib.kvtier_version().decode()
__all__ = ["Chain", "Error", "MetricsServer", "Options", "Prefetch", "RequestContext",
           "Store", "Transfer", "__version__", "split", "sglang_page_hashes",
           "vllm_block_hashes", "vllm_none_hash"]
