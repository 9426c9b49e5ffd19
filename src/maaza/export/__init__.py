"""Deployable exports: merged safetensors folders and GGUF files for llama.cpp (`maaza export`)."""
