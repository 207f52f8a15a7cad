"""Chapter 8 (multimodal): openclipart image–title pairs (the Font Awesome icons where it is missing), fusion of two frozen towers, a CLIP-style model."""

CPU = {
    "max_per_category": 250,   # clip-art items kept per category after cleaning (None: all); ~2,100 in all
    "fusion_steps": 500,       # optimizer steps of each fusion model (batch 64, cached features)
    "clip_steps": 1200,        # optimizer steps of the contrastive projection heads (batch 128)
    "clip_hub": None,          # a real CLIP on the hub to compare with (None: not tried)
    "icons": None,             # Font Awesome icons in the out-of-domain test (None: all 1,395)
    "unfreeze_blocks": 0,      # last blocks of each tower trained with the heads (0: frozen towers, cached features)
}
SMOKE = CPU | {"max_per_category": 16, "fusion_steps": 60, "clip_steps": 120, "icons": 96}
GPU = CPU | {"max_per_category": None, "fusion_steps": 1500, "clip_steps": 4000,
             "clip_hub": "openai/clip-vit-base-patch32", "unfreeze_blocks": 2}
