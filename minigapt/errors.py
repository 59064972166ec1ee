"""User-facing errors: each carries one line that says what went wrong.

Library code raises these for bad input; the CLI and the notebooks print the message, never a
traceback. Anything else escaping is a bug.
"""


class MinigaptError(Exception):
    """A problem the user can fix, described in one line."""


class SkipSong(MinigaptError):
    """A song that cannot be used; `reason` is the short key it is counted under."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __reduce__(self):  # keep .reason when sent back from a worker process
        return (SkipSong, (self.reason, self.detail))


class UnknownChord(SkipSong):
    def __init__(self, symbol: str):
        self.symbol = symbol
        super().__init__("unknown_chord_symbol", repr(symbol))

    def __reduce__(self):
        return (UnknownChord, (self.symbol,))
