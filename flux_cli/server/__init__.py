"""The service around the turn engine: ``/v2/listen`` over websockets, endpoints, workers.

Heavy dependencies (onnxruntime, ctranslate2, faster-whisper, websockets) are imported
lazily by the modules that need them, so ``import flux_cli.server`` stays cheap.
"""
