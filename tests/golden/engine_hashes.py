#!/usr/bin/env python3
"""Golden vectors for kvtier's engine hash profiles and engine-key mapping.

Recomputes, with hashlib and cbor2 only (no kvtier code):
  - vLLM's sha256_cbor block hashes, as vllm/v1/core/kv_cache_utils.py does
    at vllm-project/vllm 001cabc1be16a59a70d720ed61a13b678c060a18
    (init_none_hash with PYTHONHASHSEED set, hash_block_tokens,
    generate_block_hash_extra_keys, get_request_block_hasher) and
    vllm/utils/hashing.py (sha256_cbor = SHA-256 of cbor2.dumps(x,
    canonical=True));
  - SGLang's page hashes, as get_hash_str in
    python/sglang/srt/mem_cache/hicache_storage.py does at sgl-project/sglang
    bb424de23a4659f89cfd97dcad3aa1935a1e1d3e, chained page by page;
  - kvtier's engine-key mapping as include/kvtier/engine_keys.h lays it out.

    engine_hashes.py                 prints the golden JSON
    engine_hashes.py --write FILE    writes it
    engine_hashes.py --check FILE    exit 1 if FILE differs, 77 without cbor2

tests/golden/engine_hashes.json is this script's output, committed; the C++
test (tests/engine_hashes_test.cc) reads the inputs and expected hashes from
it, and ctest reruns this script against it.
"""
import hashlib
import json
import struct
import sys

try:
    import cbor2
except ImportError:  # python3-cbor2 (scripts/deps.sh)
    cbor2 = None

SKIP = 77

# ---- vLLM --------------------------------------------------------------------


def sha256_cbor(value):
    return hashlib.sha256(cbor2.dumps(value, canonical=True)).digest()


def vllm_none_hash(python_hash_seed):
    # init_none_hash with PYTHONHASHSEED set: the seed is a str.
    return sha256_cbor(python_hash_seed)


def vllm_hash_block(parent, tokens, extra_keys):
    return sha256_cbor((parent, tuple(tokens), extra_keys))


def vllm_mm_keys(mm, start, end, start_idx):
    """_gen_mm_extra_hash_keys: (keys, next index); start_idx -1 = the last."""
    keys = []
    if not mm:
        return keys, start_idx
    last = mm[-1]
    if last["offset"] + last["length"] <= start:
        return keys, start_idx
    if start_idx < 0:
        start_idx = len(mm) + start_idx
    idx = start_idx
    while idx < len(mm):
        item = mm[idx]
        offset, length = item["offset"], item["length"]
        if end > offset:
            if start >= offset + length:
                idx += 1
                continue
            keys.append((item["identifier"], offset - start))
            if end >= offset + length:
                idx += 1
            else:
                break
        else:
            break
    return keys, idx


def vllm_extra_keys(req, start, end, mm_idx):
    """generate_block_hash_extra_keys (no prompt embeddings)."""
    mm_keys, mm_idx = vllm_mm_keys(req.get("mm_features", []), start, end, mm_idx)
    lora = [req["lora_name"]] if req.get("lora_name") is not None else []
    salt = [req["cache_salt"]] if start == 0 and req.get("cache_salt") else []
    keys = lora + mm_keys + salt
    return (tuple(keys) if keys else None), mm_idx


def vllm_block_hashes(none_hash, block_size, tokens, req, prior):
    """get_request_block_hasher's request_block_hasher."""
    start = len(prior) * block_size
    if start + block_size > len(tokens):
        return []
    mm_idx = -1 if start > 0 else 0
    parent = prior[-1] if prior else None
    out = []
    while start + block_size <= len(tokens):
        end = start + block_size
        extra, mm_idx = vllm_extra_keys(req, start, end, mm_idx)
        h = vllm_hash_block(parent or none_hash, tokens[start:end], extra)
        out.append(h)
        parent = h
        start = end
    return out


# ---- SGLang ------------------------------------------------------------------


def sglang_hash_page(tokens, prior_hex):
    hasher = hashlib.sha256()
    if prior_hex:
        hasher.update(bytes.fromhex(prior_hex))
    for t in tokens:
        hasher.update(t.to_bytes(4, byteorder="little", signed=False))
    return hasher.hexdigest()


def sglang_page_hashes(tokens, page_size, prior_hex):
    out, last = [], prior_hex
    for start in range(0, len(tokens) - page_size + 1, page_size):
        last = sglang_hash_page(tokens[start:start + page_size], last)
        out.append(last)
    return out


# ---- kvtier engine keys ---------------------------------------------------------


def engine_key(root_lo, root_hi, profile, group, key):
    d = hashlib.sha256(b"kvtier.ek.v1" + struct.pack("<QQII", root_lo, root_hi, profile,
                                                      group) + key).digest()
    lo, hi = struct.unpack("<QQ", d[:16])
    return "%016x%016x" % (hi, lo)  # BlockHash::ToHex(): hi then lo


# ---- the cases -------------------------------------------------------------------

# Token ids at every CBOR integer width: 0..23 inline, then 1, 2, 4 bytes.
WIDE = [0, 23, 24, 255, 256, 65535, 65536, 0xFFFFFFFF, 7, 100000]


def vllm_cases():
    seed = vllm_none_hash("1234")
    cases = [
        # name, block_size, tokens, request, prior (number of blocks hashed before)
        ("plain_partial_tail", 4, WIDE, {}, 0),
        ("one_token_blocks", 1, [5, 0, 4294967295], {}, 0),
        ("lora_and_salt", 4, list(range(100, 112)),
         {"lora_name": "sql-lora", "cache_salt": "tenant-a"}, 0),
        ("empty_lora_name_still_hashed", 4, list(range(8)), {"lora_name": ""}, 0),
        ("multimodal_across_blocks", 4, list(range(16)),
         {"mm_features": [{"identifier": "img-a", "offset": 2, "length": 5},
                          {"identifier": "img-b", "offset": 9, "length": 2}]}, 0),
        ("long_block", 16, [(i * 2654435761) % (1 << 32) for i in range(40)],
         {"lora_name": "l", "cache_salt": "s"}, 0),
    ]
    out = []
    for name, bs, tokens, req, _ in cases:
        out.append(dict(name=name, seed="1234", block_size=bs, tokens=tokens,
                        request=req, prior=[],
                        expected=[h.hex() for h in vllm_block_hashes(seed, bs, tokens,
                                                                    req, [])]))
    # A request whose prompt (11 tokens) is hashed first, then extended by
    # decoding to 16: the second call starts at the last multimodal item
    # only, as vLLM's does (item b at 8 is not in block 2's keys).
    req = {"mm_features": [{"identifier": "a", "offset": 1, "length": 2},
                           {"identifier": "b", "offset": 8, "length": 1},
                           {"identifier": "c", "offset": 9, "length": 2}]}
    tokens = list(range(50, 66))
    prompt = vllm_block_hashes(seed, 4, tokens[:11], req, [])
    resumed = vllm_block_hashes(seed, 4, tokens, req, prompt)
    out.append(dict(name="decode_resumes_at_the_last_mm_item", seed="1234", block_size=4,
                    tokens=tokens, request=req, prior=[h.hex() for h in prompt],
                    expected=[h.hex() for h in resumed]))
    return out


def sglang_cases():
    first = sglang_page_hashes(WIDE, 4, None)
    return [
        dict(name="pages_of_4_partial_tail", page_size=4, tokens=WIDE, prior="",
             expected=first),
        dict(name="chained_onto_a_prior", page_size=2, tokens=[1, 2, 3, 4, 5],
             prior=first[-1], expected=sglang_page_hashes([1, 2, 3, 4, 5], 2, first[-1])),
        dict(name="one_token_pages", page_size=1, tokens=[0, 4294967295], prior="",
             expected=sglang_page_hashes([0, 4294967295], 1, None)),
    ]


def sglang_page_cases():
    return [
        dict(name="short_page_no_prior", tokens=[1, 2, 3], prior="",
             expected=sglang_hash_page([1, 2, 3], None)),
        dict(name="empty_page_with_prior", tokens=[], prior="00ff" * 16,
             expected=sglang_hash_page([], "00ff" * 16)),
    ]


def engine_key_cases():
    root_lo, root_hi = 0x588ACBF003FFECA5, 0x27F60645753ABF64
    vllm_key = vllm_none_hash("1234")
    sglang_key = sglang_hash_page([1, 2, 3, 4], None).encode()
    keys = [
        (0, 0, b"x"), (0, 0, b"any byte string \x00\xff"),
        (1, 0, vllm_key), (1, 1, vllm_key), (1, 0, vllm_key[:16]),
        (2, 0, sglang_key), (2, 3, sglang_key),
    ]
    return [dict(root_lo="%016x" % root_lo, root_hi="%016x" % root_hi, profile=p, group=g,
                 key=k.hex(), expected=engine_key(root_lo, root_hi, p, g, k))
            for p, g, k in keys]


def golden():
    return {
        "vllm_none_hash": {s: vllm_none_hash(s).hex() for s in ["0", "1234", ""]},
        "vllm": vllm_cases(),
        "sglang": sglang_cases(),
        "sglang_page": sglang_page_cases(),
        "engine_keys": engine_key_cases(),
    }


def main(argv):
    if cbor2 is None:
        print("kvtier-skip: python3-cbor2 is not installed (scripts/deps.sh installs it)")
        return SKIP
    text = json.dumps(golden(), indent=1, sort_keys=True) + "\n"
    if len(argv) == 3 and argv[1] == "--write":
        with open(argv[2], "w") as f:
            f.write(text)
        return 0
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2]) as f:
            committed = f.read()
        if committed != text:
            print(f"{argv[2]} differs from what this script computes now; "
                  "rerun with --write if the change is intended")
            return 1
        print(f"{argv[2]}: matches")
        return 0
    if len(argv) == 1:
        sys.stdout.write(text)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
