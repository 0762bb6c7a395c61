"""The ``flux transcribe`` command: settings, shared set-up, and the three runners."""
