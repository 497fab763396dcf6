"""Build the corpus files, the tokenizer, and packed training arrays (all cached, deterministic).

Each stage becomes an int32 array of shape [n_sequences, SEQ_LEN]: whole documents
(BOS doc EOS) packed greedily, the rest of a row filled with PAD (ignored by the loss).
A token stored as its bitwise complement (~id, negative) is input but never a target
(`split_inputs_labels` decodes a batch); `corpus_stage3.MASK_SPLIT_SPACE` would use this for
the lone space of "A: " + "Paris" (off: see there).
"""
from __future__ import annotations

import hashlib
import json
import random

import numpy as np

from course_model import WORK_DIR, corpus, corpus_stage3, corpus_stage4
from course_model.tokenizer import SPECIALS, train_tokenizer

SEQ_LEN = 320          # a handover chat (~290 tokens) fits in one row
N_DOCS = {1: 120_000, 2: 220_000, 3: 150_000, 4: 100_000}
CORPUS_SEED = 0


def corpus_path(stage: int):
    return WORK_DIR / f"corpus_stage{stage}.jsonl"


def _write_docs(stage: int, docs: list[str], h) -> None:
    """One JSON string per line (markers kept); every line also goes into the hash `h`."""
    with open(corpus_path(stage), "w") as f:
        for d in docs:
            line = json.dumps(d) + "\n"
            f.write(line)
            h.update(line.encode())


def build_corpus() -> dict:
    """Write both stages' documents (jsonl, markers kept) and return size/hash metadata."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    meta = {}
    h = hashlib.sha256()
    for stage in (1, 2):
        docs = corpus.generate(stage, N_DOCS[stage], CORPUS_SEED)
        _write_docs(stage, docs, h)
        meta[f"stage{stage}_docs"] = len(docs)
        meta[f"stage{stage}_chars"] = sum(len(d) for d in docs)
    meta["sha256"] = h.hexdigest()
    return meta


def build_stage3() -> dict:
    """Stage 3's documents (written after the tokenizer, which stays fitted on stages 1-2)."""
    docs = corpus_stage3.generate(N_DOCS[3], CORPUS_SEED)
    h = hashlib.sha256()
    _write_docs(3, docs, h)
    return {"stage3_docs": len(docs), "stage3_chars": sum(len(d) for d in docs),
            "stage3_sha256": h.hexdigest()}


def load_docs(stage: int) -> list[str]:
    with open(corpus_path(stage)) as f:
        return [json.loads(line) for line in f]


def encode_docs(tok, docs: list[str], seed: int,
                mask_split_space: bool = False) -> list[list[int]]:
    """Token ids per document: BOS + parts (split at SPLIT, encoded apart) + EOS.

    mask_split_space: a part that ends in a lone space token before SPLIT stores it as ~id
    (no loss on predicting it; the answer after it is still learnt).
    """
    rng = random.Random(f"raw-{seed}")
    n_special, vocab = len(SPECIALS), len(tok)  # no special ids; len(tok) is slow: once
    flat, owners = [], []
    for i, d in enumerate(docs):
        if d == corpus.RAW_REPEAT:
            continue
        for part in d.split(corpus.SPLIT):
            flat.append(part)
            owners.append(i)
    enc = tok.backend_tokenizer.encode_batch(flat, add_special_tokens=False)
    out = [[tok.bos_token_id] for _ in docs]
    space = tok.convert_tokens_to_ids("\u0120")  # byte-level BPE's lone " "
    for k, (i, e) in enumerate(zip(owners, enc)):
        ids = list(e.ids)
        more = k + 1 < len(owners) and owners[k + 1] == i  # SPLIT follows this part
        if mask_split_space and more and ids and ids[-1] == space:
            ids[-1] = ~space
        out[i].extend(ids)
    for i, d in enumerate(docs):
        if d == corpus.RAW_REPEAT:  # a random token-id run, repeated: only copying helps
            run = [rng.randrange(n_special, vocab) for _ in range(rng.randint(8, 40))]
            out[i].extend(run * rng.choice([2, 2, 3]))
        out[i].append(tok.eos_token_id)
    return out


def pack(docs_ids: list[list[int]], pad_id: int, seq_len: int = SEQ_LEN) -> np.ndarray:
    """Greedy packing of whole documents into rows of seq_len (too-long docs truncated)."""
    rows, cur = [], []
    for ids in docs_ids:
        ids = ids[:seq_len]
        if len(cur) + len(ids) > seq_len:
            rows.append(cur + [pad_id] * (seq_len - len(cur)))
            cur = []
        cur = cur + ids
    if cur:
        rows.append(cur + [pad_id] * (seq_len - len(cur)))
    return np.asarray(rows, dtype=np.int32)


def prepare(force: bool = False):
    """Corpus -> tokenizer -> packed arrays under WORK_DIR; returns (tokenizer, meta)."""
    from transformers import AutoTokenizer
    meta_path = WORK_DIR / "corpus_meta.json"
    tok_dir = WORK_DIR / "tokenizer"
    if meta_path.exists() and tok_dir.exists() and not force:
        tok, meta = AutoTokenizer.from_pretrained(tok_dir), json.loads(meta_path.read_text())
        if meta.get("stage3_source") != _stage3_source():  # stage 3's generator changed
            meta.update(_prepare_stage3(tok))
            meta_path.write_text(json.dumps(meta, indent=1))
        return tok, meta
    meta = build_corpus()
    docs = {s: load_docs(s) for s in (1, 2)}
    texts = [corpus.strip_markers(d) for s in (1, 2) for d in docs[s] if d != corpus.RAW_REPEAT]
    tok = train_tokenizer(texts)
    tok.save_pretrained(tok_dir)
    for s in (1, 2):
        arr = pack(encode_docs(tok, docs[s], s), tok.pad_token_id)
        np.save(WORK_DIR / f"stage{s}.npy", arr)
        meta[f"stage{s}_rows"] = int(arr.shape[0])
        meta[f"stage{s}_tokens"] = int((arr != tok.pad_token_id).sum())
    meta.update(_prepare_stage3(tok))
    meta["seq_len"] = SEQ_LEN
    meta_path.write_text(json.dumps(meta, indent=1))
    return tok, meta


def _stage3_source() -> str:
    """Hash of everything stage 3's packed array depends on besides the tokenizer, so an
    edited generator rebuilds the cached array instead of training on stale documents."""
    from pathlib import Path
    here = Path(__file__).parent
    h = hashlib.sha256(f"{N_DOCS[3]} {SEQ_LEN} {CORPUS_SEED}".encode())
    for f in (here / "corpus_stage3.py", here / "corpus.py", here / "handover.py",
              here / "data.py", here.parent / "utils" / "prompts.py"):
        h.update(f.read_bytes())
    return h.hexdigest()


def _prepare_stage3(tok) -> dict:
    meta = build_stage3()
    meta["stage3_source"] = _stage3_source()
    arr = pack(encode_docs(tok, load_docs(3), 3, mask_split_space=corpus_stage3.MASK_SPLIT_SPACE),
               tok.pad_token_id)
    np.save(WORK_DIR / "stage3.npy", arr)
    meta["stage3_rows"] = int(arr.shape[0])
    meta["stage3_tokens"] = int((arr != tok.pad_token_id).sum())
    return meta


def _stage4_source() -> str:
    from pathlib import Path
    h = hashlib.sha256((_stage3_source() + f" {N_DOCS[4]}").encode())
    h.update((Path(__file__).parent / "corpus_stage4.py").read_bytes())
    return h.hexdigest()


def _cached_rows(path, make_docs, encode_seed: int, mask_split_space: bool = False) -> np.ndarray:
    """Packed rows of make_docs() with the fitted tokenizer, built once and cached at path."""
    if not path.exists():
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(WORK_DIR / "tokenizer")
        arr = pack(encode_docs(tok, make_docs(), encode_seed, mask_split_space), tok.pad_token_id)
        np.save(str(path) + ".tmp.npy", arr)
        (WORK_DIR / (path.name + ".tmp.npy")).replace(path)
    return np.load(path)


def _stage4() -> np.ndarray:
    """Stage 4's packed rows (`corpus_stage4`, generator seed CORPUS_SEED), cached under a hash
    of its generator, so an edit rebuilds it."""
    return _cached_rows(WORK_DIR / f"stage4_{_stage4_source()[:12]}.npy",
                        lambda: corpus_stage4.generate(N_DOCS[4], CORPUS_SEED), 4)


def stage4_meta(tok) -> dict:
    """Size and sha256 of stage 4's documents (hashed as the jsonl lines of stages 1-3)."""
    docs = corpus_stage4.generate(N_DOCS[4], CORPUS_SEED)
    h = hashlib.sha256()
    for d in docs:
        h.update((json.dumps(d) + "\n").encode())   # the line `_write_docs` writes
    arr = _stage4()
    return {"stage4_docs": len(docs), "stage4_chars": sum(len(d) for d in docs),
            "stage4_sha256": h.hexdigest(), "stage4_rows": int(arr.shape[0]),
            "stage4_tokens": int((arr != tok.pad_token_id).sum())}


def load_stage(stage: int, copies: int = 1) -> np.ndarray:
    """Stage `stage`'s packed rows; with copies > 1, rows of copies - 1 more corpora of the same
    size from the next generator seeds follow (same tokenizer; built and cached on first use).
    Stage 4 (a short fine-tune) has one corpus."""
    if stage == 4:
        return _stage4()
    arrays = [np.load(WORK_DIR / f"stage{stage}.npy")]
    for k in range(1, copies):
        arrays.append(_extra_stage(stage, CORPUS_SEED + k))
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def _extra_stage(stage: int, seed: int) -> np.ndarray:
    return _cached_rows(WORK_DIR / f"stage{stage}_seed{seed}_{_stage3_source()[:12]}.npy",
                        lambda: (corpus_stage3.generate(N_DOCS[3], seed) if stage == 3
                                 else corpus.generate(stage, N_DOCS[stage], seed)),
                        stage + 10 * seed, stage == 3 and corpus_stage3.MASK_SPLIT_SPACE)


def split_inputs_labels(rows: np.ndarray, pad_id: int):
    """Packed rows [batch, seq] -> (input_ids, labels) as int64 tensors; labels are -100 on
    padding and on tokens stored as ~id."""
    import torch
    x = torch.from_numpy(rows.astype(np.int64))
    no_loss = x < 0
    x = torch.where(no_loss, ~x, x)
    return x, x.masked_fill(no_loss | (x == pad_id), -100)
