"""The appendix-A inference server: it answers what the model answers, batches concurrent requests, refuses bad
requests with a 4xx and a message, and stops. A tiny randomly initialised BERT keeps it fast (< 30 s)."""

from __future__ import annotations

import asyncio
import json
import time
import warnings

import httpx
import numpy as np
import pytest
import torch

from bigmodel_helpers import serving

MAX_LEN = 32
TEXTS = ["A fine film.", "Dull, long and badly acted; I left early.", "The best thing I saw this year!",
         "It was fine, I suppose, if you like that sort of thing.", "Terrible."]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """(folder with tokenizer + classifier.onnx, the torch model, its tokenizer)."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from bigmodel_helpers import assets
    folder = tmp_path_factory.mktemp("tiny_classifier")
    tokenizer_dir = assets.package_dir(assets.get_asset("encoder")) / "model"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    model = BertForSequenceClassification(config).eval()

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    wrapped = LogitsOnly(model).eval()
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    example = (batch["input_ids"].contiguous(), batch["attention_mask"].contiguous())
    dims = {0: torch.export.Dim("batch", max=256), 1: torch.export.Dim("seq", min=2, max=64)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, example, folder / "classifier.onnx", dynamo=True, verbose=False,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_shapes={"input_ids": dims, "attention_mask": dims})
    return folder, wrapped, tokenizer


def _model_logits(wrapped, tokenizer, texts):
    batch = tokenizer(list(texts), truncation=True, max_length=MAX_LEN, padding=True, return_tensors="pt")
    with torch.no_grad():
        return wrapped(batch["input_ids"], batch["attention_mask"]).numpy()


def test_the_server_tokenizer_matches_transformers(tiny_model):
    folder, wrapped, tokenizer = tiny_model
    classifier = serving.OnnxTextClassifier(folder / "classifier.onnx", folder, max_len=MAX_LEN)
    texts = TEXTS + ["word " * 100]   # one text longer than MAX_LEN: truncated the same way
    ours = classifier.encode(texts)
    theirs = tokenizer(texts, truncation=True, max_length=MAX_LEN, padding=True, return_tensors="np")
    assert np.array_equal(ours["input_ids"], theirs["input_ids"])
    assert np.array_equal(ours["attention_mask"], theirs["attention_mask"])
    np.testing.assert_allclose(classifier.logits(texts), _model_logits(wrapped, tokenizer, texts), atol=1e-5)


def test_micro_batcher_groups_concurrent_requests_and_keeps_their_order():
    seen = []

    def predict(texts):
        seen.append(len(texts))
        time.sleep(0.01)
        return np.array([[float(len(t)), 0.0] for t in texts])

    async def main():
        batcher = serving.MicroBatcher(predict, max_batch=4, max_wait_ms=20)
        task = asyncio.create_task(batcher.run())
        await asyncio.sleep(0)
        texts = ["x" * n for n in range(1, 11)]
        results = await asyncio.gather(*(batcher.submit(t) for t in texts))
        task.cancel()
        return texts, results

    texts, results = asyncio.run(main())
    assert [row[0] for row, _ in results] == [len(t) for t in texts]   # each answer is its own request's
    assert max(seen) == 4 and sum(seen) == 10 and len(seen) == 3      # 4 + 4 + 2: batches filled up to max
    with pytest.raises(ValueError, match="max_batch"):
        serving.MicroBatcher(predict, max_batch=0)


BAD = {
    "empty": (json.dumps({"text": ""}).encode(), 422, "empty"),
    "blank": (json.dumps({"text": " \n "}).encode(), 422, "empty"),
    "1 MB": (json.dumps({"text": "a" * 1_000_000}).encode(), 413, "limit"),
    "not json": (b"text=hello", 400, "JSON"),
    "not utf-8": (b'{"text": "\xff\xfe"}', 400, "UTF-8"),
    "number": (json.dumps({"text": 3}).encode(), 422, "string"),
    "list": (json.dumps({"text": ["a", "b"]}).encode(), 422, "string"),
    "no field": (json.dumps({"review": "x"}).encode(), 422, "text"),
    "array body": (json.dumps(["x"]).encode(), 422, "object"),
}


def test_the_server_answers_like_the_model_refuses_bad_requests_and_stops(tiny_model):
    folder, wrapped, tokenizer = tiny_model
    t0 = time.perf_counter()
    with serving.running_server(folder / "classifier.onnx", folder, max_len=MAX_LEN, max_batch=8,
                                max_wait_ms=20, threads=1) as url:
        assert url.startswith("http://127.0.0.1:")
        health = httpx.get(url + "/health").json()
        assert health["status"] == "ok" and health["max_batch"] == 8
        expected = _model_logits(wrapped, tokenizer, TEXTS)
        for text, row in zip(TEXTS, expected):
            answer = httpx.post(url + "/predict", json={"text": text}).json()
            assert "logits" in answer, answer
            np.testing.assert_allclose(answer["logits"], row, atol=1e-4)
            assert answer["label"] == int(row.argmax()) and answer["batch_size"] == 1
        for name, (body, status, words) in BAD.items():
            response = httpx.post(url + "/predict", content=body, headers={"content-type": "application/json"})
            assert response.status_code == status, (name, response.status_code, response.text)
            assert words in response.json()["error"], (name, response.json())
        assert httpx.get(url + "/nothing-here").status_code == 404
        result = asyncio.run(serving.load_test(url, TEXTS, clients=8, requests=40))
        served = np.array([a["logits"] for a in result["answers"]])
        np.testing.assert_allclose(served, expected[np.arange(40) % len(TEXTS)], atol=1e-4)
        assert max(a["batch_size"] for a in result["answers"]) > 1   # concurrent requests shared forward passes
        assert httpx.get(url + "/health").status_code == 200        # alive after all of that
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/health", timeout=2)
    assert time.perf_counter() - t0 < 30
