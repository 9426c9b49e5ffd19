"""Training recipes: LoRA / full fine-tuning with checkpoints, resume, logs and multi-process runs."""
