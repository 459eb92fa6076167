"""GPU benchmark of the train stage: training tokens/s and per-request greedy latency of the paper's two students.

Models of FlanT5-base's shape (full fine-tuning) and of a 7B Llama shape (QLoRA: NF4 base + LoRA, bf16 compute)
are built from config with random weights (nothing can be downloaded), saved, and loaded back through the train
stage's own loaders (`train.modeling`), so the 4-bit path is the one `databuild train --load-in-4bit` takes. Training
runs on synthetic prompt/completion batches with the prompt lengths of the real student prompts; a request is one
intent = 3 prompts (one per tool) generated greedily together, up to `--max-new-tokens` new tokens. Random weights
rarely emit EOS, so every request generates the full budget: an upper bound of a trained student's latency.

Usage: python bench/train_gpu.py            (needs CUDA; ~4-6 min on an H100)
       python bench/train_gpu.py --smoke-cpu (tiny shapes on the CPU: checks the script, measures nothing useful)
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHARS_PER_TOKEN = 3.6  # English prose with identifiers, SentencePiece (T5 / Llama) ballpark
COMPLETION_TOKENS = (12, 48)  # sparse `Parameters: {...}` completions, shortest to longest, in tokens


@dataclass(frozen=True)
class Spec:
    name: str
    arch: str
    mode: str  # full | qlora
    config: Any
    lr: float


def specs(smoke: bool) -> list[Spec]:
    from transformers import LlamaConfig, T5Config

    if smoke:
        t5 = T5Config(vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2, num_heads=4)
        llama = LlamaConfig(
            vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4
        )
        names = ("tiny T5 (smoke)", "tiny Llama (smoke)")
    else:
        t5 = T5Config(  # type: ignore[call-arg]  # google/flan-t5-base's config (T5 v1.1, gated GELU)
            vocab_size=32128,
            d_model=768,
            d_kv=64,
            d_ff=2048,
            num_layers=12,
            num_decoder_layers=12,
            num_heads=12,
            feed_forward_proj="gated-gelu",
            tie_word_embeddings=False,  # as in that config: v1.1, no output scaling (transformers 5 ties the head)
        )
        llama = LlamaConfig(  # Llama-2-7b
            vocab_size=32000,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            max_position_embeddings=4096,
        )
        names = ("FlanT5-base shape", "7B Llama shape")
    t5.pad_token_id, t5.eos_token_id, t5.decoder_start_token_id = 0, 1, 0
    llama.pad_token_id, llama.bos_token_id, llama.eos_token_id = 0, 1, 2
    return [Spec(names[0], "seq2seq", "full", t5, 3e-4), Spec(names[1], "causal", "qlora", llama, 2e-4)]


def prompt_lengths() -> dict[str, int]:
    """Token counts of the real student prompts (template + a typical request), estimated from their length."""
    from databuild.packs.colour.reference import PACK

    return {
        tool.name: round(len(tool.render_prompt("warm golden hour look, soft and faded")) / CHARS_PER_TOKEN)
        for tool in PACK.tools
    }


def synthetic_examples(count: int, arch: str, vocab: int, lengths: dict[str, int], rng: random.Random) -> list[Any]:
    from train.sft_data import IGNORE_INDEX, EncodedExample

    tools = list(lengths)
    examples = []
    for index in range(count):
        prompt = [rng.randrange(3, vocab) for _ in range(lengths[tools[index % len(tools)]])]
        completion = [rng.randrange(3, vocab) for _ in range(rng.randint(*COMPLETION_TOKENS))] + [
            1 if arch == "seq2seq" else 2
        ]
        if arch == "seq2seq":
            examples.append(EncodedExample(prompt, completion))
        else:
            examples.append(EncodedExample(prompt + completion, [IGNORE_INDEX] * len(prompt) + completion))
    return examples


def random_model(spec: Spec, device: Any, dtype: Any) -> Any:
    """The spec's model with random weights, built directly on `device` in `dtype`."""
    import torch
    from transformers import LlamaForCausalLM, T5ForConditionalGeneration

    model_class = T5ForConditionalGeneration if spec.arch == "seq2seq" else LlamaForCausalLM
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return model_class(spec.config)
    finally:
        torch.set_default_dtype(previous)


def build_and_save(spec: Spec, directory: Path, device: Any, dtype: Any) -> None:
    """Random weights from config, saved like a downloaded checkpoint (the 7B one is built on the GPU, in bf16)."""
    import torch

    if spec.mode == "full":
        model = random_model(spec, torch.device("cpu"), torch.float32)
    else:
        model = random_model(spec, device, dtype)
    model.save_pretrained(directory, max_shard_size="5GB")
    del model
    free_memory(device)


def load_for_training(spec: Spec, directory: Path, device: Any, dtype: Any) -> Any:
    from train.modeling import load_base_model

    if spec.mode == "full":
        import torch

        return load_base_model(directory, spec.arch, False, device, torch.float32).to(device)
    return with_lora(load_base_model(directory, spec.arch, True, device, dtype), spec.arch, quantized=True)


def with_lora(base: Any, arch: str, quantized: bool) -> Any:
    """The benchmark's LoRA: rank 16, alpha 32, the architecture's default target modules."""
    from train.modeling import DEFAULT_LORA_TARGETS, wrap_lora

    return wrap_lora(
        base,
        arch,
        rank=16,
        alpha=32,
        dropout=0.05,
        targets=DEFAULT_LORA_TARGETS[arch],
        quantized=quantized,
        gradient_checkpointing=False,
    )


def unpacked_numel(parameter: Any) -> int:
    """Parameter count before 4-bit packing (bitsandbytes stores two NF4 values per byte)."""
    quant_state = getattr(parameter, "quant_state", None)
    return int(quant_state.shape.numel()) if quant_state is not None else int(parameter.numel())


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_training(model: Any, spec: Spec, args: argparse.Namespace, device: Any, dtype: Any) -> dict[str, float]:
    import torch

    from train.sft_data import TrainCollator, count_tokens

    rng = random.Random(0)
    steps = args.warmup + args.steps
    examples = synthetic_examples(steps * args.batch_size, spec.arch, spec.config.vocab_size, prompt_lengths(), rng)
    collate = TrainCollator(0, spec.arch)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=spec.lr)
    model.train()
    tokens, started = 0, 0.0
    for step in range(steps):
        if step == args.warmup:
            synchronize(device)
            started = time.perf_counter()
        batch = collate(examples[step * args.batch_size : (step + 1) * args.batch_size])
        if step >= args.warmup:
            tokens += count_tokens(batch, spec.arch)
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    synchronize(device)
    seconds = time.perf_counter() - started
    del optimizer
    return {
        "tokens_per_second": tokens / seconds,
        "seconds_per_step": seconds / args.steps,
        "tokens_per_step": tokens / args.steps,
        "trainable": sum(p.numel() for p in trainable),
        "total": sum(unpacked_numel(p) for p in model.parameters()),
    }


def measure_latency(
    model: Any, spec: Spec, args: argparse.Namespace, device: Any, dtype: Any, static_cache: bool = False
) -> dict[str, float]:
    import torch

    from train.modeling import generate_ids

    if spec.mode == "full":
        model = model.to(dtype)  # a trained full model is served in bf16 (`TrainedStudent` on a GPU)
    model.eval()
    rng = random.Random(1)
    lengths = list(prompt_lengths().values())
    latencies, new_tokens = [], []
    eos = spec.config.eos_token_id
    for request in range(args.warmup_requests + args.requests):
        prompts = [[rng.randrange(3, spec.config.vocab_size) for _ in range(length)] for length in lengths]
        synchronize(device)
        started = time.perf_counter()
        with torch.inference_mode():  # no autocast: served weights are already in the compute dtype
            generated = generate_ids(
                model,
                prompts,
                spec.arch,
                pad_token_id=0,
                stop_ids=[eos],
                max_new_tokens=args.max_new_tokens,
                batch_size=len(prompts),
                device=device,
                static_cache=static_cache,
            )
        synchronize(device)
        if request >= args.warmup_requests:
            latencies.append(time.perf_counter() - started)
            new_tokens.append(max(len(ids) for ids in generated))
    return {
        "ms_per_token": 1000 * statistics.median(t / n for t, n in zip(latencies, new_tokens, strict=True)),
        "latency_p50": statistics.median(latencies),
        "latency_max": max(latencies),
        "new_tokens": statistics.mean(new_tokens),
    }


def bench(spec: Spec, args: argparse.Namespace, workdir: Path, device: Any, dtype: Any) -> list[dict[str, Any]]:
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    directory = workdir / spec.name.replace(" ", "-")
    started = time.perf_counter()
    build_and_save(spec, directory, device, dtype)
    model = load_for_training(spec, directory, device, dtype)
    prepared = time.perf_counter() - started
    training = measure_training(model, spec, args, device, dtype)
    latency = measure_latency(model, spec, args, device, dtype)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    del model
    free_memory(device)
    rows: list[dict[str, Any]] = [
        {"spec": spec, "label": None, "prepare_seconds": prepared, "peak_gib": peak, **training, **latency}
    ]
    if spec.mode == "qlora":
        # The same adapters on an unquantized bf16 base: what serving a merged QLoRA student would cost.
        from train.modeling import load_base_model

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        base = load_base_model(directory, spec.arch, False, device, dtype).to(device)
        served = with_lora(base, spec.arch, quantized=False).merge_and_unload()
        latency = measure_latency(served, spec, args, device, dtype)
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
        rows.append({"spec": spec, "label": "bf16 base, LoRA merged (inference only)", "peak_gib": peak, **latency})
        del served, base
        free_memory(device)
    return rows


def bench_compiled(spec: Spec, args: argparse.Namespace, device: Any, dtype: Any) -> dict[str, Any]:
    """Latency only: the served bf16 model (random weights, built in place) with a static KV cache, which
    transformers' `generate` compiles (CUDA graphs); the warm-up requests absorb the compilation."""
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = random_model(spec, device, dtype)
    started = time.perf_counter()
    latency = measure_latency(model, spec, args, device, dtype, static_cache=True)
    compile_and_run = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    del model
    free_memory(device)
    label = f"bf16, static cache + compiled decoding (inference only; {compile_and_run:.0f} s with compilation)"
    return {"spec": spec, "label": label, "peak_gib": peak, **latency}


def free_memory(device: Any) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def render(rows: list[dict[str, Any]], args: argparse.Namespace, device_name: str, lengths: dict[str, int]) -> str:
    header = (
        "| model (random weights) | mode | params (trainable) | batch, tokens/step | train tokens/s | s/step | "
        "latency/request p50 (max) | new tokens | ms/new token | peak GPU GiB |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in rows:
        spec = row["spec"]
        latency = (
            f"{row['latency_p50']:.3f} s ({row['latency_max']:.3f} s) | {row['new_tokens']:.0f} | "
            f"{row['ms_per_token']:.1f} | "
            f"{row['peak_gib']:.1f} |"
        )
        if row["label"]:
            lines.append(f"| {spec.name} | {row['label']} | | | | | {latency}")
            continue
        mode = "full fine-tune" if spec.mode == "full" else "QLoRA (NF4 + LoRA r16)"
        lines.append(
            f"| {spec.name} | {mode} | {row['total'] / 1e6:,.1f} M ({row['trainable'] / 1e6:,.1f} M) | "
            f"{args.batch_size}, {row['tokens_per_step']:,.0f} | {row['tokens_per_second']:,.0f} | "
            f"{row['seconds_per_step']:.3f} | {latency}"
        )
    notes = (
        f"\n\n{device_name}; prompts per request: 3 (tool prompt lengths {lengths} tokens), greedy, "
        f"max_new_tokens {args.max_new_tokens}; {args.steps} timed training steps after {args.warmup} warm-up; "
        f"{args.requests} timed requests. Paper: 1.38 s FlanT5-base (L4), 1.63 s Llama-2-7b (A100) per request."
    )
    return header + "\n".join(lines) + notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-cpu", action="store_true", help="tiny shapes on the CPU (checks the script only)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--requests", type=int, default=10, help="timed generation requests")
    parser.add_argument("--warmup-requests", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--skip-7b", action="store_true", help="only the FlanT5-base shape")
    parser.add_argument(
        "--compiled-only", action="store_true", help="only the latency rows with a static cache + compiled decoding"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the random checkpoints go (~15 GB)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available() and not args.smoke_cpu:
        print(
            "bench/train_gpu.py needs a CUDA GPU and none is visible here: nothing measured. "
            "Run it on a GPU machine (or pass --smoke-cpu to check the script on tiny shapes).",
            file=sys.stderr,
        )
        return 0
    from databuild.quiet import quiet_libraries
    from train.modeling import compute_dtype

    quiet_libraries()
    warnings.filterwarnings("ignore", category=FutureWarning)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke_cpu else "cpu")
    dtype = compute_dtype(device.type)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke run)"
    started = time.perf_counter()
    chosen = specs(args.smoke_cpu)[: 1 if args.skip_7b else 2]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        for spec in chosen:
            print(f"{spec.name}: building, loading, training, generating ...", file=sys.stderr, flush=True)
            if not args.compiled_only:
                rows.extend(bench(spec, args, Path(workdir), device, dtype))
            rows.append(bench_compiled(spec, args, device, dtype))
            print(f"  done after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            if spec is not chosen[-1]:  # a partial table, in case a time limit cuts the next model short
                print(render(rows, args, device_name, prompt_lengths()), file=sys.stderr, flush=True)
    print(render(rows, args, device_name, prompt_lengths()))
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
