"""Chapter 7 (images): transfer learning on Fashion-MNIST from ImageNet weights, then a VAE, a DDPM and a
DCGAN on MNIST with the same wall-clock budget, scored with one yardstick."""

CPU = {
    # part 1: classification and transfer learning
    "image_size": 64,                   # EfficientNet input side (28x28 images upscaled); 224 costs ~9x the time here
    "pool_per_class": 300,              # training images per class featurised once; learning-curve sets are drawn from them
    "labels_per_class": [10, 50, 200],  # points of the learning curve (labelled images per class)
    "seeds": 3,                         # learning-curve repeats (a different labelled subset and initialisation each)
    "n_val": 500,                       # validation images (carved from the training split) for the choices
    "n_test": 1000,                     # test images, the same for every method
    "ft_steps": 150,                    # optimizer steps fine-tuning EfficientNet's last stage on cached inputs
    "scratch_steps": 150,               # optimizer steps of the small ResNet trained from scratch
    "full_steps": 50,                   # steps of the whole-network methods (EfficientNet fine-tuned / from scratch): 0.28 s each here
    "full_labels_per_class": [10, 200], # curve points of the whole-network methods (fewer than the cheap ones: ~19 s per training here)
    "full_seeds": 3,                    # seeds of the whole-network methods at each of their points
    "timing_batch": 16,                 # images per timed EfficientNet call at each resolution
    # part 2: generation on MNIST
    "clf_steps": 400,                   # steps (batch 128) of the MNIST classifier that is the yardstick
    "gen_seconds": 75,                  # wall-clock training budget of each generator (VAE, DDPM, DCGAN)
    "n_samples": 500,                   # generated images scored per generator (and real images per reference set)
    "ddim_steps": 30,                   # DDIM sampling steps (every DDPM image set: final weights, EMA, guided)
    "ancestral_images": 16,             # images drawn with the full ancestral sampler (T network calls each)
    "iw_k": 64,                         # importance samples per image for the VAE's importance-weighted bound
    "iw_images": 500,                   # test images the VAE's bounds are computed on
    "cfg_seconds": 5,                   # training budget of the conditional DDPM (from the unconditional one; a code-path check here)
    "cfg_images": 20,                   # class-conditioned images drawn per guidance weight (a multiple of 10)
}
SMOKE = CPU | {"image_size": 32, "pool_per_class": 20, "labels_per_class": [5, 20], "seeds": 1, "n_val": 100,
               "n_test": 200, "ft_steps": 20, "scratch_steps": 20, "full_steps": 4, "full_labels_per_class": [20],
               "full_seeds": 1, "timing_batch": 4,
               "clf_steps": 60, "gen_seconds": 2.5, "n_samples": 100, "ddim_steps": 10, "ancestral_images": 4,
               "iw_k": 8, "iw_images": 100, "cfg_seconds": 2}
GPU = CPU | {"image_size": 224, "pool_per_class": 1000, "labels_per_class": [5, 10, 50, 500, 1000],
             "n_val": 5000, "n_test": 10000, "ft_steps": 1000, "scratch_steps": 3000, "full_steps": 1000,
             "full_labels_per_class": [5, 10, 50, 500, 1000], "timing_batch": 64, "clf_steps": 2000,
             "gen_seconds": 1200, "n_samples": 5000,
             "ddim_steps": 100, "ancestral_images": 64, "iw_k": 1000, "iw_images": 2000, "cfg_seconds": 600,
             "cfg_images": 1000}
