"""A trained run as a student: `TrainedStudent(run_dir).predict(intents)` (the `databuild.students.Student` protocol).

It loads the run's selected checkpoint (a full model, or LoRA adapters on the run's base model, 4-bit again when the
run trained QLoRA; LoRA adapters on a full-precision base are merged into it) and answers with batched greedy
generation, `max_new_tokens` fitted to the longest training completion, with a static KV cache (compiled decoding)
on a GPU. A request is one intent with its tool prompts (three for the colour pack), as the paper times it;
requests are batched `requests_per_batch` at a time and each request's latency is the wall time of the batch that
answered it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.pack import stored_pack
from databuild.store import PACK_FILE
from train import runs


class TrainedStudent:
    def __init__(
        self,
        run_dir: Path | str,
        requests_per_batch: int | None = None,
        device: str | None = None,
        static_cache: bool | None = None,
    ) -> None:
        import torch

        from train.modeling import compute_dtype, load_adapter, load_base_model, load_tokenizer

        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise DatabuildError(f"student not found: no run directory {self.run_dir}")
        record = runs.read_run(self.run_dir)
        selected = record.get("selected_epoch")
        if selected is None:
            raise DatabuildError(
                f"run {self.run_dir} has no selected checkpoint yet (status {record.get('status')}); "
                "finish it with `databuild train --resume`"
            )
        checkpoint = runs.checkpoint_dir(self.run_dir, int(selected))
        if not checkpoint.is_dir():
            raise DatabuildError(f"run {self.run_dir} lacks its selected checkpoint {checkpoint}")
        options = record["options"]
        self.name = f"run:{record.get('run_id', self.run_dir.name)}"
        self.version = record.get("version")
        self.pack = stored_pack(self.run_dir / PACK_FILE, (record.get("pack") or {}).get("name"))
        self.arch: str = record["arch"]
        self.max_new_tokens: int = int(record["generation"]["max_new_tokens"])
        self.max_source_tokens: int = int(options["max_source_tokens"])
        self.prompt_format: str = options.get("prompt_format", "version")
        self.requests_per_batch = requests_per_batch or max(1, int(options["batch_size"]) // len(self.pack.tools))
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = compute_dtype(self.device.type)
        self.tokenizer = load_tokenizer(checkpoint)
        if options.get("lora"):
            base = load_base_model(
                record["model_source"], self.arch, bool(options.get("load_in_4bit")), self.device, dtype
            )
            self.model: Any = load_adapter(base, checkpoint, trainable=False)
            if not options.get("load_in_4bit"):
                # folded into the base weights: the same function, without the adapters' extra kernels per token
                self.model = self.model.merge_and_unload()
        else:
            self.model = load_base_model(checkpoint, self.arch, False, self.device, dtype)
        if not options.get("load_in_4bit"):
            self.model.to(self.device)
        self.model.eval()
        # A static KV cache lets transformers compile decoding on a GPU (bench/train_gpu.py: FlanT5-base 11.7 ->
        # 2.3 ms per new token on an H100); 4-bit layers stay eager, as bitsandbytes may not compile.
        self.static_cache = (
            static_cache if static_cache is not None else self.device.type == "cuda" and not options.get("load_in_4bit")
        )
        self.last_latency_seconds: float | None = None
        self.last_request_latencies: list[float] = []
        if self.static_cache:  # compile the usual batch shape now, so that no request's latency includes it
            self.predict([f"warm-up {i}" for i in range(self.requests_per_batch)])

    def predict(self, intents: list[str], on_progress: Callable[[int], None] | None = None) -> list[dict[str, str]]:
        """Per intent, `{tool: completion text}` for every tool of the run's pack; sets the latency attributes.

        `on_progress` is told after each batch of requests how many intents are answered.
        """
        from train.modeling import predict_intents

        answers: list[dict[str, str]] = []
        latencies: list[float] = []
        for start in range(0, len(intents), self.requests_per_batch):
            batch = intents[start : start + self.requests_per_batch]
            started = time.perf_counter()
            rows = predict_intents(
                self.model,
                self.tokenizer,
                self.arch,
                batch,
                max_new_tokens=self.max_new_tokens,
                max_source_tokens=self.max_source_tokens,
                batch_size=len(self.pack.tools) * len(batch),
                device=self.device,
                static_cache=self.static_cache,
                pack=self.pack,
                prompt_format=self.prompt_format,
            )
            elapsed = time.perf_counter() - started
            latencies.extend([elapsed] * len(batch))
            answers.extend({k: v for k, v in row.items() if k != "intent"} for row in rows)
            if on_progress is not None:
                on_progress(len(answers))
        self.last_request_latencies = latencies
        self.last_latency_seconds = sum(latencies) / len(latencies) if latencies else None
        return answers
