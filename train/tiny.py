"""Tiny students built from config: a tokenizer trained on a version's own text and T5 / Llama models of a few ten
thousand parameters. Nothing is downloaded, so the whole train stage can be tried (and tested) on any machine.

    python -m train.tiny --store store --version v1 --arch seq2seq --out tiny-t5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from databuild.quiet import quiet_libraries
from databuild.store import Store, open_store

SPECIAL_TOKENS = ["<pad>", "</s>", "<s>", "<unk>"]  # ids 0..3: T5 wants pad=0 as decoder start


def version_texts(store: Store, version: str) -> list[str]:
    """Every prompt and completion of the version (both splits): the tokenizer's training text."""
    import datasets

    sft = datasets.load_from_disk(str(store.sft_dir(version)))
    texts: list[str] = []
    for split in sft:
        texts += list(sft[split]["prompt"]) + list(sft[split]["completion"])
    return texts


def train_tokenizer(texts: list[str], vocab_size: int = 600, chat_template: str | None = None) -> Any:
    """Byte-level BPE trained on `texts`: every character (braces, quotes, digits) round-trips exactly."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + ["<|user|>", "<|assistant|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=sys.stderr.isatty(),  # off a terminal its hidden bars still write blank lines
    )
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>"
    )
    if chat_template:
        fast.chat_template = chat_template
    return fast


def build_tiny_t5(path: Path, tokenizer: Any) -> Path:
    """A T5 with d_model 64 (bitsandbytes' 4-bit blocks are 64 wide) and 2+2 layers."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config.decoder_start_token_id = tokenizer.pad_token_id
    T5ForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_llama(path: Path, tokenizer: Any) -> Path:
    """A Llama-style decoder with hidden size 64, 2 layers, grouped-query attention."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="store")
    parser.add_argument("--version", default=None, help="default: the newest version")
    parser.add_argument("--arch", choices=("seq2seq", "causal"), default="seq2seq")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    quiet_libraries()
    store = open_store(args.store)
    version = store.resolve(args.version)
    tokenizer = train_tokenizer(version_texts(store, version))
    build = build_tiny_t5 if args.arch == "seq2seq" else build_tiny_llama
    print(build(args.out, tokenizer))


if __name__ == "__main__":
    main()
