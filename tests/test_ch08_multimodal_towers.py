"""Chapter 8's tower helpers: unfreezing the last blocks, end-to-end towers + heads, a real CLIP's zero-shot
scoring (on tiny randomly initialised models: the code path is tested, not the weights)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bigmodel_helpers import multimodal

transformers = pytest.importorskip("transformers")


def tiny_bert(layers=3):
    cfg = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=32)
    return transformers.BertModel(cfg)


def tiny_efficientnet():
    timm = pytest.importorskip("timm")
    return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)


def test_unfreezing_n_blocks_of_a_tiny_bert_leaves_exactly_those_trainable():
    model = tiny_bert(3)
    names = multimodal.unfreeze_last_blocks(model, 2)
    assert names and all(n.startswith(("encoder.layer.1.", "encoder.layer.2.")) for n in names)
    expected = {n for n, _ in model.named_parameters() if n.startswith(("encoder.layer.1.", "encoder.layer.2."))}
    assert set(names) == expected
    assert multimodal.unfreeze_last_blocks(model, 0) == []
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError):
        multimodal.unfreeze_last_blocks(model, 4)
    with pytest.raises(TypeError):
        multimodal.tower_blocks(nn.Linear(2, 2))


def test_unfreezing_the_efficientnet_counts_blocks_across_its_stages():
    model = tiny_efficientnet()
    assert len(multimodal.tower_blocks(model)) == 16      # stages of 1, 2, 2, 3, 3, 4, 1 blocks
    names = multimodal.unfreeze_last_blocks(model, 2)
    assert {n.split(".")[1] + "." + n.split(".")[2] for n in names} == {"6.0", "5.3"}


class Heads(nn.Module):
    def __init__(self, d_img, d_txt, d=8):
        super().__init__()
        self.img, self.txt = nn.Linear(d_img, d), nn.Linear(d_txt, d)

    def forward(self, img, txt):
        return F.normalize(self.img(img), dim=-1), F.normalize(self.txt(txt), dim=-1), torch.tensor(10.0)


def test_tower_clip_trains_only_the_unfrozen_blocks_and_the_heads():
    image_model, text_model = tiny_efficientnet(), tiny_bert(2)
    multimodal.unfreeze_last_blocks(image_model, 1)
    multimodal.unfreeze_last_blocks(text_model, 1)
    heads = Heads(1280, 16)
    stats = {"img_mean": torch.zeros(1280), "img_std": torch.ones(1280), "txt_mean": torch.zeros(16),
             "txt_std": torch.ones(16)}
    model = multimodal.TowerCLIP(image_model, text_model, heads, lambda m, x: m(x), stats, input_size=64).train()
    assert model.heads.training and not model.image_model.training and not model.text_model.training
    pixels = torch.randint(0, 256, (4, 40, 40, 3), dtype=torch.uint8)
    ids = torch.randint(5, 40, (4, 6))
    u, v, scale = model(pixels, ids, torch.ones(4, 6, dtype=torch.long))
    assert u.shape == v.shape == (4, 8)
    logits = scale * u @ v.T
    (F.cross_entropy(logits, torch.arange(4)) + F.cross_entropy(logits.T, torch.arange(4))).backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any(n.startswith("heads.") for n in with_grad)
    assert any(n.startswith("image_model.blocks.6.0.") for n in with_grad)
    assert any(n.startswith("text_model.encoder.layer.1.") for n in with_grad)
    allowed = ("heads.", "image_model.blocks.6.0.", "text_model.encoder.layer.1.")
    assert all(n.startswith(allowed) for n in with_grad), sorted(n for n in with_grad if not n.startswith(allowed))


@pytest.fixture
def tiny_clip(tmp_path):
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "drawing", "of", "an", "icon", "cat", "dog", "car"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = transformers.BertTokenizer(str(tmp_path / "vocab.txt"))
    cfg = transformers.CLIPConfig(
        text_config={"vocab_size": len(words), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "pad_token_id": 0, "bos_token_id": 2,
                     "eos_token_id": 3},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8}, projection_dim=8)
    torch.manual_seed(0)
    model = transformers.CLIPModel(cfg).eval()
    image_processor = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return model, tokenizer, image_processor


def test_clip_zero_shot_agrees_with_the_models_own_logits(tiny_clip):
    model, tokenizer, image_processor = tiny_clip
    images = np.random.default_rng(0).integers(0, 256, (7, 24, 24, 3), dtype=np.uint8)
    names = ["cat", "dog", "car"]
    pred = multimodal.clip_zero_shot(model, tokenizer, image_processor, images, names, "a drawing of a {}", batch=3)
    inputs = tokenizer([f"a drawing of a {n}" for n in names], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**inputs, pixel_values=image_processor(images=list(images), return_tensors="pt")["pixel_values"])
    assert pred.shape == (7,) and np.array_equal(pred, out.logits_per_image.argmax(1).numpy())
    # an ensemble of templates: the mean of the normalised prompt embeddings per class
    templates = ["a drawing of a {}", "an icon of a {}"]
    both = multimodal.clip_zero_shot(model, tokenizer, image_processor, images, names, templates)
    with torch.no_grad():
        t = torch.stack([F.normalize(F.normalize(multimodal._embedding(model.get_text_features(
            **tokenizer([tp.format(n) for tp in templates], return_tensors="pt", padding=True))), dim=-1).mean(0), dim=-1)
            for n in names])
        u = F.normalize(out.image_embeds, dim=-1)
    assert np.array_equal(both, (u @ t.T).argmax(1).numpy())
