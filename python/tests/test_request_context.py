"""kvtier.RequestContext through Store.load and Store.save: with
eviction="session" a session closed by its last load has its own later
blocks evicted first; bad fields raise, naming them."""
import unittest

import kvtier

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)


def session_store(blocks):
    probe = kvtier.Store(**LAYOUT, model_id="py-context@1", host_capacity_bytes=1 << 20,
                         host_lock_memory=False)
    slot = (64 + probe.block_bytes + 63) // 64 * 64  # header + block
    return kvtier.Store(**LAYOUT, model_id="py-context@1", host_capacity_bytes=blocks * slot,
                        host_lock_memory=False, eviction="session")


def tokens(blocks, seed):
    return [seed * 1000 + i for i in range(blocks * 4)]


class RequestContextTest(unittest.TestCase):
    def test_a_session_closed_by_its_last_load_is_evicted_first(self):
        store = session_store(8)
        a = store.hash_chain(tokens(4, 1))
        b = store.hash_chain(tokens(4, 2))
        buf = bytearray(4 * store.block_bytes)
        # Session 1's first request saves a's first two blocks (its opening
        # blocks, kept as any other), the next one its last two.
        opened = kvtier.RequestContext(session_id=1, session="open")
        store.save(store.hash_chain(tokens(2, 1)), bytearray(2 * store.block_bytes),
                   context=opened)
        store.save(a, buf, context=opened)
        store.save(b, buf, context=kvtier.RequestContext(session_id=2, session="open"))
        closed = kvtier.RequestContext(session_id=1, session="closed")
        self.assertEqual(store.load(a, buf, context=closed), 4)
        store.save(store.hash_chain(tokens(1, 3)), bytearray(store.block_bytes))
        self.assertEqual(store.lookup(a), 3)
        self.assertEqual(store.lookup(b), 4)

    def test_a_block_expected_back_in_an_hour_goes_before_an_older_one(self):
        # b first; session 1 opens with a's first block, then saves a's
        # second with a TTL; c needs room (3 blocks; a's first holds its
        # child). Without the hint b, the coldest, goes.
        for ttl, a_hit, b_hit in ((3600.0, 1, 1), (0.0, 2, 0)):
            store = session_store(3)
            a = store.hash_chain(tokens(2, 1))
            b = store.hash_chain(tokens(1, 2))
            one = bytearray(store.block_bytes)
            store.save(b, one)
            opened = kvtier.RequestContext(session_id=1, session="open")
            store.save(store.hash_chain(tokens(1, 1)), one, context=opened)
            hinted = kvtier.RequestContext(session_id=1, session="open", ttl_s=ttl)
            store.save(a, bytearray(2 * store.block_bytes), context=hinted)
            store.save(store.hash_chain(tokens(1, 3)), one)
            self.assertEqual(store.lookup(a), a_hit, ttl)
            self.assertEqual(store.lookup(b), b_hit, ttl)

    def test_bad_fields_raise_naming_the_field(self):
        store = session_store(8)
        a = store.hash_chain(tokens(2, 1))
        buf = bytearray(2 * store.block_bytes)
        with self.assertRaises(ValueError) as e:
            store.save(a, buf, context=kvtier.RequestContext(session="ended"))
        self.assertIn("RequestContext.session", str(e.exception))
        with self.assertRaises(ValueError):
            store.save(a, buf, context=kvtier.RequestContext(priority=300))
        with self.assertRaises(kvtier.Error) as e:
            store.load(a, buf, context=kvtier.RequestContext(ttl_s=-1.0))
        self.assertIn("load.context.ttl_s", str(e.exception))
        with self.assertRaises(TypeError):
            store.save(a, buf, context={"session_id": 1})
        self.assertEqual(store.lookup(a), 0)
        store.save(a, buf)
        self.assertEqual(store.lookup(a), 2)


if __name__ == "__main__":
    unittest.main()
