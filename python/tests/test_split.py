"""kvtier.split from Python: a Scheduler and two Workers (TP=2), in one
process and with the workers forked into their own processes (a
socketpair carrying the plan and result bytes, real NVMe files), every
loaded byte compared with what that rank saved; a worker SIGKILLed gives
failed jobs, and once restarted the chain loads again."""
import os
import signal
import socket
import struct
import tempfile
import unittest

import kvtier

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)
SEG = 4 * 2 * 8 * 2        # block_tokens x kv_heads x head_dim x fp16
PER_BLOCK = 2 * 2          # layers x (K, V)


def options(rank=0, nvme_dir=None):
    o = dict(LAYOUT, model_id="py-split@1", host_capacity_bytes=64 * 4096,
             host_lock_memory=False, rank=rank)
    if nvme_dir:
        o.update(nvme_capacity_bytes=64 * 4096, nvme_directories=[nvme_dir])
    return o


def chain(seed, n):
    return [(seed * 1000 + i + 1, seed) for i in range(n)]


def content(rank, h, seg):
    return bytes(((h[0] * 31 + seg * 7 + rank * 101 + i) & 0xFF) for i in range(SEG))


def save_buffers(rank, c, first=0):
    return [bytearray(content(rank, h, s)) for h in c[first:] for s in range(PER_BLOCK)]


def loaded_ok(rank, c, bufs, blocks):
    return all(bytes(bufs[b * PER_BLOCK + s]) == content(rank, c[b], s)
               for b in range(blocks) for s in range(PER_BLOCK))


class InProcessTest(unittest.TestCase):
    def setUp(self):
        self.sched = kvtier.split.Scheduler(options(), ranks=2)
        self.workers = [kvtier.split.Worker(options(r)) for r in range(2)]
        for w in self.workers:
            w.apply_join(self.sched.join(w.hello()))

    def test_a_block_counts_only_when_both_ranks_hold_it_byte_exact(self):
        self.assertTrue(self.sched.ready())
        c = chain(1, 5)
        plan = self.sched.plan_save(c)
        self.assertEqual((plan.kind, plan.blocks), ("save", 5))
        results = [w.execute(plan.bytes, save_buffers(r, c))
                   for r, w in enumerate(self.workers)]
        self.assertEqual(self.sched.commit(plan.ticket, results), (5, 0))
        self.assertEqual(self.sched.lookup(c), 5)
        plan = self.sched.plan_load(c)
        bufs = [[bytearray(SEG) for _ in range(5 * PER_BLOCK)] for _ in range(2)]
        results = [w.execute(plan.bytes, bufs[r]) for r, w in enumerate(self.workers)]
        blocks, failed = self.sched.commit(plan.ticket, results)
        self.assertEqual((blocks, failed), (5, 0))
        for r in range(2):
            self.assertTrue(loaded_ok(r, c, bufs[r], blocks))
        # Rank 1 did not answer: nothing counts.
        plan = self.sched.plan_load(c)
        result0 = self.workers[0].execute(plan.bytes, bufs[0])
        self.assertEqual(self.sched.commit(plan.ticket, [result0]), (0, 1))

    def test_bad_bytes_raise_errors_naming_what_is_wrong(self):
        with self.assertRaises(kvtier.Error) as e:
            self.workers[0].execute(b"not a plan", [])
        self.assertIn("split plan", str(e.exception))
        with self.assertRaises(kvtier.Error) as e:
            self.sched.join(b"\x00" * 10)
        self.assertIn("hello", str(e.exception))
        with self.assertRaises(kvtier.Error):
            kvtier.split.Scheduler(options(), ranks=0)


def send(sock, data):
    sock.sendall(struct.pack("<Q", len(data)) + data)


def recv(sock):
    head = b""
    while len(head) < 8:
        part = sock.recv(8 - len(head))
        if not part:
            return None
        head += part
    (n,) = struct.unpack("<Q", head)
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            return None
        data += part
    return data


def worker_main(sock, rank, nvme_dir):
    """The forked worker: hello, join, then (op, chain, plan) -> result."""
    w = kvtier.split.Worker(options(rank, nvme_dir))
    send(sock, w.hello())
    w.apply_join(recv(sock))
    while True:
        msg = recv(sock)
        if msg is None:
            return
        op, n, first = struct.unpack_from("<BII", msg)
        c = [struct.unpack_from("<QQ", msg, 9 + 16 * i) for i in range(n)]
        plan = msg[9 + 16 * n:]
        if op == 0:      # load: reply result + one verified flag per block
            bufs = [bytearray(SEG) for _ in range(n * PER_BLOCK)]
            result = w.execute(plan, bufs)
            flags = bytes(loaded_ok(rank, c, bufs, b + 1) for b in range(n))
            send(sock, struct.pack("<Q", len(result)) + result + flags)
        else:            # save (1) or write-down (2)
            result = w.execute(plan, save_buffers(rank, c, first) if op == 1 else [])
            send(sock, struct.pack("<Q", len(result)) + result)


class ProcessesTest(unittest.TestCase):
    def setUp(self):
        self.dirs = [tempfile.TemporaryDirectory() for _ in range(2)]
        self.sched = kvtier.split.Scheduler(options(0, self.dirs[0].name), ranks=2)
        self.procs = [None, None]
        for r in range(2):
            self.start(r)

    def tearDown(self):
        for r in range(2):
            self.kill(r)
        for d in self.dirs:
            d.cleanup()

    def start(self, rank):
        parent, child = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            parent.close()
            code = 0
            try:
                worker_main(child, rank, self.dirs[rank].name)
            except BaseException:
                code = 1
            os._exit(code)
        child.close()
        send(parent, self.sched.join(recv(parent)))
        self.procs[rank] = (pid, parent)

    def kill(self, rank):
        if self.procs[rank]:
            pid, sock = self.procs[rank]
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sock.close()
            self.procs[rank] = None

    def run_plan(self, op, plan, c, first=0):
        msg = struct.pack("<BII", op, len(c), first) + b"".join(
            struct.pack("<QQ", *h) for h in c) + plan.bytes
        for proc in self.procs:
            if proc:
                send(proc[1], msg)
        answers = [recv(proc[1]) if proc else None for proc in self.procs]
        results, flags = [], []
        for a in answers:
            if a is None:
                flags.append(b"")
                continue
            (n,) = struct.unpack_from("<Q", a)
            results.append(a[8:8 + n])
            flags.append(a[8 + n:])
        blocks, failed = self.sched.commit(plan.ticket, results)
        return blocks, failed, flags

    def load(self, c):
        plan = self.sched.plan_load(c)
        if plan.ticket == 0:
            return 0
        blocks, _, flags = self.run_plan(0, plan, c)
        for f in flags:
            if blocks:
                self.assertEqual(f[blocks - 1], 1, "a rank holds other bytes")
        return blocks

    def save(self, c, first=0):
        plan = self.sched.plan_save(c, first)
        return self.run_plan(1, plan, c, first)[0] if plan.ticket else 0

    def drain(self):
        while True:
            plan = self.sched.take_write_down(64)
            if plan.ticket == 0:
                return
            self.run_plan(2, plan, [])

    def test_a_killed_worker_fails_jobs_and_its_restart_serves_again(self):
        c = chain(1, 6)
        self.assertEqual(self.save(c), 6)
        self.drain()
        self.assertEqual(self.load(c), 6)
        self.kill(1)
        self.assertEqual(self.load(c), 0)
        self.assertEqual(self.save(chain(2, 3)), 0)
        self.start(1)
        self.assertEqual(self.sched.lookup(c), 6)   # both ranks' NVMe copies
        self.assertEqual(self.load(c), 6)
        self.assertEqual(self.save(chain(2, 3)), 3)
        self.assertEqual(self.load(chain(2, 3)), 3)


if __name__ == "__main__":
    unittest.main()
