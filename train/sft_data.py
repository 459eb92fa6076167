"""SFT data for the student: a version's `sft/` rows -> token ids, with the loss masked to the completion.

Seq2seq models read the prompt and learn the completion. Causal models read prompt + completion in one sequence and
learn only the completion tokens (prompt positions carry the label -100); when the tokenizer has a chat template,
the prompt is the user turn and the completion the assistant turn, exactly as the template renders them.
Training and generation build prompt ids with the same function, so what the student sees at inference is what it
learned on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from databuild.pack import Tool
from databuild.store import Store

if TYPE_CHECKING:
    import polars as pl

ARCHS = ("seq2seq", "causal")
IGNORE_INDEX = -100  # the label value PyTorch's cross-entropy skips
# "version": the version's own per-tool prompts (instructions, ranges, presets), in the chat template if any;
# "short": only the tool and the request, no chat template: the fine-tuned student learns the rest from the data.
PROMPT_FORMATS = ("version", "short")
SHORT_PROMPT = "{tool}: {intent}"


@dataclass(frozen=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]


def load_sft(store: Store, version: str, split: str) -> pl.DataFrame:
    """One split of a version's `sft/` DatasetDict: columns intent, tool, prompt, completion."""
    import datasets
    import polars as pl

    dataset_dict = datasets.load_from_disk(str(store.sft_dir(version)))
    frame = pl.from_arrow(dataset_dict[split].data.table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def student_prompt(prompt_format: str, tool: Tool, intent: str) -> str:
    """The prompt a student reads for one tool and intent, in `prompt_format` (see `PROMPT_FORMATS`): the version's
    own prompt (the tool pack's), or the short `<tool>: <intent>`."""
    if prompt_format == "version":
        return tool.render_prompt(intent)
    return SHORT_PROMPT.format(tool=tool.name, intent=intent)


def uses_chat_template(tokenizer: Any, arch: str, chat: bool = True) -> bool:
    return chat and arch == "causal" and bool(getattr(tokenizer, "chat_template", None))


def _ids(tokenizer: Any, text: str, add_special_tokens: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])


def _chat_prompt_text(tokenizer: Any, prompt: str) -> str:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )


def prompt_ids(
    tokenizer: Any, arch: str, prompt: str, max_source_tokens: int, chat: bool = True
) -> tuple[list[int], bool]:
    """The ids the model reads before it writes the completion, and whether they had to be cut.

    Too long prompts keep their end: the user request and the answer instruction sit at the end of every template.
    `chat=False` leaves the tokenizer's chat template out (the short prompt format).
    """
    if uses_chat_template(tokenizer, arch, chat):
        ids = _ids(tokenizer, _chat_prompt_text(tokenizer, prompt), add_special_tokens=False)
    elif arch == "causal":
        ids = _ids(tokenizer, prompt + "\n", add_special_tokens=True)
        if ids and tokenizer.eos_token_id is not None and ids[-1] == tokenizer.eos_token_id:
            ids = ids[:-1]  # some tokenizers close every text with EOS; the completion follows here
    else:
        ids = _ids(tokenizer, prompt, add_special_tokens=True)
    if len(ids) > max_source_tokens:
        return ids[-max_source_tokens:], True
    return ids, False


def completion_ids(tokenizer: Any, arch: str, prompt: str, completion: str, chat: bool = True) -> list[int]:
    """The target ids, always closed by EOS so that generation learns where to stop."""
    if uses_chat_template(tokenizer, arch, chat):
        prompt_text = _chat_prompt_text(tokenizer, prompt)
        full_text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}], tokenize=False
        )
        # The assistant turn as the template writes it (end-of-turn tokens included); a template that rewrites the
        # earlier turns once an answer follows falls back to the bare completion.
        target_text = full_text[len(prompt_text) :].rstrip() if full_text.startswith(prompt_text) else completion
    else:
        target_text = completion
    ids = _ids(tokenizer, target_text, add_special_tokens=False)
    eos = tokenizer.eos_token_id
    if eos is not None and (not ids or ids[-1] != eos):
        ids.append(eos)
    return ids


def encode_examples(
    tokenizer: Any,
    arch: str,
    prompts: Sequence[str],
    completions: Sequence[str],
    max_source_tokens: int,
    chat: bool = True,
) -> tuple[list[EncodedExample], int]:
    """Token ids and labels for every (prompt, completion) pair, and how many prompts were truncated."""
    examples: list[EncodedExample] = []
    truncated = 0
    for prompt, completion in zip(prompts, completions, strict=True):
        source, was_cut = prompt_ids(tokenizer, arch, prompt, max_source_tokens, chat)
        truncated += was_cut
        target = completion_ids(tokenizer, arch, prompt, completion, chat)
        if arch == "seq2seq":
            examples.append(EncodedExample(source, target))
        else:
            examples.append(EncodedExample(source + target, [IGNORE_INDEX] * len(source) + target))
    return examples, truncated


def longest_completion_tokens(
    tokenizer: Any, arch: str, prompts: Sequence[str], completions: Sequence[str], chat: bool = True
) -> int:
    return max(
        (len(completion_ids(tokenizer, arch, p, c, chat)) for p, c in zip(prompts, completions, strict=True)),
        default=0,
    )


class TrainCollator:
    """Pads a batch on the right: inputs with the pad id, labels with -100 (so padding never counts in the loss)."""

    def __init__(self, pad_token_id: int, arch: str) -> None:
        self.pad_token_id = pad_token_id
        self.arch = arch

    def __call__(self, batch: Sequence[EncodedExample]) -> dict[str, Any]:
        import torch

        width = max(len(e.input_ids) for e in batch)
        input_ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        label_width = width if self.arch == "causal" else max(len(e.labels) for e in batch)
        labels = torch.full((len(batch), label_width), IGNORE_INDEX, dtype=torch.long)
        for row, example in enumerate(batch):
            input_ids[row, : len(example.input_ids)] = torch.tensor(example.input_ids)
            attention_mask[row, : len(example.input_ids)] = 1
            labels[row, : len(example.labels)] = torch.tensor(example.labels)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def count_tokens(batch: dict[str, Any], arch: str) -> int:
    """Real (non-padding) tokens the model processes for a batch: encoder + decoder tokens for seq2seq."""
    tokens = int(batch["attention_mask"].sum())
    if arch == "seq2seq":
        tokens += int((batch["labels"] != IGNORE_INDEX).sum())
    return tokens
