"""The embedded default: small real Qwen2.5-Coder GGUF models run on the CPU by llama.cpp."""
