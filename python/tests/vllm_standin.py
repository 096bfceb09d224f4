"""Stand-ins for vLLM's KV offloading interfaces, for tests only (vLLM cannot
be installed here). Signatures, dataclass fields and documented semantics
are copied from vllm-project/vllm as stored in the reference index:

- vllm/v1/kv_offload/abstract.py at commit 00d169bfa55967fc48d6f1b08cfc929c1cce3545:
  LoadStoreSpec, PrepareStoreOutput, OffloadingEvent, OffloadingManager.
- vllm/v1/kv_offload/worker/worker.py at commit
  06bb4a63a14b5b1f34ad9455e8e4aa017ee6e0f3: TransferSpec, TransferType,
  TransferResult, OffloadingHandler.
- vllm/v1/kv_offload/mediums.py (GPULoadStoreSpec: block ids, medium "GPU")
  and vllm/v1/kv_cache_interface.py (KVCacheSpec, AttentionSpec,
  FullAttentionSpec, MLAAttentionSpec, SlidingWindowSpec,
  ChunkedLocalAttentionSpec, MambaSpec, KVCacheGroupSpec: their field names).
- vllm/v1/core/single_type_kv_cache_manager.py: SlidingWindowManager's hit
  rule (the last ceil((sliding_window - 1) / block_size) blocks before the
  hit point cached), restated as a function the tests compare with.

The commit kvtier's engine-hash profile matched
(001cabc1be16a59a70d720ed61a13b678c060a18) is not in the index; these
interfaces are the same ones there except for the optional
lookup_prefix/prepare_load_prefix hooks, which default to "not offered".
"""
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Mapping

BlockHash = bytes  # vLLM: NewType("BlockHash", bytes)


# -- vllm/v1/kv_offload/abstract.py --------------------------------------
class LoadStoreSpec(ABC):
    @staticmethod
    @abstractmethod
    def medium() -> str:
        pass


@dataclass
class PrepareStoreOutput:
    block_hashes_to_store: list[BlockHash]
    store_spec: LoadStoreSpec
    block_hashes_evicted: list[BlockHash]


@dataclass
class OffloadingEvent:
    block_hashes: list[BlockHash]
    block_size: int
    medium: str
    # True if blocks are removed, False if stored
    removed: bool


class OffloadingManager(ABC):
    @abstractmethod
    def lookup(self, block_hashes: Iterable[BlockHash]) -> int:
        """Length of the maximal series of leading blocks all offloaded."""

    def lookup_prefix(self, *, prefix_id: int, start_block_idx: int, num_blocks: int,
                      extra: Mapping[str, Any] | None = None) -> int:
        return 0

    def prepare_load_prefix(self, *, prefix_id: int, start_block_idx: int,
                            num_blocks: int,
                            extra: Mapping[str, Any] | None = None) -> LoadStoreSpec:
        raise NotImplementedError

    @abstractmethod
    def prepare_load(self, block_hashes: Iterable[BlockHash]) -> LoadStoreSpec:
        """Blocks protected from eviction until complete_load; assumes all
        offloaded."""

    def touch(self, block_hashes: Iterable[BlockHash]):
        return

    def complete_load(self, block_hashes: Iterable[BlockHash]):
        return

    @abstractmethod
    def prepare_store(self, block_hashes: Iterable[BlockHash]) -> PrepareStoreOutput | None:
        """Which blocks need storing and where; None if they cannot be."""

    def complete_store(self, block_hashes: Iterable[BlockHash], success: bool = True):
        """Blocks become loadable; on failure those not stored are removed."""
        return

    def take_events(self) -> Iterable[OffloadingEvent]:
        return ()


# -- vllm/v1/kv_offload/worker/worker.py ----------------------------------
TransferSpec = tuple[LoadStoreSpec, LoadStoreSpec]
TransferType = tuple[str, str]


@dataclass
class TransferResult:
    job_id: int
    success: bool
    transfer_size: int | None = None  # Size in bytes
    transfer_time: float | None = None
    transfer_type: TransferType | None = None


class OffloadingHandler(ABC):
    @abstractmethod
    def transfer_async(self, job_id: int, spec: TransferSpec) -> bool:
        """Starts a transfer; True if it was submitted."""

    @abstractmethod
    def get_finished(self) -> list[TransferResult]:
        """Transfers finished since the last call."""

    @abstractmethod
    def wait(self, job_ids: set[int]) -> None:
        """Blocks until the jobs are finished."""

    def shutdown(self) -> None:  # noqa: B027
        """Releases the handler's resources."""


# -- vllm/v1/kv_offload/mediums.py ----------------------------------------
class GPULoadStoreSpec(LoadStoreSpec):
    def __init__(self, block_ids):
        self.block_ids = list(block_ids)

    @staticmethod
    def medium() -> str:
        return "GPU"


# -- vllm/v1/kv_cache_interface.py ---------------------------------------
# Field names as vLLM's (frozen, keyword-only dataclasses); dtype is a string
# here (vLLM: a torch.dtype), and the methods are left out.
@dataclass(frozen=True)
class KVCacheSpec:
    block_size: int


@dataclass(frozen=True, kw_only=True)
class AttentionSpec(KVCacheSpec):
    num_kv_heads: int
    head_size: int
    dtype: str = "float16"
    page_size_padded: int | None = None


@dataclass(frozen=True, kw_only=True)
class FullAttentionSpec(AttentionSpec):
    head_size_v: int | None = None
    sliding_window: int | None = None  # set when merged with sliding layers
    attention_chunk_size: int | None = None


@dataclass(frozen=True, kw_only=True)
class MLAAttentionSpec(FullAttentionSpec):
    cache_dtype_str: str | None = None


@dataclass(frozen=True, kw_only=True)
class SlidingWindowSpec(AttentionSpec):
    sliding_window: int
    head_size_v: int | None = None


@dataclass(frozen=True, kw_only=True)
class ChunkedLocalAttentionSpec(AttentionSpec):
    attention_chunk_size: int


@dataclass(frozen=True, kw_only=True)
class MambaSpec(KVCacheSpec):
    shapes: tuple = ()
    dtypes: tuple = ()


@dataclass(frozen=True)
class KVCacheGroupSpec:
    layer_names: list[str]
    kv_cache_spec: KVCacheSpec


def sliding_window_contiguous_blocks(spec: SlidingWindowSpec) -> int:
    """vllm/v1/core/single_type_kv_cache_manager.py, SlidingWindowManager:
    the blocks before a hit point that must be cached; -1 because the token
    being computed is itself in the window."""
    return -(-(spec.sliding_window - 1) // spec.block_size)


def sliding_window_longest_hit(cached: list[bool], spec: SlidingWindowSpec) -> int:
    """SlidingWindowManager.find_longest_cache_hit's length (no eagle, block
    alignment): scanning from the right, the first run of
    sliding_window_contiguous_blocks cached blocks ends the hit; without
    one, the leading run of cached blocks is the hit."""
    need = sliding_window_contiguous_blocks(spec)
    run = 0
    for i in range(len(cached) - 1, -1, -1):
        if cached[i]:
            run += 1
            if run >= need:
                return i + run
        else:
            run = 0
    return run


# -- vllm/v1/kv_offload/base.py (newer vLLM: keys carry the KV group) -----
# and vllm/v1/kv_offload/tiering/base.py at
# 041410b9b13a5e762e6bfce4a0ce39574def5919 (the tiering spec's secondary
# tiers; OffloadingSpec and RequestOffloadingContext left out).
OffloadKey = bytes  # vLLM: NewType("OffloadKey", bytes)
JobId = int


def make_offload_key(block_hash: bytes, group_idx: int) -> OffloadKey:
    return OffloadKey(block_hash + group_idx.to_bytes(4, "big", signed=False))


@dataclass
class ReqContext:
    req_id: str
    kv_transfer_params: dict[str, Any] | None = None


@dataclass
class JobMetadata:
    job_id: JobId
    keys: Any  # Collection[OffloadKey]
    block_ids: Any  # np.ndarray of primary-tier slots
    is_promotion: bool
    req_context: ReqContext


@dataclass
class JobResult:
    job_id: JobId
    success: bool


class SecondaryTierManager(ABC):
    """A non-primary tier; every method runs in the scheduler and must not
    block: submit_* start async jobs, get_finished polls them."""

    def __init__(self, offloading_spec, primary_kv_view: memoryview, tier_type: str) -> None:
        self._offloading_spec = offloading_spec
        self._primary_kv_view = primary_kv_view
        self.tier_type = tier_type

    @abstractmethod
    def lookup(self, key: OffloadKey, req_context: ReqContext) -> bool | None:
        """True present and ready, False not found, None in transfer (retry)."""

    @abstractmethod
    def submit_store(self, job_metadata: JobMetadata) -> None:
        """Primary slots block_ids -> this tier; filters blocks present."""

    @abstractmethod
    def submit_load(self, job_metadata: JobMetadata) -> None:
        """This tier -> primary slots block_ids."""

    @abstractmethod
    def get_finished(self) -> Iterable[JobResult]:
        """Jobs (loads and stores) finished since the last call."""

    def touch(self, keys, req_context: ReqContext):
        return

    def request_finished(self, req_context: ReqContext) -> None:
        return

    def shutdown(self) -> None:
        return
