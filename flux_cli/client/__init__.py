"""The Flux client: a Sans-I/O protocol core, the WebSocket shell around it, its events."""
