"""kvtier.vllm on the scheduler/worker split (kvtier.split, kvtier/split.h):
vLLM's scheduler process holds a KvtierSplitOffloadingManager over a
kvtier.split.Scheduler (placement only, no KV bytes); each worker process
(one per tensor-parallel rank) holds a KvtierSplitOffloadingHandler over its
own kvtier.split.Worker (host arena, NVMe directory).

Data flow of one job:
  scheduler: prepare_load / prepare_store -> Scheduler.plan_load / plan_save
             -> a KvtierSplitLoadStoreSpec carrying the plan bytes and ticket
  vLLM:      ships the spec to every worker in its connector metadata
  worker:    transfer_async -> Worker.execute(plan bytes, the rank's KV
             blocks) on the handler's thread, in submission order;
             get_finished reports (job_id, success) for this rank: success
             only if every move of the plan succeeded here (and, for a load,
             the plan covered every block asked for); take_results() hands
             over (ticket, result bytes)
  vLLM:      ships the results back with the finished jobs (the glue's
             worker -> scheduler output, e.g. KVConnectorOutput)
  scheduler: add_results(results of every rank), then vLLM's complete_load /
             complete_store commit the ticket: a block counts only if every
             rank succeeded; a rank that sent nothing (worker gone) failed.

A job's result on one rank never makes another rank's bytes count; each
worker verifies every block it writes into the engine, so a stale plan or a
restarted worker is a failed job (a miss), never other KV.

Hybrid models: as in one process (vllm.py), one manager and one handler per
KV group, each over its own scheduler and per-rank workers (a
sliding-window group's opened with layer_windows = [sliding_window - 1] *
its layers). A sliding-window group's lookup is vLLM's SlidingWindowManager
rule, prepare_load plans only the blocks of the window (skipped = those
before it, whose GPU ids the handler skips), and saves keep only the
window before each job's end (and before every swa_checkpoint_blocks-th
block) whole, the rest index entries without bytes. A block the engine
already freed (its GPU id is vLLM's null block) is kept the same way, but
the scheduler cannot see GPU ids: the glue passes the group's block ids to
prepare_store(block_hashes, block_ids=...) (vLLM's scheduler-side connector
has them when it builds the GPU spec). Without them every block is taken as
held, and a store job naming the null block where the plan saves whole
fails on every rank (nothing is stored for it; never the null block's
bytes). Other group kinds raise NotImplementedError naming the group.
"""
import concurrent.futures

from .errors import Error
from .split import result_moves
from .vllm import (MEDIUM, NULL_BLOCK_ID, OffloadingEvent, PrepareStoreOutput,
                   TransferResult, _GroupIndex, _HandlerBase, _ManagerBase, _SpecBase,
                   check_kv_group_spec)


class KvtierSplitLoadStoreSpec(_SpecBase):
    """A kvtier plan on its way from the scheduler to every worker: the vLLM
    block hashes it covers, the ticket, the plan bytes and the blocks it
    moves (Plan.blocks); `skipped`: leading blocks of the load vLLM asked
    for that a sliding-window group's plan leaves out. ticket 0: nothing for the workers to do (settled).
    write_downs: (ticket, plan bytes) of copies to slower tiers (host ->
    NVMe) the scheduler owed, run before the plan; they ride along because
    vLLM has no other channel to the workers."""

    def __init__(self, block_hashes, group, ticket, plan, blocks, write_downs=(), skipped=0):
        self.block_hashes = [bytes(h) for h in block_hashes]
        self.group = group
        self.ticket = ticket
        self.plan = bytes(plan)
        self.blocks = blocks
        self.write_downs = list(write_downs)
        self.skipped = skipped

    @staticmethod
    def medium():
        return MEDIUM

    def __repr__(self):
        return (f"KvtierSplitLoadStoreSpec({len(self.block_hashes)} blocks, "
                f"group={self.group}, ticket={self.ticket}, {len(self.plan)} plan bytes)")


class KvtierSplitOffloadingManager(_GroupIndex, _ManagerBase):
    """vLLM's OffloadingManager over a kvtier.split.Scheduler (the scheduler
    process). Results from the workers come in through add_results before
    vLLM completes the job; commit_outcomes() tells what each commit
    counted."""

    def __init__(self, scheduler, block_size, group=0, kv_group_spec=None,
                 write_down_blocks=64):
        self._init_index(scheduler, group, kv_group_spec)
        self._scheduler = scheduler
        self._write_down_blocks = write_down_blocks
        self._block_size = block_size
        # ticket -> (job kind, the job's block hashes, what the ticket is):
        # a write-down is committed with the job that carried it.
        self._tickets = {}
        self._results = {}  # ticket -> result bytes received
        self._outcomes = []
        self._events = []

    def _job(self, kind, keys, make_plan, planned=None):
        """The spec of a job: the write-downs owed now (planned first: workers
        run plans in ticket order), then the job's own plan over `planned`
        (default: all of `keys`, which the job's completion names)."""
        planned = keys if planned is None else planned
        write_downs = []
        while keys:  # a job without blocks may never be completed: none ride on it
            owed = self._scheduler.take_write_down(self._write_down_blocks)
            if not owed.ticket:
                break
            write_downs.append((owed.ticket, owed.bytes))
            self._tickets[owed.ticket] = (kind, keys, "write_down")
        try:
            plan = make_plan() if keys else None
        except Error:
            for ticket, _ in write_downs:  # never sent: settle them as failed
                del self._tickets[ticket]
                self._scheduler.commit(ticket, [])
            raise
        ticket, data, blocks = (plan.ticket, plan.bytes, plan.blocks) if plan else (0, b"", 0)
        if ticket:
            self._tickets[ticket] = (kind, keys, kind)
        return KvtierSplitLoadStoreSpec(planned, self._group, ticket, data, blocks, write_downs,
                                        skipped=len(keys) - len(planned))

    def prepare_load(self, block_hashes):
        keys = [bytes(h) for h in block_hashes]
        # A sliding-window group loads only the blocks of its window. The
        # plan pins what it reads until the commit.
        loaded = keys[-self._window:] if self._window else keys
        spec = self._job("load", keys, lambda: self._scheduler.plan_load(self._chain(loaded)),
                         planned=loaded)
        for k in keys:
            self._loading[k] = self._loading.get(k, 0) + 1
        return spec

    def touch(self, block_hashes):
        return  # kvtier tracks recency on its own loads and saves

    def add_results(self, results):
        """(ticket, result bytes) pairs from the workers' take_results()."""
        for ticket, result in results:
            self._results.setdefault(ticket, []).append(bytes(result))

    def _commit(self, kind, keys, job_succeeded=True):
        """Commits the oldest `kind` job covered by `keys` and the write-downs
        that rode with it (same block-hash list)."""
        jobs = [covered for _, (k, covered, _) in sorted(self._tickets.items())
                if k == kind and set(covered) <= keys]
        if not jobs:
            return
        for ticket, (_, covered, what) in sorted(self._tickets.items()):
            if covered is not jobs[0]:
                continue
            del self._tickets[ticket]
            results = self._results.pop(ticket, [])
            if what == kind and not job_succeeded:
                results = []  # a failed job: no rank's part of it counts
            blocks, failed = self._scheduler.commit(ticket, results)
            self._outcomes.append((ticket, what, blocks, failed))

    def complete_load(self, block_hashes):
        keys = {bytes(h) for h in block_hashes}
        self._loads_completed(keys)
        self._commit("load", keys)

    def prepare_store(self, block_hashes, block_ids=None):
        """block_ids (optional, kvtier's extension): the group's GPU block id
        of each block hash; a sliding-window group keeps the blocks whose id
        is vLLM's null block (the engine freed them) without bytes."""
        keys = [bytes(h) for h in block_hashes]
        picked = [i for i, k in enumerate(keys) if k not in self._storing
                  and not self._present(k)]
        to_store = [keys[i] for i in picked]
        freed = None
        if self._window and block_ids is not None:
            ids = list(block_ids)
            if len(ids) != len(keys):
                raise ValueError(f"block_ids: {len(ids)} given for {len(keys)} block hashes")
            freed = [int(ids[i]) == NULL_BLOCK_ID for i in picked]
        try:
            spec = self._job("save", to_store, lambda: self._scheduler.plan_save(
                self._chain(to_store), freed=freed))
        except Error:
            return None  # not ready (a rank has not joined) or refused: cannot store
        self._storing.update(to_store)
        return PrepareStoreOutput(block_hashes_to_store=to_store, store_spec=spec,
                                  block_hashes_evicted=[])

    def complete_store(self, block_hashes, success=True):
        keys = {bytes(h) for h in block_hashes} & self._storing
        self._storing.difference_update(keys)
        self._commit("save", keys, job_succeeded=success)
        stored = [k for k in block_hashes if bytes(k) in keys and self._present(bytes(k))]
        if success and stored:
            self._events.append(OffloadingEvent(block_hashes=[bytes(k) for k in stored],
                                                block_size=self._block_size,
                                                medium=MEDIUM, removed=False))

    def take_events(self):
        events, self._events = self._events, []
        yield from events

    def commit_outcomes(self):
        """(ticket, "load" | "save" | "write_down", blocks counted, ranks
        failed) of the commits since the last call."""
        outcomes, self._outcomes = self._outcomes, []
        return outcomes


class KvtierSplitOffloadingHandler(_HandlerBase):
    """vLLM's OffloadingHandler over one rank's kvtier.split.Worker (a
    worker process). kv_segments as KvtierOffloadingHandler's (the rank's
    shard). Plans run on one thread, in the order transfer_async got them
    (the split requires ticket order)."""

    def __init__(self, worker, kv_segments, group=0, kv_group_spec=None):
        self._window = check_kv_group_spec(kv_group_spec, group, worker)
        self._worker = worker
        self._kv = list(kv_segments)
        # Bytes of one segment: a row of the engine's tensors (block 0, the
        # null block, exists in every one).
        self._seg_bytes = memoryview(self._kv[0][NULL_BLOCK_ID]).nbytes if self._kv else 0
        self._group = group
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._jobs = {}  # job id -> (future, transfer type)
        self._outbox = []  # (ticket, result bytes) for the scheduler

    def _segments(self, block_ids, load):
        if load or not self._window:
            return [kv[b] for b in block_ids for kv in self._kv]
        null = (0, self._seg_bytes)  # the engine freed it: the plan keeps it trimmed
        return [null if b == NULL_BLOCK_ID else kv[b] for b in block_ids for kv in self._kv]

    def transfer_async(self, job_id, spec):
        src, dst = spec
        kinds = (src.medium(), dst.medium())
        if kinds == (MEDIUM, "GPU"):
            plan, ids = src, [int(b) for b in dst.block_ids]
            if len(ids) == plan.skipped + len(plan.block_hashes):
                ids = ids[plan.skipped:]  # vLLM named the blocks before the window
        elif kinds == ("GPU", MEDIUM):
            plan, ids = dst, [int(b) for b in src.block_ids]
        else:
            return False
        if len(plan.block_hashes) != len(ids) or job_id in self._jobs:
            return False
        load = kinds[0] == MEDIUM
        try:
            segments = self._segments(ids, load)
        except IndexError:
            return False
        held = sum(1 for b in ids if not (self._window and b == NULL_BLOCK_ID))
        self._jobs[job_id] = (self._pool.submit(self._run, plan, segments, load, held), kinds)
        return True

    def _execute(self, ticket, plan, segments, outbox):
        """This rank's failed moves; None when it could not run the plan
        (then no result is sent: the rank counts as failed)."""
        try:
            result = self._worker.execute(plan, segments)
            failed = result_moves(result)[1]
        except Error:
            return None
        outbox.append((ticket, result))
        return failed

    def _run(self, plan, segments, load, held):
        """(success, bytes moved, [(ticket, result)]); `held`: blocks of the
        job the engine holds (a sliding group's freed ones move no bytes)."""
        outbox = []
        for ticket, data in plan.write_downs:
            self._execute(ticket, data, [], outbox)
        if plan.ticket == 0:  # settled: a load found nothing, a save had nothing new
            return (not load, 0, outbox)
        failed = self._execute(plan.ticket, plan.plan, segments, outbox)
        ok = failed == 0 and (not load or plan.blocks == len(plan.block_hashes))
        size = min(plan.blocks, held) * len(self._kv) * self._seg_bytes if ok else None
        return (ok, size, outbox)

    def get_finished(self):
        finished = []
        for job_id, (future, kinds) in list(self._jobs.items()):
            if not future.done():
                continue
            del self._jobs[job_id]
            ok, size, results = future.result()
            self._outbox.extend(results)
            finished.append(TransferResult(job_id=job_id, success=ok, transfer_size=size,
                                           transfer_type=kinds))
        return finished

    def take_results(self):
        """(ticket, result bytes) of the jobs get_finished reported: send them
        to the scheduler's KvtierSplitOffloadingManager.add_results."""
        out, self._outbox = self._outbox, []
        return out

    def wait(self, job_ids):
        for job_id in job_ids:
            job = self._jobs.get(job_id)
            if job is not None:
                concurrent.futures.wait([job[0]])

    def shutdown(self):
        self._pool.shutdown(wait=True)
        self._jobs.clear()
