"""The train stage: fine-tune a student on a dataset version, evaluate every epoch, keep the best late epoch.

Data-parallel training goes through `accelerate` (one process per device under `torchrun` / `accelerate launch`);
only the main process writes records and checkpoints. Every epoch: train on `sft/train` (all tools mixed), generate
greedily for the test intents (split across processes), score with `databuild.evaluation.evaluate`, checkpoint.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.pack import ToolPack
from databuild.progress import Progress
from databuild.quiet import quiet_libraries
from databuild.store import PACK_FILE, Store, open_store
from train import runs
from train.gguf_models import gguf_checkpoint, is_gguf_model
from train.modeling import (
    DEFAULT_LORA_TARGETS,
    ModelSource,
    compute_dtype,
    load_adapter,
    load_base_model,
    load_tokenizer,
    predict_intents,
    resolve_model,
    wrap_lora,
)
from train.selection import checkpoints_to_keep, select_epoch
from train.sft_data import (
    PROMPT_FORMATS,
    TrainCollator,
    count_tokens,
    encode_examples,
    load_sft,
    longest_completion_tokens,
    student_prompt,
)
from train.tracking import NoTracker, Tracker, check_report_to, epoch_scalars, open_tracker

PRECISIONS = ("auto", "no", "bf16", "fp16")
# Generation budget beyond the longest training completion: room for a slightly longer answer, never a ramble.
GENERATION_MARGIN_TOKENS = 16
DEFAULT_LR = {"lora": 2e-4, "seq2seq": 3e-4, "causal": 2e-5}


@dataclass
class TrainOptions:
    """Everything that shapes a run (recorded whole in `run.json`)."""

    version: str
    model: str
    arch: str = "auto"
    lora: bool = False
    load_in_4bit: bool = False
    epochs: int = 10
    select_last: int = 3
    batch_size: int = 16  # per process
    lr: float | None = None  # None: 2e-4 with LoRA, 3e-4 full seq2seq, 2e-5 full causal
    max_source_tokens: int = 512
    max_new_tokens: int = 96
    eval_limit: int | None = None
    eval_batch_size: int | None = None  # prompts generated together; None: the larger of batch_size and 24
    train_limit: int | None = None  # a seeded sample of this many train intents (all their tools); None: all
    prompt_format: str = "version"  # see train.sft_data.PROMPT_FORMATS
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target: str | None = None  # comma-separated module names or "all-linear"; None: per architecture
    gradient_checkpointing: bool = False
    precision: str = "auto"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    seed: int = 0
    report_to: str = "none"  # experiment tracking: none, tensorboard, wandb or mlflow (train/tracking.py)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


@dataclass(frozen=True)
class Plan:
    """Options checked against the store and the model before any work starts."""

    options: TrainOptions
    version: str
    fingerprint: str
    model: ModelSource
    lr: float
    lora_target: str | None

    @property
    def mode(self) -> str:
        return "qlora" if self.options.load_in_4bit else "lora" if self.options.lora else "full"


EpochCallback = Callable[[dict[str, Any]], None]
Log = Callable[[str], None]


def _stderr_log(message: str) -> None:
    sys.stderr.write(message + "\n")


def plan_run(store: Store, options: TrainOptions) -> Plan:
    """Validate every option, the version and the model (config only, no weights): errors before any work."""
    quiet_libraries()
    checks = [
        (options.epochs >= 1, "--epochs must be at least 1"),
        (options.select_last >= 1, "--select-last must be at least 1"),
        (options.batch_size >= 1, "--batch-size must be at least 1"),
        (options.lr is None or options.lr > 0, "--lr must be positive"),
        (options.max_source_tokens >= 8, "--max-source-tokens must be at least 8"),
        (options.max_new_tokens >= 1, "--max-new-tokens must be at least 1"),
        (options.eval_limit is None or options.eval_limit >= 0, "--eval-limit must not be negative"),
        (options.eval_batch_size is None or options.eval_batch_size >= 1, "--eval-batch-size must be at least 1"),
        (options.train_limit is None or options.train_limit >= 1, "--train-limit must be at least 1"),
        (options.lora_rank >= 1, "--lora-rank must be at least 1"),
        (options.lora_alpha >= 1, "--lora-alpha must be at least 1"),
        (0 <= options.lora_dropout < 1, "--lora-dropout must be in [0, 1)"),
        (0 <= options.warmup_ratio < 1, "warmup ratio must be in [0, 1)"),
    ]
    for ok, message in checks:
        if not ok:
            raise DatabuildError(message)
    if options.precision not in PRECISIONS:
        raise DatabuildError(f"--precision must be one of {', '.join(PRECISIONS)}, not {options.precision!r}")
    if options.prompt_format not in PROMPT_FORMATS:
        raise DatabuildError(f"--prompt must be one of {', '.join(PROMPT_FORMATS)}, not {options.prompt_format!r}")
    if options.load_in_4bit and not options.lora:
        raise DatabuildError(
            "--load-in-4bit needs --lora: a 4-bit base cannot be fine-tuned itself, only LoRA adapters on it (QLoRA)"
        )
    if options.lora_target is not None and not options.lora:
        raise DatabuildError("--lora-target needs --lora")
    check_report_to(options.report_to)
    version = store.resolve(options.version)
    fingerprint = store.manifest(version)["fingerprint"]
    # a packaged or .gguf model becomes a normal checkpoint in the store's cache (converted once)
    local = str(gguf_checkpoint(options.model, store.models_dir)) if is_gguf_model(options.model) else options.model
    model = resolve_model(local, options.arch)
    if options.load_in_4bit:
        try:
            import bitsandbytes  # noqa: F401
        except Exception as exc:
            raise DatabuildError(f"--load-in-4bit needs bitsandbytes, which does not import here: {exc}") from None
    lr = options.lr or DEFAULT_LR["lora" if options.lora else model.arch]
    lora_target = (options.lora_target or DEFAULT_LORA_TARGETS[model.arch]) if options.lora else None
    return Plan(options, version, fingerprint, model, lr, lora_target)


def cpu_supports_bf16() -> bool:
    """Whether this processor has native bf16 arithmetic (AVX512-BF16 or AMX): autocast then pays off on the CPU
    (LoRA steps of SmolLM2-135M here: 1.35 s bf16 against 1.9 s fp32)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def _mixed_precision(choice: str) -> str:
    import torch

    if choice != "auto":
        return choice
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if cpu_supports_bf16() else "no"


def _summary(run_dir: Path, plan_or_run: dict[str, Any], epochs: list[dict[str, Any]], selected: int | None) -> dict:
    return {
        "run_dir": str(run_dir),
        "version": plan_or_run["version"],
        "fingerprint": plan_or_run["fingerprint"],
        "epochs": [{k: v for k, v in e.items() if k != "eval"} for e in epochs],
        "selected_epoch": selected,
    }


class _EpochOrder:
    """The training examples in a fixed shuffled order per (seed, epoch): a resumed run sees the same order."""

    def __init__(self, examples: list[Any], seed: int, epoch: int) -> None:
        self.examples = examples
        self.order = random.Random(seed * 100_003 + epoch).sample(range(len(examples)), len(examples))

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> Any:
        return self.examples[self.order[index]]


def train(
    store: Store,
    options: TrainOptions,
    output: Path | None = None,
    *,
    on_epoch_end: EpochCallback | None = None,
    log: Log = _stderr_log,
) -> dict[str, Any] | None:
    """Train a new run; returns the `--format json` summary (None on the other processes of a multi-process run)."""
    plan = plan_run(store, options)
    if output is not None and (output / runs.RUN_FILE).exists():
        raise DatabuildError(f"{output} already holds a run; resume it with --resume {output}")
    if output is not None and output.exists() and any(output.iterdir()):
        raise DatabuildError(f"--output {output} exists and is not empty")
    with runs.heartbeat_scope() as beat:
        return _execute(store, plan, output, None, on_epoch_end, log, beat)


def resume(
    store: Store,
    run: Path | str,
    *,
    version: str | None = None,
    recorded_store: bool = False,
    on_epoch_end: EpochCallback | None = None,
    log: Log = _stderr_log,
) -> dict[str, Any] | None:
    """Continue a killed run (its directory or run id) from its last finished epoch, with the options it started
    with; `version`, when given, must be the one the run trains on. `recorded_store`: train on the store the run
    recorded, when it still exists, rather than `store` (a run directory given without --store)."""
    run_dir = runs.resolve_run_dir(store, str(run))
    record = runs.read_run(run_dir)
    recorded = record.get("store")
    if recorded_store and isinstance(recorded, str) and recorded and Path(recorded).is_dir():
        store = open_store(recorded)
    if version is not None and version != record.get("version"):
        raise DatabuildError(f"run {run_dir} trained on {record.get('version')}, not {version}")
    metrics = runs.read_metrics(run_dir)
    if record.get("status") == "complete":
        log(f"{run_dir} is already complete")
        return _summary(run_dir, record, metrics["epochs"], record.get("selected_epoch"))
    options = TrainOptions.from_record(record["options"])
    options.model = record["model_source"]
    plan = plan_run(store, options)
    if plan.fingerprint != record["fingerprint"]:
        raise DatabuildError(
            f"version {plan.version} no longer has the fingerprint the run started from ({record['fingerprint']})"
        )
    with runs.heartbeat_scope() as beat:
        return _execute(store, plan, run_dir, record, on_epoch_end, log, beat)


def _resume_point(run_dir: Path, recorded_epochs: int) -> int:
    """The newest epoch that has both its training state and its metrics (0: start over)."""
    usable = [
        e
        for e in runs.checkpoint_epochs(run_dir)
        if e <= recorded_epochs and (runs.checkpoint_dir(run_dir, e) / runs.TRAINING_STATE_FILE).is_file()
    ]
    return max(usable, default=0)


def _build_model(plan: Plan, device: Any, dtype: Any, checkpoint: Path | None) -> Any:
    options = plan.options
    if not options.lora:
        import torch

        # full fine-tuning keeps fp32 master weights; mixed precision (autocast) does the bf16 compute
        return load_base_model(checkpoint or plan.model.source, plan.model.arch, False, device, torch.float32)
    base = load_base_model(plan.model.source, plan.model.arch, options.load_in_4bit, device, dtype)
    if checkpoint is not None:
        if options.load_in_4bit:
            from peft import prepare_model_for_kbit_training

            base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=options.gradient_checkpointing)
        elif options.gradient_checkpointing:
            base.gradient_checkpointing_enable()
            base.enable_input_require_grads()
        return load_adapter(base, checkpoint, trainable=True)
    assert plan.lora_target is not None
    return wrap_lora(
        base,
        plan.model.arch,
        rank=options.lora_rank,
        alpha=options.lora_alpha,
        dropout=options.lora_dropout,
        targets=plan.lora_target,
        quantized=options.load_in_4bit,
        gradient_checkpointing=options.gradient_checkpointing,
    )


def _save_checkpoint(run_dir: Path, epoch: int, model: Any, tokenizer: Any, optimizer: Any, scheduler: Any) -> None:
    """Model (or adapter) + tokenizer + training state, written aside and renamed into place."""
    import numpy as np
    import torch

    final = runs.checkpoint_dir(run_dir, epoch)
    staging = final.with_name(f".{final.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    state = {
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
    }
    torch.save(state, staging / runs.TRAINING_STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)


def _prune_checkpoints(run_dir: Path, keep: set[int], newest: int) -> None:
    for epoch in runs.checkpoint_epochs(run_dir):
        if epoch not in keep:
            shutil.rmtree(runs.checkpoint_dir(run_dir, epoch), ignore_errors=True)
        elif epoch != newest:  # only the newest epoch is resumed from; optimizer state is large
            (runs.checkpoint_dir(run_dir, epoch) / runs.TRAINING_STATE_FILE).unlink(missing_ok=True)


def _training_data(store: Store, plan: Plan) -> tuple[list[str], list[str], dict[str, Any]]:
    """The (prompt, completion) pairs to learn from: every tool of the train intents (or a seeded sample of
    `train_limit` of them), prompted in the run's prompt format; and what was taken, for `run.json`."""
    import polars as pl

    options = plan.options
    rows = load_sft(store, plan.version, "train")
    if rows.height == 0:
        raise DatabuildError(f"version {plan.version} has no train rows to learn from")
    intents = sorted(set(rows["intent"].to_list()))
    taken = intents
    if options.train_limit is not None and options.train_limit < len(intents):
        taken = sorted(random.Random(options.seed).sample(intents, options.train_limit))
        rows = rows.filter(pl.col("intent").is_in(taken))
    if options.prompt_format == "version":
        prompts = rows["prompt"].to_list()
    else:
        pack = store.pack(plan.version)
        pairs = zip(rows["tool"], rows["intent"], strict=True)
        prompts = [student_prompt(options.prompt_format, pack.tool(tool), intent) for tool, intent in pairs]
    taken_record = {"train_intents": len(taken), "train_intents_available": len(intents)}
    return prompts, rows["completion"].to_list(), taken_record


def _generate_for_eval(
    model: Any,
    tokenizer: Any,
    plan: Plan,
    intents: list[str],
    tokens: int,
    device: Any,
    pack: ToolPack,
    on_progress: Callable[[int], None],
) -> list:
    """Predictions for the eval intents with the LoRA adapters merged into the base (no extra kernels per token)
    and unmerged again afterwards; 4-bit bases keep their adapters apart (they cannot be merged exactly)."""
    options = plan.options
    merge = options.lora and not options.load_in_4bit
    if merge:
        model.merge_adapter()
    try:
        return predict_intents(
            model,
            tokenizer,
            plan.model.arch,
            intents,
            max_new_tokens=tokens,
            max_source_tokens=options.max_source_tokens,
            batch_size=options.eval_batch_size or max(options.batch_size, 24),
            device=device,
            pack=pack,
            on_progress=on_progress,
            prompt_format=options.prompt_format,
        )
    finally:
        if merge:
            model.unmerge_adapter()


def _eval_truth(store: Store, version: str, eval_limit: int | None) -> Any:
    import polars as pl

    from databuild.contracts import load_rows

    truth = load_rows(store, version).filter(pl.col("split") == "test").sort("intent")
    return truth.head(eval_limit) if eval_limit is not None else truth


def _evaluation_progress(epoch: int, epochs: int, intents: int, accelerator: Any) -> Progress:
    """Progress over this epoch's evaluation intents, on the main process (over its share when there are more)."""
    share = f" (process 1 of {accelerator.num_processes})" if accelerator.num_processes > 1 else ""
    enabled = accelerator.is_main_process and intents > 0
    return Progress(f"evaluating epoch {epoch}/{epochs}{share}", total=intents, enabled=enabled)


def _start_tracking(report_to: str, run_dir: Path, record: dict[str, Any], start_step: int) -> Tracker:
    """Create the run directory and start the tracked run; a new run directory is removed if that fails."""
    fresh = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return open_tracker(report_to, run_dir, record, start_step)
    except BaseException:
        if fresh:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


@dataclass
class _Session:
    """What one training session holds; `_execute` fills it in, one step after the other."""

    store: Store
    plan: Plan
    accelerator: Any
    say: Log
    run_dir: Path
    start_epoch: int
    checkpoint: Path | None
    session_start: float
    pack: ToolPack
    tokenizer: Any = None
    examples: list[Any] = field(default_factory=list)
    generation_tokens: int = 0
    truth: Any = None
    eval_intents: list[str] = field(default_factory=list)
    data_record: dict[str, Any] = field(default_factory=dict)
    model: Any = None
    unwrapped: Any = None
    trainable: list[Any] = field(default_factory=list)
    optimizer: Any = None
    scheduler: Any = None
    steps_per_epoch: int = 0
    epochs: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    previous_wall: float = 0.0
    tracker: Tracker = field(default_factory=NoTracker)

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    def epoch_loader(self, epoch: int) -> Any:
        from torch.utils.data import DataLoader

        options = self.plan.options
        ordered: Any = _EpochOrder(self.examples, options.seed, epoch)  # a map-style dataset
        collator = TrainCollator(self.tokenizer.pad_token_id, self.plan.model.arch)
        loader: Any = DataLoader(ordered, batch_size=options.batch_size, collate_fn=collator)
        return self.accelerator.prepare_data_loader(loader)


def _execute(
    store: Store,
    plan: Plan,
    output: Path | None,
    resumed: dict[str, Any] | None,
    on_epoch_end: EpochCallback | None,
    log: Log,
    beat: Callable[[Path], None],
) -> dict[str, Any] | None:
    """setup → data → model → resume → record → per epoch: train, evaluate, checkpoint → select."""
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")
    session = _setup(store, plan, output, resumed, log)
    _load_data(session)
    _build_training(session)
    _restore(session)
    _open_record(session, resumed, beat)
    for epoch in range(session.start_epoch + 1, plan.options.epochs + 1):
        trained = _train_epoch(session, epoch)
        prediction_rows, generation_seconds = _evaluate_epoch(session, epoch)
        if session.is_main:
            _record_epoch(session, epoch, trained, prediction_rows, generation_seconds)
        session.accelerator.wait_for_everyone()
        if on_epoch_end is not None and session.is_main:
            on_epoch_end(session.epochs[-1])
    return _select(session)


def _setup(store: Store, plan: Plan, output: Path | None, resumed: dict[str, Any] | None, log: Log) -> _Session:
    """The accelerator (one process or several), the run directory and the epoch to start from."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import broadcast_object_list, set_seed

    session_start = time.perf_counter()
    options = plan.options
    # accelerate only sets up CPU data parallelism (gloo) when asked for the CPU explicitly.
    accelerator = Accelerator(mixed_precision=_mixed_precision(options.precision), cpu=not torch.cuda.is_available())
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:
        raise DatabuildError(f"launched as {launched} processes but accelerate set up {accelerator.num_processes}")
    say: Log = log if accelerator.is_main_process else (lambda _message: None)
    if output is None:
        chosen = [runs.new_run_id(store.runs_dir, plan.version, options.model) if accelerator.is_main_process else None]
        if accelerator.num_processes > 1:
            broadcast_object_list(chosen)
        run_dir = store.runs_dir / str(chosen[0])
    else:
        run_dir = output
    start_epoch = _resume_point(run_dir, len(runs.read_metrics(run_dir)["epochs"])) if resumed else 0
    checkpoint = runs.checkpoint_dir(run_dir, start_epoch) if start_epoch else None
    set_seed(options.seed)
    pack = store.pack(plan.version)
    return _Session(store, plan, accelerator, say, run_dir, start_epoch, checkpoint, session_start, pack)


def _load_data(session: _Session) -> None:
    """Tokenized training examples, the generation budget and the evaluation intents."""
    plan, options = session.plan, session.plan.options
    arch = plan.model.arch
    session.tokenizer = load_tokenizer(session.checkpoint or plan.model.source)
    prompts_train, completions_train, taken = _training_data(session.store, plan)
    chat = options.prompt_format == "version"
    examples, truncated = encode_examples(
        session.tokenizer, arch, prompts_train, completions_train, options.max_source_tokens, chat
    )
    if truncated:
        session.say(
            f"warning: {truncated} of {len(examples)} prompts cut to their last {options.max_source_tokens} tokens"
        )
    longest = longest_completion_tokens(session.tokenizer, arch, prompts_train, completions_train, chat)
    session.examples = examples
    session.generation_tokens = min(options.max_new_tokens, longest + GENERATION_MARGIN_TOKENS)
    session.truth = _eval_truth(session.store, plan.version, options.eval_limit)
    session.eval_intents = session.truth["intent"].to_list()
    session.data_record = {
        **taken,
        "train_examples": len(examples),
        "mean_example_tokens": round(sum(len(e.input_ids) for e in examples) / len(examples), 1),
        "truncated_prompts": truncated,
        "longest_completion_tokens": longest,
        "eval_split": "test",
        "eval_intents": len(session.eval_intents),
    }


def _build_training(session: _Session) -> None:
    """The model (from the checkpoint when resuming), its optimizer and the learning-rate schedule."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    options = session.plan.options
    accelerator = session.accelerator
    model = _build_model(session.plan, accelerator.device, compute_dtype(accelerator.device.type), session.checkpoint)
    session.trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(session.trainable, lr=session.plan.lr, weight_decay=options.weight_decay)
    session.steps_per_epoch = len(session.epoch_loader(1))
    total_steps = session.steps_per_epoch * options.epochs
    warmup = int(options.warmup_ratio * total_steps)
    session.scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    session.model, session.optimizer = accelerator.prepare(model, optimizer)
    session.unwrapped = accelerator.unwrap_model(session.model)


def _restore(session: _Session) -> None:
    """Resuming: the optimizer, schedule and random states of the checkpoint, and the epochs already scored."""
    if session.checkpoint is None:
        return
    import numpy as np
    import torch

    state = torch.load(session.checkpoint / runs.TRAINING_STATE_FILE, map_location="cpu", weights_only=False)
    session.optimizer.load_state_dict(state["optimizer"])
    session.scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["rng"]["python"])
    np.random.set_state(state["rng"]["numpy"])
    torch.set_rng_state(state["rng"]["torch"])
    session.epochs = runs.read_metrics(session.run_dir)["epochs"][: session.start_epoch]
    session.say(f"resuming {session.run_dir} after epoch {session.start_epoch}/{session.plan.options.epochs}")


def _open_record(session: _Session, resumed: dict[str, Any] | None, beat: Callable[[Path], None]) -> None:
    """run.json (status running), the pack beside it, and the experiment tracker."""
    plan, options, accelerator, run_dir = session.plan, session.plan.options, session.accelerator, session.run_dir
    record: dict[str, Any] = dict(resumed or {})
    record.update(
        {
            "run_id": run_dir.name,
            "status": "running",
            "created_at": record.get("created_at") or runs.now_iso(),
            "version": plan.version,
            "fingerprint": plan.fingerprint,
            "store": str(session.store.root.resolve()),
            "model_source": plan.model.source,
            "model_type": plan.model.model_type,
            "arch": plan.model.arch,
            "mode": plan.mode,
            "pack": session.pack.manifest_entry(),
            "options": asdict(options) | {"lr": plan.lr, "lora_target": plan.lora_target},
            "trainable_parameters": sum(p.numel() for p in session.trainable),
            "data": session.data_record | {"steps_per_epoch": session.steps_per_epoch},  # steps per process
            "generation": {"max_new_tokens": session.generation_tokens, "greedy": True},
            "library_versions": runs.library_versions(),
            "device": runs.device_description(accelerator.device, accelerator.num_processes),
            "mixed_precision": accelerator.mixed_precision,
            "epochs_done": session.start_epoch,
            **runs.process_fields(),
        }
    )
    session.record = record
    session.previous_wall = float(record.get("wall_seconds") or 0.0)
    if session.is_main:
        start_step = session.start_epoch * session.steps_per_epoch
        session.tracker = _start_tracking(options.report_to, run_dir, record, start_step)
        record["tracking"] = session.tracker.description
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / PACK_FILE).write_bytes(session.pack.raw)  # the student answers with the version's tools
        runs.write_json(run_dir / runs.RUN_FILE, record)
        beat(run_dir / runs.RUN_FILE)
        session.say(f"training {plan.mode} {plan.model.arch} {options.model} on {plan.version} -> {run_dir}")


def _train_epoch(session: _Session, epoch: int) -> dict[str, Any]:
    """One pass over the shuffled examples: the mean loss, tokens and seconds (summed over the processes)."""
    import torch

    options, accelerator, arch = session.plan.options, session.accelerator, session.plan.model.arch
    session.model.train()
    loader = session.epoch_loader(epoch)
    loss_sum, batches, tokens = 0.0, 0, 0
    started = time.perf_counter()
    bar = Progress(f"epoch {epoch}/{options.epochs}", total=len(loader), unit="steps", enabled=session.is_main)
    for batch in loader:
        with accelerator.autocast():
            loss = session.model(**batch).loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(session.trainable, 1.0)
        session.optimizer.step()
        session.scheduler.step()
        session.optimizer.zero_grad(set_to_none=True)
        step_loss = float(loss.detach())
        loss_sum += step_loss
        batches += 1
        session.tracker.log({"train/step_loss": step_loss}, (epoch - 1) * session.steps_per_epoch + batches)
        tokens += count_tokens(batch, arch)
        bar.update(batches, note=f"loss {loss_sum / batches:.4f}")
    bar.close()
    totals = accelerator.reduce(torch.tensor([loss_sum, batches, tokens], device=accelerator.device), "sum")
    return {
        "loss": float(totals[0] / max(float(totals[1]), 1.0)),
        "tokens": int(totals[2]),
        "seconds": time.perf_counter() - started,
    }


def _evaluate_epoch(session: _Session, epoch: int) -> tuple[list[dict[str, str]], float]:
    """Every process answers its share of the eval intents; the main process gets all the rows."""
    from accelerate.utils import gather_object

    accelerator = session.accelerator
    session.model.eval()
    started = time.perf_counter()
    with (
        accelerator.split_between_processes(session.eval_intents) as my_intents,
        accelerator.autocast(),
        _evaluation_progress(epoch, session.plan.options.epochs, len(my_intents), accelerator) as on_progress,
    ):
        my_rows = _generate_for_eval(
            session.unwrapped,
            session.tokenizer,
            session.plan,
            list(my_intents),
            session.generation_tokens,
            accelerator.device,
            session.pack,
            on_progress.update,
        )
    rows = gather_object(my_rows) if accelerator.num_processes > 1 else my_rows
    accelerator.wait_for_everyone()
    return rows, time.perf_counter() - started


def _record_epoch(
    session: _Session, epoch: int, trained: dict[str, Any], prediction_rows: list[Any], generation_seconds: float
) -> None:
    """Score the epoch, log it, checkpoint it, keep the checkpoints that can still be selected, update the run."""
    import polars as pl

    from databuild.contracts import predictions_schema
    from databuild.evaluation import evaluate

    plan, options, run_dir = session.plan, session.plan.options, session.run_dir
    metrics = None
    if session.eval_intents:
        predictions = pl.DataFrame(prediction_rows, schema=predictions_schema(session.pack))
        metrics = evaluate(session.truth, predictions, plan.version, "test", session.pack)
    seconds = trained["seconds"]
    entry = {
        "epoch": epoch,
        "train_loss": trained["loss"],
        "overall": metrics["subsets"]["all"]["overall"] if metrics else None,
        "invalid_outputs": sum(metrics["invalid_outputs"].values()) if metrics else None,
        "train_seconds": round(seconds, 3),
        "train_tokens": trained["tokens"],
        "train_tokens_per_second": round(trained["tokens"] / seconds, 1) if seconds > 0 else None,
        "generation_seconds": round(generation_seconds, 3),
        "eval_intents": len(session.eval_intents),
        "eval": metrics,
    }
    session.epochs.append(entry)
    session.tracker.log(epoch_scalars(entry), epoch * session.steps_per_epoch)
    _save_checkpoint(run_dir, epoch, session.unwrapped, session.tokenizer, session.optimizer, session.scheduler)
    runs.write_json(
        run_dir / runs.METRICS_FILE,
        {"version": plan.version, "fingerprint": plan.fingerprint, "epochs": session.epochs, "selected_epoch": None},
    )
    overall_so_far = [e["overall"] for e in session.epochs]
    _prune_checkpoints(run_dir, checkpoints_to_keep(overall_so_far, options.epochs, options.select_last), epoch)
    session.record["epochs_done"] = epoch
    session.record["wall_seconds"] = round(session.previous_wall + time.perf_counter() - session.session_start, 3)
    runs.write_json(run_dir / runs.RUN_FILE, session.record)
    overall_text = "n/a" if entry["overall"] is None else f"{entry['overall']:.4f}"
    session.say(
        f"epoch {epoch}/{options.epochs}: train loss {trained['loss']:.4f}, overall {overall_text} "
        f"({seconds:.1f} s training, {generation_seconds:.1f} s generation)"
    )


def _select(session: _Session) -> dict[str, Any] | None:
    """The best overall of the last `select_last` epochs: kept with the last one, recorded; the session closed."""
    import torch

    plan, options, run_dir, epochs = session.plan, session.plan.options, session.run_dir, session.epochs
    selected = select_epoch([e["overall"] for e in epochs], options.select_last) if session.is_main else None
    if session.is_main and selected is not None:
        _prune_checkpoints(run_dir, {selected, options.epochs}, options.epochs)
        runs.write_json(
            run_dir / runs.METRICS_FILE,
            {"version": plan.version, "fingerprint": plan.fingerprint, "epochs": epochs, "selected_epoch": selected},
        )
        session.record.update(
            {
                "status": "complete",
                "finished_at": runs.now_iso(),
                "selected_epoch": selected,
                "selected_checkpoint": str(runs.checkpoint_dir(Path("."), selected)),
                "selected_overall": epochs[selected - 1]["overall"],
                "wall_seconds": round(session.previous_wall + time.perf_counter() - session.session_start, 3),
            }
        )
        runs.write_json(run_dir / runs.RUN_FILE, session.record)
        session.say(f"selected epoch {selected} (best overall of the last {options.select_last}); run in {run_dir}")
    session.tracker.close()
    session.accelerator.wait_for_everyone()
    if session.accelerator.num_processes > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return _summary(run_dir, session.record, epochs, selected) if session.is_main else None
