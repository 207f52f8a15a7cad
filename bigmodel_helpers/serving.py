"""A small HTTP inference server for an exported text classifier: validation, a health check, micro-batching.

    python -m bigmodel_helpers.serving --onnx model.onnx --tokenizer DIR --port 8765 --max-batch 32 --max-wait-ms 5

Appendix A starts it as a subprocess (``running_server``), loads it from the notebook and stops it; the test
``tests/test_appA_tools_serving.py`` does the same with a tiny random model.

* FastAPI + uvicorn: the request handlers are ``async``, so one process holds many open requests while the
  model runs in a worker thread. Only ``onnxruntime`` and ``tokenizers`` are imported (no torch), so the server
  starts in about a second.
* ``POST /predict`` with ``{"text": "..."}`` answers ``{"label", "probability", "logits", "batch_size"}``
  (``batch_size``: how many requests shared that forward pass). Every bad request gets a 4xx with a message:
  a body over ``max_body_bytes`` (413), not UTF-8 (400), not JSON (400), not an object with a string ``text``
  (422), empty text (422). ``GET /health`` says the server is up and how it batches.
* ``MicroBatcher``: requests wait in a queue; the first one opens a batch that closes when it holds
  ``max_batch`` requests or ``max_wait_ms`` after it opened, and the whole batch goes through one forward pass.
  ``max_batch=1`` is the baseline: one request per forward pass.
"""


import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

MAX_BODY_BYTES = 100_000   # a review is a few kB; a 1 MB body is refused before it is read in full


class OnnxTextClassifier:
    """An ONNX sequence classifier (inputs ``input_ids``, ``attention_mask``; output logits (B, classes)) with
    its Hugging Face tokenizer (``tokenizer.json``), truncating to ``max_len`` tokens and padding each batch to
    its longest text, as ``AutoTokenizer(..., truncation=True, max_length=max_len, padding=True)`` does."""

    def __init__(self, onnx_path: str | os.PathLike, tokenizer_dir: str | os.PathLike, max_len: int = 128,
                 threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads          # 0: onnxruntime's default (one per core)
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        tokenizer_file = Path(tokenizer_dir) / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise FileNotFoundError(f"{tokenizer_file} not found: save the tokenizer with save_pretrained(DIR).")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        config = json.loads((Path(tokenizer_dir) / "tokenizer_config.json").read_text()) \
            if (Path(tokenizer_dir) / "tokenizer_config.json").is_file() else {}
        pad_token = config.get("pad_token", "[PAD]")
        pad_id = self.tokenizer.token_to_id(pad_token if isinstance(pad_token, str) else "[PAD]") or 0
        self.tokenizer.enable_truncation(max_length=max_len)
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token if isinstance(pad_token, str) else "[PAD]")
        self.max_len = max_len

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(texts))
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}

    def logits(self, texts: list[str]) -> np.ndarray:
        """(len(texts), classes) float32 logits, all texts in one forward pass."""
        return self.session.run(None, self.encode(texts))[0]


class MicroBatcher:
    """Collects requests that arrive close together into one forward pass (dynamic micro-batching).

    ``predict(texts) -> (n, classes) array`` runs in one worker thread, so the event loop keeps accepting
    requests while the model computes; requests that arrive meanwhile form the next batch."""

    def __init__(self, predict, max_batch: int = 32, max_wait_ms: float = 5.0):
        if not (isinstance(max_batch, int) and max_batch >= 1) or max_wait_ms < 0:
            raise ValueError(f"max_batch must be an int >= 1 and max_wait_ms >= 0, got {max_batch!r}, "
                             f"{max_wait_ms!r}.")
        self.predict, self.max_batch, self.max_wait = predict, max_batch, max_wait_ms / 1e3
        self.queue: asyncio.Queue | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.batches = 0

    async def submit(self, text: str):
        """Queue one text; returns ``(logits row, size of the batch it went through)``."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((text, future))
        return await future

    async def run(self) -> None:
        """The batching loop (a background task of the server)."""
        self.queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            texts = [text for text, _ in batch]
            try:
                logits = await loop.run_in_executor(self.executor, self.predict, texts)
            except Exception as error:  # noqa: BLE001 -- a model failure answers 500, the server lives on
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.batches += 1
            for (_, future), row in zip(batch, logits):
                if not future.done():
                    future.set_result((row, len(batch)))


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


async def read_text(request, max_body_bytes: int = MAX_BODY_BYTES) -> str:
    """The ``text`` of a JSON request body, or ``BadRequest`` saying what is wrong with it."""
    declared = request.headers.get("content-length")
    body, size = bytearray(), 0
    async for chunk in request.stream():   # a body over the limit is read to its end but never kept,
        size += len(chunk)                  # so the client gets its 413 instead of a broken connection
        if size <= max_body_bytes:
            body += chunk
    if size > max_body_bytes:
        shown = f"{int(declared):,}" if declared is not None and declared.isdigit() else f"{size:,}"
        raise BadRequest(413, f"request body of {shown} bytes is over the limit of {max_body_bytes:,}")
    try:
        decoded = bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(400, f"request body is not UTF-8 text (byte {error.start})") from None
    try:
        payload = json.loads(decoded)
    except json.JSONDecodeError as error:
        raise BadRequest(400, f"request body is not valid JSON: {error.msg} at character {error.pos}") from None
    if not isinstance(payload, dict) or "text" not in payload:
        raise BadRequest(422, 'expected a JSON object with a "text" field, e.g. {"text": "A fine film."}')
    text = payload["text"]
    if not isinstance(text, str):
        raise BadRequest(422, f'"text" must be a string, got {type(text).__name__}')
    if not text.strip():
        raise BadRequest(422, '"text" is empty')
    return text


def make_app(classifier, max_batch: int = 32, max_wait_ms: float = 5.0, max_body_bytes: int = MAX_BODY_BYTES):
    """The FastAPI application around ``classifier.logits(texts)``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    batcher = MicroBatcher(classifier.logits, max_batch=max_batch, max_wait_ms=max_wait_ms)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(batcher.run())
        yield
        task.cancel()
        batcher.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="appA classifier", lifespan=lifespan)

    @app.get("/health")
    async def health():
        return {"status": "ok", "max_batch": max_batch, "max_wait_ms": max_wait_ms, "batches": batcher.batches}

    @app.post("/predict")
    async def predict(request: Request):
        try:
            text = await read_text(request, max_body_bytes)
        except BadRequest as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        try:
            logits, batch_size = await batcher.submit(text)
        except Exception as error:  # noqa: BLE001
            return JSONResponse({"error": f"the model failed: {type(error).__name__}: {error}"}, status_code=500)
        z = logits.astype(np.float64)
        probabilities = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        label = int(np.argmax(logits))
        return {"label": label, "probability": float(probabilities[label]), "logits": [float(v) for v in logits],
                "batch_size": batch_size}

    return app


# ------------------------------------------------------------------------------------------------ client side
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(onnx_path, tokenizer_dir, max_len: int = 128, max_batch: int = 32, max_wait_ms: float = 5.0,
                   threads: int = 0, startup_timeout_s: float = 30.0):
    """Start the server as a subprocess on 127.0.0.1, wait until ``/health`` answers, yield its base URL, and
    stop it when the block ends -- also when the block raises."""
    import httpx
    port = free_port()
    command = [sys.executable, "-m", "bigmodel_helpers.serving", "--onnx", str(onnx_path), "--tokenizer",
               str(tokenizer_dir), "--max-len", str(max_len), "--max-batch", str(max_batch), "--max-wait-ms",
               str(max_wait_ms), "--threads", str(threads), "--port", str(port)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                       os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode}:\n{process.stderr.read()[-2000:]}")
            try:
                if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer {url}/health within {startup_timeout_s} s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


async def load_test(url: str, texts: list[str], clients: int, requests: int, timeout_s: float = 60.0) -> dict:
    """``requests`` POSTs to ``url/predict`` from ``clients`` concurrent clients (each sends its next request
    when the previous one is answered; text i goes to request i, cycling). Returns per-request latencies
    (seconds, in request order), the answers, and the wall time."""
    import httpx
    latencies, answers = [None] * requests, [None] * requests
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:
        async def one_client():
            for i in counter:
                t0 = time.perf_counter()
                response = await client.post("/predict", json={"text": texts[i % len(texts)]})
                latencies[i] = time.perf_counter() - t0
                response.raise_for_status()
                answers[i] = response.json()
        t0 = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "answers": answers, "wall_s": wall, "requests_per_s": requests / wall}


def load_test_sync(url: str, texts: list[str], clients: int, requests: int, timeout_s: float = 60.0) -> dict:
    """``load_test`` from ordinary code, also inside Jupyter, whose own event loop is already running there
    (the test gets a fresh loop in a helper thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, load_test(url, texts, clients, requests, timeout_s)).result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve an ONNX text classifier on 127.0.0.1.")
    parser.add_argument("--onnx", required=True, help="the exported model (.onnx)")
    parser.add_argument("--tokenizer", required=True, help="folder with tokenizer.json (save_pretrained)")
    parser.add_argument("--max-len", type=int, default=128, help="tokens per text (longer texts are cut)")
    parser.add_argument("--max-batch", type=int, default=32, help="requests per forward pass (1: no batching)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits for more requests")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: one per core)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    import uvicorn
    classifier = OnnxTextClassifier(args.onnx, args.tokenizer, max_len=args.max_len, threads=args.threads)
    app = make_app(classifier, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
