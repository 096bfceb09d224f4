"""What the adapters' tests do to an NVMe tier's files."""
import os


def corrupt_slot_files(directory):
    """Flips every byte of the NVMe tier's data files (not RocksDB's)."""
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            if "manifest" in root or name.endswith((".log", ".sst", ".key")) or \
                    name.startswith(("MANIFEST", "CURRENT", "OPTIONS", "LOCK", "LOG", "IDENTITY")):
                continue
            with open(path, "r+b") as f:
                data = bytearray(f.read())
                f.seek(0)
                f.write(bytes(b ^ 0xFF for b in data))
