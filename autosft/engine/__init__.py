"""The torch training engine: adaptation (freeze, gradual unfreezing, LoRA), data, optimizer, loop.

Imported only when a trial runs, so the CLI never pays for torch at start-up.
"""
