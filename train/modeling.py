"""Loading students (transformers, peft LoRA, bitsandbytes NF4) and greedy batched generation.

Shared by the trainer (fresh or resumed models, per-epoch evaluation) and `TrainedStudent` (prediction), so that a
model is built, prompted and decoded the same way in both places.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.pack import ToolPack, colour_pack
from databuild.quiet import quiet_libraries
from databuild.store import reading
from train.sft_data import ARCHS, prompt_ids, student_prompt

# Per-architecture LoRA targets: T5's attention projections are called q/k/v/o; for decoder-only models every
# linear layer, as the QLoRA paper recommends.
DEFAULT_LORA_TARGETS = {"seq2seq": "q,v", "causal": "all-linear"}


@dataclass(frozen=True)
class ModelSource:
    """A model the user named, found locally (directory or Hugging Face cache) and its architecture."""

    source: str  # absolute directory, or a hub id present in the local cache
    arch: str
    model_type: str


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or Path(name).expanduser().exists()


def _hub_reachable(timeout_seconds: float = 3.0) -> bool:
    """Whether a download could work at all (offline mode off, the hub's host answers): spares minutes of retries."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout_seconds).close()
    except OSError:
        return False
    return True


def resolve_model(name_or_path: str, arch: str = "auto") -> ModelSource:
    """Find the model's config without downloading weights; decide seq2seq vs causal."""
    from transformers import AutoConfig

    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser().resolve()
        if not path.is_dir():
            raise DatabuildError(f"model not found: no directory {path}")
        if not (path / "config.json").is_file():
            raise DatabuildError(f"model not found: {path} has no config.json (a transformers model directory)")
        source = str(path)
        with reading(path / "config.json"):
            config = AutoConfig.from_pretrained(source)
    else:
        source = name_or_path
        try:
            config = AutoConfig.from_pretrained(source, local_files_only=True)
        except Exception:
            cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
            missing = (
                f"model not found: {name_or_path!r} is neither a directory ({Path(name_or_path).resolve()}) nor "
                f"in the Hugging Face cache ({cache})"
            )
            if not _hub_reachable():
                raise DatabuildError(f"{missing}, and the Hugging Face Hub cannot be reached") from None
            try:
                config = AutoConfig.from_pretrained(source)
            except Exception as exc:
                raise DatabuildError(f"{missing}, and it could not be downloaded ({type(exc).__name__})") from None
    found_arch = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
    if arch not in ("auto", *ARCHS):
        raise DatabuildError(f"--arch must be one of auto, {', '.join(ARCHS)}, not {arch!r}")
    if arch != "auto" and arch != found_arch:
        raise DatabuildError(f"--arch {arch} does not fit {source}: its config ({config.model_type}) is {found_arch}")
    return ModelSource(source, found_arch, str(config.model_type))


def load_tokenizer(source: str | Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise DatabuildError(f"the tokenizer of {source} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token  # causal tokenizers often lack one; labels mask padding anyway
    if tokenizer.eos_token_id is None:
        raise DatabuildError(f"the tokenizer of {source} has no EOS token: the student could not learn to stop")
    return tokenizer


def compute_dtype(device_type: str) -> Any:
    """bf16 where the GPU supports it, else fp32 (CPU training and fp16-only GPUs)."""
    import torch

    if device_type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_base_model(source: str | Path, arch: str, load_in_4bit: bool, device: Any, dtype: Any) -> Any:
    """The pretrained model: full precision, or its linear layers quantized to NF4 by bitsandbytes."""
    import torch

    quiet_libraries()
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    model_class = AutoModelForSeq2SeqLM if arch == "seq2seq" else AutoModelForCausalLM
    kwargs: dict[str, Any] = {"dtype": dtype}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        target = device if isinstance(device, torch.device) else torch.device(device)
        kwargs["device_map"] = {"": (target.index or 0) if target.type == "cuda" else target.type}
    try:
        return model_class.from_pretrained(str(source), **kwargs)
    except ValueError as exc:  # e.g. a config the Auto class has no model for
        raise DatabuildError(f"cannot load {source} as a {arch} model: {exc}") from None


def lora_target_modules(spec: str) -> str | list[str]:
    spec = spec.strip()
    return "all-linear" if spec == "all-linear" else [name.strip() for name in spec.split(",") if name.strip()]


def wrap_lora(
    model: Any,
    arch: str,
    *,
    rank: int,
    alpha: int,
    dropout: float,
    targets: str,
    quantized: bool,
    gradient_checkpointing: bool,
) -> Any:
    """Freeze the base and add trainable LoRA adapters (after preparing a 4-bit base for k-bit training)."""
    quiet_libraries()
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=lora_target_modules(targets),
        task_type=TaskType.SEQ_2_SEQ_LM if arch == "seq2seq" else TaskType.CAUSAL_LM,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # target modules that the model does not have
        raise DatabuildError(f"LoRA cannot wrap this model: {exc}") from None


def load_adapter(base: Any, adapter_dir: Path, trainable: bool) -> Any:
    quiet_libraries()
    from peft import PeftModel

    return PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=trainable)


STATIC_CACHE_WIDTH = 64


@cache
def brace_table(tokenizer: Any) -> tuple[Any, Any]:
    """Per token id, how many `{` and `}` its text holds (byte-level and sentencepiece vocabularies keep them as is)."""
    import torch

    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    opens = torch.tensor([(token or "").count("{") for token in tokens], dtype=torch.int32)
    closes = torch.tensor([(token or "").count("}") for token in tokens], dtype=torch.int32)
    return opens, closes


def closing_brace_stop(opens: Any, closes: Any, rows: int) -> Any:
    """A stopping criterion: a row is done once the JSON object it opened is closed (`{` ... matching `}`).

    Completions end with their object (`Parameters: {...}`), so an answer that would not stop at EOS still stops
    there instead of running to the token cap. Braces are counted over the generated tokens only.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class ClosingBrace(StoppingCriteria):
        def __init__(self) -> None:
            self.depth = torch.zeros(rows, dtype=torch.int32)
            self.opened = torch.zeros(rows, dtype=torch.bool)

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            last = input_ids[:, -1].cpu()
            self.depth += opens[last] - closes[last]
            self.opened |= opens[last] > 0
            return (self.opened & (self.depth <= 0)).to(input_ids.device)

    return StoppingCriteriaList([ClosingBrace()])


def generate_ids(
    model: Any,
    encoded: Sequence[Sequence[int]],
    arch: str,
    *,
    pad_token_id: int,
    stop_ids: Sequence[int],
    max_new_tokens: int,
    batch_size: int,
    device: Any,
    static_cache: bool = False,
    on_progress: Callable[[int], None] | None = None,
    groups: Sequence[int] | None = None,
    brace_stop: tuple[Any, Any] | None = None,
) -> list[list[int]]:
    """Greedy generation from prompt ids, `batch_size` prompts at a time: the new ids, in the order of `encoded`.

    Prompts of one group (e.g. one tool: similar answer lengths) and of similar length share a batch (less
    padding, fewer steps). `brace_stop` (`brace_table(tokenizer)`) also ends a row at its object's closing brace.
    Causal models are padded on the left so that every row's generated tokens start at the same position.
    `static_cache` preallocates the KV cache, which lets transformers compile the decoding step on a GPU (CUDA
    graphs): slow first batches, fast ones after. Its batches are padded to a multiple of `STATIC_CACHE_WIDTH`
    tokens so that few distinct shapes are ever compiled. `on_progress` is told after each batch how many prompts
    are done.
    """
    import torch

    order = sorted(range(len(encoded)), key=lambda i: (groups[i] if groups is not None else 0, len(encoded[i])))
    outputs: list[list[int]] = [[] for _ in encoded]
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        input_ids, attention_mask = _padded_batch([encoded[i] for i in rows], arch, pad_token_id, static_cache)
        width = input_ids.shape[1]
        stopping = closing_brace_stop(*brace_stop, len(rows)) if brace_stop is not None else None
        with torch.inference_mode():
            generated = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=pad_token_id,
                eos_token_id=list(stop_ids),
                stopping_criteria=stopping,
                **({"cache_implementation": "static"} if static_cache else {}),
            )
        # causal output repeats the prompt; seq2seq output starts with the decoder start token
        new_tokens = generated[:, width:] if arch == "causal" else generated[:, 1:]
        for index, ids_row in zip(rows, new_tokens.tolist(), strict=True):
            outputs[index] = ids_row
        if on_progress is not None:
            on_progress(start + len(rows))
    return outputs


def _padded_batch(prompts: Sequence[Sequence[int]], arch: str, pad_token_id: int, static_cache: bool) -> Any:
    """`(input_ids, attention_mask)` of a batch of prompt ids, padded to its longest (to a multiple of
    `STATIC_CACHE_WIDTH` with a static cache): causal prompts on the left, seq2seq ones on the right."""
    import torch

    width = max(len(prompt) for prompt in prompts)
    if static_cache:
        width = -(-width // STATIC_CACHE_WIDTH) * STATIC_CACHE_WIDTH
    input_ids = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids = torch.tensor(list(prompt), dtype=torch.long)
        if arch == "causal":
            input_ids[row, width - len(ids) :] = ids
            attention_mask[row, width - len(ids) :] = 1
        else:
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """The tokenizer's EOS plus any end-of-turn ids the model's generation config adds."""
    stop_ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    stop_ids.update(configured if isinstance(configured, list) else [configured])
    stop_ids.discard(None)
    return sorted(stop_ids)


def generate_completions(
    model: Any,
    tokenizer: Any,
    arch: str,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    max_source_tokens: int,
    batch_size: int,
    device: Any,
    static_cache: bool = False,
    on_progress: Callable[[int], None] | None = None,
    chat: bool = True,
    groups: Sequence[int] | None = None,
) -> list[str]:
    """Greedy completion texts for `prompts` (prompted exactly as in training), in order; each stops at EOS or at
    the closing brace of its JSON object."""
    encoded = [prompt_ids(tokenizer, arch, prompt, max_source_tokens, chat)[0] for prompt in prompts]
    generated = generate_ids(
        model,
        encoded,
        arch,
        pad_token_id=tokenizer.pad_token_id,
        stop_ids=stop_token_ids(model, tokenizer),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        device=device,
        static_cache=static_cache,
        on_progress=on_progress,
        groups=groups,
        brace_stop=brace_table(tokenizer),
    )
    return [text.strip() for text in tokenizer.batch_decode(generated, skip_special_tokens=True)]


def _prompts_to_intents(on_progress: Callable[[int], None], tools: int) -> Callable[[int], None]:
    return lambda prompts_done: on_progress(prompts_done // tools)


def predict_intents(
    model: Any,
    tokenizer: Any,
    arch: str,
    intents: list[str],
    *,
    max_new_tokens: int,
    max_source_tokens: int,
    batch_size: int,
    device: Any,
    static_cache: bool = False,
    pack: ToolPack | None = None,
    on_progress: Callable[[int], None] | None = None,
    prompt_format: str = "version",
) -> list[dict[str, str]]:
    """Predictions rows (`intent` + one completion per tool of `pack`, default the colour pack) for `intents`, all
    tools batched together (prompts in `prompt_format`, see `train.sft_data.PROMPT_FORMATS`).

    `on_progress` is told after each batch how many intents are done (prompts done / tools, rounded down).
    """
    pack = pack or colour_pack()
    names = pack.names
    prompt_list = [student_prompt(prompt_format, tool, intent) for intent in intents for tool in pack.tools]
    texts = generate_completions(
        model,
        tokenizer,
        arch,
        prompt_list,
        max_new_tokens=max_new_tokens,
        max_source_tokens=max_source_tokens,
        batch_size=batch_size,
        device=device,
        static_cache=static_cache,
        on_progress=None if on_progress is None else _prompts_to_intents(on_progress, len(names)),
        chat=prompt_format == "version",
        groups=[index % len(names) for index in range(len(prompt_list))],
    )
    return [
        {"intent": intent, **dict(zip(names, texts[i * len(names) : (i + 1) * len(names)], strict=True))}
        for i, intent in enumerate(intents)
    ]
