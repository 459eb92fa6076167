"""Train stage: SFT data, trainer (transformers + peft + bitsandbytes), epoch selection, run records."""
