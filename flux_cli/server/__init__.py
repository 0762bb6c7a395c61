"""The local Flux-compatible engine: a websockets server over VAD, Whisper and Smart Turn.

Heavy dependencies (onnxruntime, ctranslate2, faster-whisper, websockets) are imported
lazily by the modules that need them, so ``import flux_cli.server`` stays cheap.
"""
