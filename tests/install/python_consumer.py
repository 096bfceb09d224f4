"""A Python engine importing kvtier from an install prefix: save, look up, load."""
import kvtier

store = kvtier.Store(model_id="py-consumer@1", num_layers=2, kv_heads=2, head_dim=16,
                     host_capacity_bytes=4 << 20, host_lock_memory=False)
chain = store.hash_chain(list(range(64)))
src = bytes((i * 5) & 0xFF for i in range(len(chain) * store.block_bytes))
assert store.save(chain, src) == 4
hit = store.lookup(chain)
dst = bytearray(len(src))
assert hit == 4 and store.load(chain[:hit], dst) == 4 and bytes(dst) == src
print(f"python consumer (kvtier {kvtier.__version__} from {kvtier.__file__}): "
      "4 blocks saved, found and loaded")
