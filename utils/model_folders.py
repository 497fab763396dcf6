"""What the course refuses in a model folder before transformers reads it: any code.

transformers 4.57 imports `custom_generate/generate.py` from a local folder even with
`trust_remote_code=False`, and a folder's JSON may name its own classes (`auto_map`). The course
never runs a model folder's code, so a folder is refused, with the file named, when it holds:

- a Python file anywhere below it (`.py`, `.pyc`, `.pyw`);
- a `custom_generate/` folder;
- `auto_map` in any JSON file (found by parsing the JSON, so escapes such as "auto\\u005fmap"
  are seen too);
- a symlink, or a safetensors index entry, that leads outside the folder.

`no_custom_generate()` additionally switches off transformers' custom-generate loader while a
model loads, so even a file this scan missed would not be imported.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

CODE_SUFFIXES = (".py", ".pyc", ".pyw", ".pyo")
MAX_JSON_BYTES = 50_000_000  # a tokenizer.json is a few MB; larger JSON is not read as config


class UnsafeModelFolder(ValueError):
    """A folder holds code, or points outside itself; the message names the file."""


def read_json(path: Path, error: Callable[[Exception], Exception], catch=ValueError):
    """The JSON in UTF-8 file `path`; when reading it raises `catch`, raise error(err) instead."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except catch as err:   # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise error(err) from None


def _keys(tree):
    """Every key of every dict in a parsed JSON value."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield from node.keys()
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def scan_model_folder(folder, allowed_root=None) -> None:
    """Raise UnsafeModelFolder when `folder` holds code or leads outside itself.

    allowed_root: where symlinks may point (a hub cache's snapshot links into the repo's
        `blobs/`, so there it is the repo's cache folder); default: the folder itself.
    """
    folder = Path(folder).resolve()
    root = Path(allowed_root).resolve() if allowed_root is not None else folder
    refuse = ("The course never runs code from a model folder. Use a folder saved with "
              "model.save_pretrained(folder) and tokenizer.save_pretrained(folder) only.")
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in dirnames + filenames:
            path = here / name
            rel = path.relative_to(folder)
            if path.is_symlink() and not _inside(path, root):
                raise UnsafeModelFolder(
                    f"'{folder}' has a link {rel} that leads outside it (to {os.readlink(path)}). "
                    "Copy the real file into the folder instead.")
            if name == "custom_generate":
                raise UnsafeModelFolder(f"'{folder}' ships its own Python code: a custom_generate/ "
                                        f"folder ({rel}) that would replace model.generate. {refuse}")
            if name.lower().endswith(CODE_SUFFIXES):
                raise UnsafeModelFolder(f"'{folder}' ships its own Python code ({rel}). {refuse}")
        for name in filenames:
            path = here / name
            if name.lower().endswith(".json"):
                _check_json(path, folder, root, refuse)


def _check_json(path: Path, folder: Path, root: Path, refuse: str) -> None:
    rel = path.relative_to(folder)
    if path.stat().st_size > MAX_JSON_BYTES:
        raise UnsafeModelFolder(f"{rel} in '{folder}' is {path.stat().st_size / 1e6:.0f} MB, "
                                "too large for a config the course reads. Remove it.")
    tree = read_json(path, lambda err: UnsafeModelFolder(
        f"{rel} in '{folder}' is not valid JSON ({err}). Save the model again with "
        "save_pretrained."))
    if "auto_map" in set(_keys(tree)):
        raise UnsafeModelFolder(f"'{folder}' ships its own Python code ({rel} has an auto_map). "
                                f"{refuse}")
    if name_is_index(path.name) and isinstance(tree, dict):
        for target in set((tree.get("weight_map") or {}).values()):
            target_path = path.parent / str(target)
            if (not isinstance(target, str) or Path(target).is_absolute() or ".." in Path(target).parts
                    or not _inside(target_path, root)):
                raise UnsafeModelFolder(
                    f"{rel} in '{folder}' points to {target!r}, outside the folder. An index "
                    "may only name weight files inside its own folder: save the model again.")


def name_is_index(name: str) -> bool:
    return name.endswith(".index.json")


@contextmanager
def no_custom_generate():
    """While the block runs, transformers finds no custom generate function anywhere.

    `from_pretrained` treats an OSError from `load_custom_generate` as "there is none", so the
    replacement raises one; the original comes back when the block ends, also on errors.
    """
    from transformers.generation.utils import GenerationMixin

    original = GenerationMixin.__dict__.get("load_custom_generate")

    def refuse(self, *args, **kwargs):
        raise OSError("custom generate functions are switched off by the course")

    GenerationMixin.load_custom_generate = refuse
    try:
        yield
    finally:
        if original is None:
            del GenerationMixin.load_custom_generate
        else:
            GenerationMixin.load_custom_generate = original
