"""The `openai` generator: similar intents from any OpenAI-compatible chat endpoint (the API, vLLM, Ollama,
llama.cpp server), through the official async client.

- At most `concurrency` requests in flight (one semaphore around each HTTP attempt; backoff sleeps hold no slot).
- `tenacity` retries rate limits (429), timeouts, connection errors, 408/409 and 5xx with exponential backoff and
  jitter, waiting what a `Retry-After` / `retry-after-ms` header asks instead when there is one. The client's own
  retries are off (`max_retries=0`) so that one policy, and one count of attempts, holds.
  A `Retry-After` that is neither a number of seconds nor an HTTP date is ignored: the backoff applies.
- 401 and 403 (the endpoint refuses the key) stop the run: no new request starts after the first one (those in
  flight may finish), and the run ends with one `Error:` line naming the endpoint (without secrets), the status,
  the server's message and `OPENAI_API_KEY` (`KeyRefused`).
- A malformed body or another 4xx is not retried: the request counts as failed, the run goes on. So does a reply
  that is not usable (`augment.cache.checked_response`: no choices, a content that is not a string, a usage that is
  not a whole non-negative number): it counts as failed (`UnusableResponse`) and is never cached.
- Every usable response goes to the `ResponseCache` before the next await, so a killed run resumes for free.
- The API key comes from `OPENAI_API_KEY` only and is handed to the client, never to the cache or a manifest.

Estimated cost uses `PRICES_USD_PER_MILLION_TOKENS` (input, output), OpenAI's list prices per 1 M tokens when this
was written; a model matches its longest listed prefix (`gpt-4o-2024-08-06` → `gpt-4o`). Other models (local
servers) have no price: the cost is reported as unknown (null), the token counts are still exact from `usage`.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import math
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from augment.cache import CachedResponse, ResponseCache, UnusableResponse, checked_response, request_key
from augment.candidates import CallAccounting, Candidate, Generation
from augment.prompt import parse_reply, render_messages
from databuild.errors import DatabuildError
from databuild.pack import ToolPack

PRICES_USD_PER_MILLION_TOKENS: dict[str, tuple[float, float]] = {
    "gpt-4": (30.0, 60.0),
    "gpt-4-32k": (60.0, 120.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}
API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
# Sent to keyless local servers (vLLM, Ollama, llama.cpp) that ignore it; the client insists on some key.
KEYLESS_PLACEHOLDER = "no-key"
TEMPERATURE = 1.0
MAX_TOKENS = 64
MAX_RETRY_AFTER_SECONDS = 120.0
RETRYABLE_STATUS = frozenset({408, 409, 429})


def price_for(model: str) -> tuple[float, float] | None:
    matches = [name for name in PRICES_USD_PER_MILLION_TOKENS if model == name or model.startswith(name + "-")]
    return PRICES_USD_PER_MILLION_TOKENS[max(matches, key=len)] if matches else None


def estimated_cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    price = price_for(model)
    if price is None:
        return None
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000, 6)


@dataclass(frozen=True)
class Endpoint:
    """Where requests go. `api_key` lives in memory only (repr hides it)."""

    model: str
    base_url: str | None
    api_key: str = field(repr=False)
    timeout: float = 60.0
    concurrency: int = 16
    max_retries: int = 6
    backoff_initial: float = 1.0
    backoff_max: float = 60.0


def configured_base_url(base_url: str | None) -> str | None:
    return base_url or os.environ.get(BASE_URL_ENV) or None


def endpoint_is_configured(base_url: str | None) -> bool:
    return bool(os.environ.get(API_KEY_ENV) or configured_base_url(base_url))


def endpoint_from_environment(model: str, base_url: str | None, **settings: Any) -> Endpoint:
    """The endpoint from `--base-url`/`OPENAI_BASE_URL` and `OPENAI_API_KEY`; a clear error when neither is set."""
    url = configured_base_url(base_url)
    key = os.environ.get(API_KEY_ENV)
    if not key and not url:
        raise DatabuildError(
            f"--generator openai needs an endpoint: set {API_KEY_ENV} (and {BASE_URL_ENV} or --base-url for a "
            "compatible server), or use --generator neighbors to propose logged intents offline"
        )
    check_base_url(url, "--base-url" if base_url else BASE_URL_ENV)
    return Endpoint(model=model, base_url=url, api_key=key or KEYLESS_PLACEHOLDER, **settings)


def check_base_url(url: str | None, source: str = "--base-url") -> None:
    """An http(s) URL with a host and a valid port, checked before any work (the URL itself is never echoed: it
    may hold a key)."""
    if not url:
        return
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DatabuildError(f"{source} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise DatabuildError(f"{source} must start with http:// or https://")
    if not parts.hostname:
        raise DatabuildError(f"{source} names no host")
    if port == 0:
        raise DatabuildError(f"{source} has port 0 (a port is 1 to 65535)")


@dataclass(frozen=True)
class LLMRequest:
    key: str
    messages: list[dict[str, str]]
    sampling: dict[str, Any]


def _seconds(text: str, scale: float = 1.0) -> float | None:
    """A non-negative finite number of seconds, or None for anything else ("soon", "nan", "-1", "1e400")."""
    try:
        value = float(text) * scale
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _retry_after_seconds(exc: BaseException) -> float | None:
    """What `retry-after-ms` or `Retry-After` (seconds or an HTTP date) asks; None (use the backoff) otherwise."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds and (asked := _seconds(milliseconds, 1 / 1000)) is not None:
        return asked
    value = headers.get("retry-after")
    if not value:
        return None
    asked = _seconds(value)
    if asked is not None:
        return asked
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC with no claim about the local zone
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - time.time())


def is_retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return False


def _wait_strategy(endpoint: Endpoint) -> Any:
    from tenacity import wait_exponential_jitter

    backoff = wait_exponential_jitter(initial=endpoint.backoff_initial, max=endpoint.backoff_max, jitter=1.0)

    def wait(retry_state: Any) -> float:
        outcome = retry_state.outcome
        asked = _retry_after_seconds(outcome.exception()) if outcome is not None else None
        if asked is not None:
            # The server said when; a little jitter keeps concurrent retries from arriving together.
            return min(asked, MAX_RETRY_AFTER_SECONDS) + random.uniform(0, 0.1)
        return float(backoff(retry_state))

    return wait


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnusableResponse):
        return f"{type(exc).__name__} ({exc})"
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")


def _usable(completion: Any) -> CachedResponse:
    """The reply as the cache keeps it, or UnusableResponse (no choices, non-string content, unreadable usage)."""
    choices = getattr(completion, "choices", None)
    texts = [getattr(getattr(choice, "message", None), "content", None) for choice in choices or ()]
    usage = getattr(completion, "usage", None)
    return checked_response(texts, getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))


class KeyRefused(Exception):
    """A request not started because the endpoint already refused the key (401 or 403)."""


def _refusal(endpoint: Endpoint, exc: Any) -> DatabuildError:
    """The one line for a 401/403: the endpoint without secrets, the status, the server's message, the key's source."""
    from augment.loop import redact_url

    body = getattr(exc, "body", None)
    said = body.get("message") if isinstance(body, dict) else body
    message = " ".join(str(said or getattr(exc, "message", "") or "no message").split())[:300]
    where = redact_url(endpoint.base_url) or "https://api.openai.com/v1 (the default)"
    key = (
        f"the key comes from the environment variable {API_KEY_ENV}: check it"
        if endpoint.api_key != KEYLESS_PLACEHOLDER
        else f"no key was sent: set the environment variable {API_KEY_ENV}"
    )
    status = exc.status_code
    return DatabuildError(
        f"the endpoint {where} refused the request with HTTP {status} ({message}); {key}. "
        "The run stopped: no further request was sent"
    )


async def _complete_all(
    requests: Sequence[LLMRequest],
    cache: ResponseCache,
    endpoint: Endpoint,
    accounting: CallAccounting,
    on_done: Callable[[], None] | None,
) -> dict[str, CachedResponse]:
    """Answer every request: from the cache, else from the endpoint (at most `endpoint.concurrency` in flight,
    each retried by the one policy); a request that still fails is counted in `accounting`, not raised."""
    import openai

    answers, pending = _cached_answers(requests, cache, accounting, on_done)
    if not pending:
        return answers
    client = openai.AsyncOpenAI(
        api_key=endpoint.api_key, base_url=endpoint.base_url, timeout=endpoint.timeout, max_retries=0
    )
    semaphore = asyncio.Semaphore(endpoint.concurrency)
    refused: list[Any] = []  # the first 401/403: after it, no request starts

    async def one(request: LLMRequest) -> None:
        try:
            response = _usable(await _create_with_retries(client, semaphore, endpoint, request, accounting, refused))
            cache.put(request.key, endpoint.model, response)
            answers[request.key] = response
            accounting.prompt_tokens += response.prompt_tokens
            accounting.completion_tokens += response.completion_tokens
        except KeyRefused:
            pass
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            refused.append(exc)
        except (openai.OpenAIError, ValueError, AttributeError, TypeError) as exc:
            # ValueError: a body that is not JSON, or an UnusableResponse; Attribute/TypeError: JSON without the
            # fields of a completion.
            accounting.failed += 1
            accounting.failures[type(exc).__name__] += 1
            accounting.first_failure = accounting.first_failure or _describe(exc)
        finally:
            if on_done:
                on_done()

    try:
        await asyncio.gather(*(one(request) for request in pending))
    finally:
        await client.close()
    if refused:
        raise _refusal(endpoint, refused[0])
    return answers


def _cached_answers(
    requests: Sequence[LLMRequest],
    cache: ResponseCache,
    accounting: CallAccounting,
    on_done: Callable[[], None] | None,
) -> tuple[dict[str, CachedResponse], list[LLMRequest]]:
    """The answers the cache already holds (each counted as cached and done), and the requests still to send."""
    answers: dict[str, CachedResponse] = {}
    pending: list[LLMRequest] = []
    for request in requests:
        hit = cache.get(request.key)
        if hit is not None:
            answers[request.key] = hit
            accounting.cached += 1
            if on_done:
                on_done()
        else:
            pending.append(request)
    return answers, pending


async def _create_with_retries(
    client: Any,
    semaphore: asyncio.Semaphore,
    endpoint: Endpoint,
    request: LLMRequest,
    accounting: CallAccounting,
    refused: list[Any],
) -> Any:
    """One chat completion, retried on rate limits, timeouts and 5xx (`is_retryable`) with the endpoint's waits;
    each attempt holds a place of the semaphore while in flight, and none starts once the key was `refused`."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(endpoint.max_retries + 1),
        wait=_wait_strategy(endpoint),
        retry=retry_if_exception(is_retryable),
        reraise=True,
    ):
        with attempt:
            async with semaphore:
                if refused:
                    raise KeyRefused
                if attempt.retry_state.attempt_number == 1:
                    accounting.made += 1
                accounting.attempts += 1
                completion = await client.chat.completions.create(
                    model=endpoint.model,
                    messages=request.messages,
                    **request.sampling,
                )
    return completion


def complete_all(
    requests: Sequence[LLMRequest],
    cache: ResponseCache,
    endpoint: Endpoint,
    on_done: Callable[[], None] | None = None,
) -> tuple[dict[str, CachedResponse], CallAccounting]:
    """Answer every request from the cache or the endpoint; failed ones are absent from the answers."""
    accounting = CallAccounting()
    answers = asyncio.run(_complete_all(requests, cache, endpoint, accounting, on_done))
    return answers, accounting


class OpenAIGenerator:
    """Asks the endpoint for `per_mistake` similar requests per mistaken intent (k requests, keys differ by seed)."""

    name = "openai"

    def __init__(self, endpoint: Endpoint, cache: ResponseCache, seed: int = 0, pack: ToolPack | None = None) -> None:
        self.endpoint = endpoint
        self.model: str | None = endpoint.model
        self.cache = cache
        self.seed = seed
        self.pack = pack

    def exclusive(self, note: Callable[[str], None]) -> Any:
        """The store's sender lock (`ResponseCache.exclusive`): hold it while proposing."""
        return self.cache.exclusive(note)

    def requests_for(self, sources: Sequence[str], per_mistake: int, ordinal_offset: int = 0) -> list[LLMRequest]:
        """One request per (source, j); `ordinal_offset` shifts the seed per iteration so that a later iteration
        asks for new candidates instead of re-reading the earlier answers."""
        out: list[LLMRequest] = []
        for source in sources:
            messages = render_messages(source, self.pack)
            for j in range(per_mistake):
                sampling = {
                    "temperature": TEMPERATURE,
                    "max_tokens": MAX_TOKENS,
                    "seed": self.seed + ordinal_offset + j,
                }
                out.append(LLMRequest(request_key(self.endpoint.model, messages, sampling), messages, sampling))
        return out

    def propose(
        self,
        sources: Sequence[str],
        per_mistake: int,
        ordinal_offset: int = 0,
        on_done: Callable[[], None] | None = None,
    ) -> Generation:
        requests = self.requests_for(sources, per_mistake, ordinal_offset)
        answers, accounting = complete_all(requests, self.cache, self.endpoint, on_done)
        candidates: list[Candidate] = []
        for index, request in enumerate(requests):
            answer = answers.get(request.key)
            if answer is None:
                continue
            source = sources[index // per_mistake]
            for text in answer.texts:
                candidates.append(Candidate(source_intent=source, text=parse_reply(text), n_calls=0))
        return Generation(candidates, accounting, requested=len(requests))
