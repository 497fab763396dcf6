"""The tokenizer and packed training arrays, each built once and cached under a hash of
everything it depends on (the generator's source, the stage's size and seed, the packing, the
tokenizer), so an edited generator rebuilds them instead of training on stale rows.

Each stage's corpus becomes an int32 array of shape [n_rows, SEQ_LEN]: whole documents
(BOS doc EOS) packed greedily, the rest of a row filled with PAD (ignored by the loss).
"""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np

from course_model import WORK_DIR
from course_model.curriculum import CORPUS_SEED, SEQ_LEN, STAGES, generate
from course_model.families.text import RAW_REPEAT, SPLIT, strip_markers
from course_model.tokenizer import SPECIALS, train_tokenizer

N_DOCS = {n: s.docs for n, s in STAGES.items()}   # documents in one corpus of each stage
HERE = Path(__file__).parent
# the files a corpus's documents and packing depend on (not the training loop or the card)
SOURCES = sorted((HERE / "families").glob("*.py")) + [
    HERE / f for f in ("curriculum.py", "course_tables.py", "handover.py", "data.py",
                       "tokenizer.py")]


def docs_sha256(docs: list[str]) -> str:
    """sha256 of the documents as jsonl lines (one JSON string per line, markers kept): the
    corpus hash that train_info.json records."""
    h = hashlib.sha256()
    for d in docs:
        h.update((json.dumps(d) + "\n").encode())
    return h.hexdigest()


def cache_key(*parts) -> str:
    """A short hash of the generator's source and `parts` (what else the product depends on)."""
    h = hashlib.sha256(json.dumps([str(p) for p in parts]).encode())
    for f in SOURCES:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def encode_docs(tok, docs: list[str], seed: int) -> list[list[int]]:
    """Token ids per document: BOS + parts (split at SPLIT, encoded apart) + EOS; a RAW_REPEAT
    placeholder becomes a random token-id run, repeated (only copying predicts it)."""
    rng = random.Random(f"raw-{seed}")
    n_special, vocab = len(SPECIALS), len(tok)  # no special ids; len(tok) is slow: once
    flat, owners = [], []
    for i, d in enumerate(docs):
        if d == RAW_REPEAT:
            continue
        for part in d.split(SPLIT):
            flat.append(part)
            owners.append(i)
    enc = tok.backend_tokenizer.encode_batch(flat, add_special_tokens=False)
    out = [[tok.bos_token_id] for _ in docs]
    for i, e in zip(owners, enc):
        out[i].extend(e.ids)
    for i, d in enumerate(docs):
        if d == RAW_REPEAT:
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


def _tokenizer_key() -> str:
    fitted = [n for n, s in STAGES.items() if s.fits_tokenizer]
    return cache_key("tokenizer", CORPUS_SEED, [(n, N_DOCS[n]) for n in fitted])


# a model folder whose tokenizer later stages reuse (a fine-tune of a shipped model), or None
TOKENIZER_FROM: Path | None = None


def _tokenizer_id() -> str:
    if TOKENIZER_FROM is None:
        return _tokenizer_key()
    return hashlib.sha256((TOKENIZER_FROM / "tokenizer.json").read_bytes()).hexdigest()[:16]


def _rows_path(stage: int, seed: int) -> Path:
    key = cache_key("rows", stage, seed, N_DOCS[stage], SEQ_LEN, _tokenizer_id())
    return WORK_DIR / f"stage{stage}_seed{seed}_{key}.npy"


def _build_rows(tok, stage: int, seed: int, docs: list[str] | None = None) -> np.ndarray:
    """The packed rows of one corpus (generated unless given), cached."""
    path = _rows_path(stage, seed)
    if not path.exists():
        docs = docs if docs is not None else generate(stage, N_DOCS[stage], seed)
        arr = pack(encode_docs(tok, docs, stage + 10 * seed), tok.pad_token_id)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        tmp.replace(path)
    return np.load(path)


def prepare(force: bool = False):
    """Tokenizer and every stage's first corpus (documents, packed rows) under WORK_DIR, built
    once; returns (tokenizer, meta) where meta holds per stage the documents' count, characters
    and sha256 and the packed rows' and tokens' counts."""
    from transformers import AutoTokenizer
    if TOKENIZER_FROM is not None:
        return _prepare_from_model(TOKENIZER_FROM)
    key = _tokenizer_key()
    tok_dir, meta_path = WORK_DIR / f"tokenizer_{key}", WORK_DIR / f"corpus_meta_{key}.json"
    if tok_dir.exists() and meta_path.exists() and not force:
        return AutoTokenizer.from_pretrained(tok_dir, trust_remote_code=False), json.loads(meta_path.read_text())
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    docs = {n: generate(n, N_DOCS[n], CORPUS_SEED) for n in STAGES}
    tok = train_tokenizer([strip_markers(d) for n, s in STAGES.items() if s.fits_tokenizer
                           for d in docs[n] if d != RAW_REPEAT])
    tok.save_pretrained(tok_dir)
    meta = {"seq_len": SEQ_LEN}
    for n in STAGES:
        arr = _build_rows(tok, n, CORPUS_SEED, docs[n])
        meta.update(_stage_meta(tok, n, docs[n], arr))
    meta_path.write_text(json.dumps(meta, indent=1))
    return tok, meta


def _stage_meta(tok, n: int, docs: list[str], arr: np.ndarray) -> dict:
    return {f"stage{n}_docs": len(docs), f"stage{n}_chars": sum(len(d) for d in docs),
            f"stage{n}_sha256": docs_sha256(docs), f"stage{n}_rows": int(arr.shape[0]),
            f"stage{n}_tokens": int((arr != tok.pad_token_id).sum())}


def _prepare_from_model(model_dir: Path):
    """`prepare` for a fine-tune of an exported model: its tokenizer, its recorded corpus meta
    (train_info.json) and the stages it has not trained on, built with that tokenizer."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    meta = dict(json.loads((model_dir / "train_info.json").read_text())["corpus"])
    for n in STAGES:
        if f"stage{n}_sha256" in meta:
            continue
        meta_path = WORK_DIR / f"stage{n}_meta_{_rows_path(n, CORPUS_SEED).stem}.json"
        if not meta_path.exists():
            WORK_DIR.mkdir(parents=True, exist_ok=True)
            docs = generate(n, N_DOCS[n], CORPUS_SEED)
            arr = _build_rows(tok, n, CORPUS_SEED, docs)
            meta_path.write_text(json.dumps(_stage_meta(tok, n, docs, arr), indent=1))
        meta.update(json.loads(meta_path.read_text()))
    return tok, meta


def load_stage(stage: int, copies: int = 1) -> np.ndarray:
    """Stage `stage`'s packed rows; with copies > 1, rows of copies - 1 more corpora of the same
    size from the next generator seeds follow (same tokenizer; built and cached on first use)."""
    tok = prepare()[0]
    arrays = [_build_rows(tok, stage, CORPUS_SEED + k) for k in range(copies)]
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def split_inputs_labels(rows: np.ndarray, pad_id: int):
    """Packed rows [batch, seq] -> (input_ids, labels) as int64 tensors; labels are -100 on
    padding."""
    import torch
    x = torch.from_numpy(rows.astype(np.int64))
    return x, x.masked_fill(x == pad_id, -100)
