"""`databuild train`: fine-tune a student on a dataset version, evaluating every epoch."""

from __future__ import annotations

from pathlib import Path

import typer

from databuild.cli.app import app
from databuild.cli.common import FORMATS_TABLE_JSON, STORE_OPTION, check_choice, print_json, store_path, user_errors


@app.command()
def train(
    store: Path | None = STORE_OPTION,
    version: str | None = typer.Option(None, "--version", help="Dataset version to train on (default: newest)."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model directory, Hugging Face id in the local cache, a .gguf file, or smollm2-135m (pip package).",
    ),
    arch: str = typer.Option("auto", "--arch", help="auto (from the model config), seq2seq or causal."),
    lora: bool = typer.Option(False, "--lora/--no-lora", help="Train LoRA adapters (peft) instead of all weights."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="Quantize the base to NF4 (QLoRA; needs --lora)."),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs."),
    select_last: int = typer.Option(3, "--select-last", help="Keep the best overall score of the last N epochs."),
    batch_size: int = typer.Option(16, "--batch-size", help="Examples per step and per process."),
    lr: float | None = typer.Option(
        None, "--lr", help="Learning rate [default: 2e-4 LoRA, 3e-4 seq2seq, 2e-5 causal]."
    ),
    max_source_tokens: int = typer.Option(512, "--max-source-tokens", help="Longest prompt (keeps its end)."),
    max_new_tokens: int = typer.Option(96, "--max-new-tokens", help="Generation cap (fitted to the completions)."),
    eval_limit: int | None = typer.Option(None, "--eval-limit", help="Evaluate on the first N test intents only."),
    eval_batch_size: int | None = typer.Option(
        None, "--eval-batch-size", help="Prompts generated together when evaluating [default: max(batch size, 24)]."
    ),
    train_limit: int | None = typer.Option(
        None, "--train-limit", help="Train on a seeded sample of N train intents (all their tools)."
    ),
    prompt_format: str = typer.Option(
        "version", "--prompt", help="version (the version's per-tool prompts) or short ('<tool>: <intent>')."
    ),
    lora_rank: int = typer.Option(16, "--lora-rank", help="LoRA rank r."),
    lora_alpha: int = typer.Option(32, "--lora-alpha", help="LoRA alpha."),
    lora_dropout: float = typer.Option(0.05, "--lora-dropout", help="LoRA dropout."),
    lora_target: str | None = typer.Option(
        None, "--lora-target", help="Comma-separated module names or all-linear [default: q,v seq2seq; all-linear]."
    ),
    gradient_checkpointing: bool = typer.Option(False, "--gradient-checkpointing", help="Trade compute for memory."),
    precision: str = typer.Option("auto", "--precision", help="Mixed precision: auto (bf16 on GPU), no, bf16, fp16."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialization and data order."),
    report_to: str = typer.Option(
        "none", "--report-to", help="Track the run: none, tensorboard (STORE/runs/<id>/tensorboard), wandb or mlflow."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Run directory [default: STORE/runs/<run-id>]."),
    resume: str | None = typer.Option(
        None, "--resume", help="Continue a killed run (its directory or run id) with its own options."
    ),
    output_format: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Fine-tune a student on a dataset version; every epoch is scored on the test split.

    Example: databuild train --version v1 --model ./flan-t5-base --epochs 10 --select-last 3

    Example: databuild train --model smollm2-135m --lora --prompt short --train-limit 300 --epochs 3
    """
    with user_errors():
        check_choice("--format", output_format, FORMATS_TABLE_JSON)
        from databuild.store import open_store
        from train.trainer import TrainOptions
        from train.trainer import resume as resume_run
        from train.trainer import train as train_run

        opened = open_store(store_path(store))
        if resume is not None:
            result = resume_run(opened, resume, version=version)
        else:
            if model is None:
                from databuild.errors import DatabuildError

                raise DatabuildError("--model is required (a model directory or a cached Hugging Face id)")
            options = TrainOptions(
                version=version or opened.resolve(None),
                model=model,
                arch=arch,
                lora=lora,
                load_in_4bit=load_in_4bit,
                epochs=epochs,
                select_last=select_last,
                batch_size=batch_size,
                lr=lr,
                max_source_tokens=max_source_tokens,
                max_new_tokens=max_new_tokens,
                eval_limit=eval_limit,
                eval_batch_size=eval_batch_size,
                train_limit=train_limit,
                prompt_format=prompt_format,
                lora_rank=lora_rank,
                lora_alpha=lora_alpha,
                lora_dropout=lora_dropout,
                lora_target=lora_target,
                gradient_checkpointing=gradient_checkpointing,
                precision=precision,
                seed=seed,
                report_to=report_to,
            )
            result = train_run(opened, options, output)
        if result is None:
            return
        if output_format == "json":
            print_json(result)
            return
        _print_table(result)


def _print_table(result: dict) -> None:
    from rich import box
    from rich.table import Table

    from databuild.cli.common import stdout_console
    from databuild.display import rich_text

    # short headers on a light box: the table fits 80 columns (loss: train loss; tok/s: train tokens per second;
    # train s / gen s: seconds training / generating; chosen: the selected epoch)
    table = Table(title=rich_text(f"{result['run_dir']} ({result['version']})"), box=box.SIMPLE_HEAD)
    for column in ("epoch", "loss", "overall", "invalid", "train s", "tok/s", "gen s", "chosen"):
        table.add_column(column, justify="right", no_wrap=True)
    for entry in result["epochs"]:
        overall = entry.get("overall")
        table.add_row(
            str(entry["epoch"]),
            f"{entry['train_loss']:.4f}",
            "n/a" if overall is None else f"{overall:.4f}",
            str(entry.get("invalid_outputs", "n/a")),
            f"{entry.get('train_seconds', 0):.1f}",
            f"{entry.get('train_tokens_per_second') or 0:.0f}",
            f"{entry.get('generation_seconds', 0):.1f}",
            "*" if entry["epoch"] == result["selected_epoch"] else "",
        )
    stdout_console().print(table)
