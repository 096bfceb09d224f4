"""kvtier as SGLang's HiCache storage backend (L3): KvtierHiCacheStorage.

Matched against sgl-project/sglang python/sglang/srt/mem_cache/hicache_storage.py
at commit 001067fffe33427bee0ed2f007fb7551a1d76b44 (HiCacheStorage with
batch_exists / batch_get_v1 / batch_set_v1, the v2 calls over PoolTransfer
with PoolHitPolicy "all_pages" / "trailing_pages", STORAGE_BATCH_SIZE = 128)
and storage/backend_factory.py, which builds a "dynamic" backend as
cls(storage_config, kwargs) and requires a HiCacheStorage subclass.

Base class: when SGLang is importable, the class subclasses SGLang's own
HiCacheStorage (the factory checks issubclass); otherwise it stands alone,
duck-typed, and this module imports nothing of SGLang or torch.

Mapping: one SGLang page = one kvtier block (layout block_tokens = the pool's
page size); a page is named by SGLang's page hash string through
Store.engine_key_chain(profile "sglang", group = the pool's index below).
Pages are copied zero-copy: the host pool's get_page_buffer_meta(indices)
gives each page's pieces (pointer, bytes), cut into the store's segments and
handed to kvtier, which copies straight between its tiers and the pool.

Results: a page that is missing, corrupt (kvtier serves it as a miss) or not
stored (store full) is False; never wrong bytes reported as True. What the
backend does not do raises NotImplementedError naming it: the tensor calls
get/set/batch_get/batch_set (set "interface_v1": 1), a pool whose page does
not cut into the store's segments, a page size unlike block_tokens.
"""
import dataclasses
import logging

from .errors import Error
from .options import _flatten
from .store import Store

try:  # the factory requires a subclass of SGLang's own base class
    from sglang.srt.mem_cache.hicache_storage import HiCacheStorage as _Base
    from sglang.srt.mem_cache.hicache_storage import PoolTransferResult
except ImportError:
    _Base = object

    @dataclasses.dataclass
    class PoolTransferResult:
        """SGLang's PoolTransferResult's fields, when SGLang is not installed."""
        kv_hit_pages: int
        extra_pool_hit_pages: dict

logger = logging.getLogger(__name__)

STORAGE_BATCH_SIZE = 128  # SGLang's pages per batched storage call
# engine_key_chain's group per SGLang PoolName (at the commit above); the
# numbers name stored blocks, so they never change.
POOL_GROUPS = {"kv": 0, "mamba": 1, "swa": 2, "indexer": 3, "deepseek_v4_c4": 4,
               "deepseek_v4_c4_indexer": 5, "deepseek_v4_c128": 6,
               "deepseek_v4_c4_state": 7, "deepseek_v4_c4_indexer_state": 8,
               "deepseek_v4_c128_state": 9, "draft": 10, "draft_indexer": 11,
               "draft_swa": 12}


def _pool_name(name):
    name = getattr(name, "value", name)
    if name not in POOL_GROUPS:
        raise NotImplementedError(f"kvtier.sglang: pool {name!r} is not one of "
                                  f"{sorted(POOL_GROUPS)}")
    return name


def _per_rank(options):
    """Options with "{rank}" in NVMe directories replaced by the store's rank:
    every SGLang worker reads the same extra config, and a directory holds
    one store."""
    flat = _flatten(dict(options))
    dirs = flat.get("nvme_directories")
    if dirs:
        dirs = [dirs] if isinstance(dirs, str) else dirs
        flat["nvme_directories"] = [str(d).replace("{rank}", str(flat["rank"])) for d in dirs]
    return flat


def _index_list(indices):
    return indices.tolist() if hasattr(indices, "tolist") else list(indices)


def _trailing_boundary(present, kv_pages, trailing):
    """Longest prefix <= kv_pages whose last `trailing` pages are all present."""
    for prefix in range(kv_pages, 0, -1):
        if all(present[i] for i in range(max(0, prefix - trailing), prefix)):
            return prefix
    return 0


class KvtierHiCacheStorage(_Base):
    """SGLang's HiCacheStorage over kvtier Stores, one per pool.

    KvtierHiCacheStorage(storage_config, kwargs=None, stores=None):
    storage_config is SGLang's HiCacheStorageConfig; its extra_config holds
    "kvtier" (kvtier.Options as a dict: layout, tiers) and, for v2 pools other
    than "kv", "kvtier_pools": {pool: options merged over "kvtier"}. model_id
    defaults to model_name and rank to this worker's (pp, cp, tp) position (tp
    left out for MLA, whose ranks hold the same KV); "{rank}" in an NVMe
    directory becomes that rank, so each worker gets its own directory. `stores`: {pool: Store}
    instead of options. Thread-safe as kvtier.Store is.
    """

    def __init__(self, storage_config, kwargs=None, stores=None):
        extra = dict(getattr(storage_config, "extra_config", None) or {})
        if stores is None and not extra.get("interface_v1"):
            raise NotImplementedError(
                "kvtier.sglang: only the zero-copy interface is served; set "
                '"interface_v1": 1 in --hicache-storage-backend-extra-config')
        self._stores = dict(stores) if stores is not None else self._open(
            storage_config, extra)
        if "kv" not in self._stores:
            raise ValueError("kvtier.sglang: no store for pool 'kv'")
        self._pools = {}

    @staticmethod
    def _open(config, extra):
        base = dict(extra.get("kvtier") or {})
        base.setdefault("model_id", config.model_name or "sglang")
        tp = 0 if config.is_mla_model else config.tp_rank
        tp_size = 1 if config.is_mla_model else config.tp_size
        cp_rank, cp_size = getattr(config, "attn_cp_rank", 0), getattr(config, "attn_cp_size", 1)
        base.setdefault("rank", (config.pp_rank * cp_size + cp_rank) * tp_size + tp)
        stores = {"kv": Store(_per_rank(base))}
        for pool, overrides in (extra.get("kvtier_pools") or {}).items():
            # flat, so a nested "layout" adds to the base layout, not replaces it
            stores[_pool_name(pool)] = Store(_per_rank({**base, **_flatten(dict(overrides))}))
        return stores

    def close(self):
        for store in {id(s): s for s in self._stores.values()}.values():
            store.close()

    # -- registration ------------------------------------------------------
    def register_mem_pool_host(self, mem_pool_host):
        self.mem_pool_host = mem_pool_host
        self._register(mem_pool_host, "kv")

    def register_mem_host_pool_v2(self, host_pool, host_pool_name):
        name = _pool_name(host_pool_name)
        if not hasattr(self, "registered_pools"):
            self.registered_pools = {}
        self.registered_pools[host_pool_name] = host_pool
        self._register(host_pool, name)

    def _register(self, pool, name):
        store = self._store(name)
        page_size = getattr(pool, "page_size", 1) or 1
        if page_size != store.block_tokens:
            raise NotImplementedError(
                f"kvtier.sglang: pool {name!r} has pages of {page_size} tokens, its "
                f"store blocks of {store.block_tokens}: set layout.block_tokens = page size")
        self._pools[name] = pool

    def _store(self, name):
        if name not in self._stores:
            raise NotImplementedError(f"kvtier.sglang: no store for pool {name!r}; add "
                                      '"kvtier_pools" to the extra config')
        return self._stores[name]

    # -- v1 ----------------------------------------------------------------
    def batch_exists(self, keys, extra_info=None):
        return self._leading(keys, "kv")

    def exists(self, key):
        return self._leading([key], "kv") == 1

    def batch_get_v1(self, keys, host_indices, extra_info=None):
        return self._batch(keys, host_indices, "kv", self._get_batch)

    def batch_set_v1(self, keys, host_indices, extra_info=None):
        return self._batch(keys, host_indices, "kv", self._set_batch)

    def _chain(self, keys, name):
        return self._store(name).engine_key_chain(list(keys), "sglang", POOL_GROUPS[name])

    def _leading(self, keys, name):
        hit = 0
        for start in range(0, len(keys), STORAGE_BATCH_SIZE):
            part = keys[start:start + STORAGE_BATCH_SIZE]
            found = self._store(name).lookup(self._chain(part, name))
            hit += found
            if found < len(part):
                break
        return hit

    def _batch(self, keys, host_indices, name, op):
        pool = self._pools.get(name)
        if pool is None:
            raise NotImplementedError(f"kvtier.sglang: pool {name!r} was not registered")
        indices = _index_list(host_indices)
        page = getattr(pool, "page_size", 1) or 1
        if len(indices) != len(keys) * page:
            logger.error("kvtier.sglang: %d host indices for %d pages of %d tokens (pool %s)",
                         len(indices), len(keys), page, name)
            return [False] * len(keys)
        results = []
        for start in range(0, len(keys), STORAGE_BATCH_SIZE):
            part = keys[start:start + STORAGE_BATCH_SIZE]
            idx = indices[start * page:(start + len(part)) * page]
            results += op(self._store(name), self._chain(part, name),
                          self._segments(pool, name, idx, len(part)), len(part))
        return results

    def _segments(self, pool, name, indices, pages):
        """(pointer, bytes) per kvtier segment of the pages at `indices`."""
        store = self._store(name)
        ptrs, sizes = pool.get_page_buffer_meta(_IndexList(indices))
        if isinstance(sizes, int):
            sizes = [sizes] * len(ptrs)
        seg = store.segment_bytes
        segments = []
        for ptr, size in zip(ptrs, sizes):
            if size % seg:
                raise NotImplementedError(
                    f"kvtier.sglang: pool {name!r} has page pieces of {size} bytes, not a "
                    f"multiple of the store's {seg}-byte segments")
            segments += [(int(ptr) + off, seg) for off in range(0, size, seg)]
        if len(segments) != pages * store.segments_per_block:
            raise NotImplementedError(
                f"kvtier.sglang: a page of pool {name!r} is "
                f"{len(segments) * seg // max(pages, 1)} bytes, the store's block "
                f"{store.block_bytes}: its layout must match the pool's")
        return segments

    @staticmethod
    def _get_batch(store, chain, segments, pages):
        return _outcomes(store.begin_load, chain, segments, pages, "load")

    @staticmethod
    def _set_batch(store, chain, segments, pages):
        return _outcomes(store.begin_save, chain, segments, pages, "save")

    # -- v2 ----------------------------------------------------------------
    def batch_exists_v2(self, keys, pool_transfers=None, extra_info=None):
        kv_pages = self._leading(keys, "kv")
        hits = {"kv": kv_pages} if kv_pages else {}
        final = kv_pages
        for transfer in pool_transfers or []:
            if final == 0:
                break
            name = _pool_name(transfer.name)
            store, chain = self._store(name), self._chain(keys[:kv_pages], name)
            present = [store.lookup(chain[i:i + 1]) == 1 for i in range(kv_pages)]
            if getattr(transfer.hit_policy, "value", transfer.hit_policy) == "trailing_pages":
                boundary = _trailing_boundary(present, kv_pages,
                                              max(1, len(transfer.keys or [])))
            else:  # all_pages
                boundary = present.index(False) if False in present else kv_pages
            if boundary:
                hits[getattr(transfer.name, "value", transfer.name)] = boundary
            final = min(final, boundary)
        return PoolTransferResult(final, hits)

    def batch_get_v2(self, transfers, extra_info=None):
        return self._batch_v2(transfers, self._get_batch)

    def batch_set_v2(self, transfers, extra_info=None):
        return self._batch_v2(transfers, self._set_batch)

    def _batch_v2(self, transfers, op):
        out = {}
        for transfer in transfers:
            name = _pool_name(transfer.name)
            keys = list(transfer.keys or [])
            indices = transfer.host_indices if transfer.host_indices is not None else []
            out[getattr(transfer.name, "value", transfer.name)] = self._batch(
                keys, indices, name, op)
        return out

    # -- what kvtier does not serve ------------------------------------------
    def _tensor_calls(self, call):
        raise NotImplementedError(
            f"kvtier.sglang: {call} (tensor copies) is not served; kvtier copies pages "
            'zero-copy through batch_get_v1/batch_set_v1: set "interface_v1": 1')

    def get(self, key, target_location=None, target_sizes=None):
        self._tensor_calls("get")

    def batch_get(self, keys, target_locations=None, target_sizes=None):
        self._tensor_calls("batch_get")

    def set(self, key, value=None, target_location=None, target_sizes=None):
        self._tensor_calls("set")

    def batch_set(self, keys, values=None, target_locations=None, target_sizes=None):
        self._tensor_calls("batch_set")

    def clear(self):
        for store in {id(s): s for s in self._stores.values()}.values():
            store.clear()

    def get_stats(self):
        return None


def _outcomes(begin, chain, segments, pages, what):
    """True per page whose transfer finished "done"; a refused call (kvtier.Error,
    e.g. the tiers unavailable) fails every page instead of SGLang's thread."""
    try:
        with begin(chain, segments) as t:
            t.wait()
            return [t.outcome(i) == "done" for i in range(pages)]
    except Error as e:
        logger.warning("kvtier.sglang: %s of %d pages failed: %s", what, pages, e)
        return [False] * pages


class _IndexList(list):
    """Host indices as a list that also answers tolist(), as a tensor does."""

    def tolist(self):
        return list(self)
