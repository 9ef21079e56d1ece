"""A StartupProgress for tests: records steps and ends, in one list with the command's output lines."""


class ProgressRecorder:
    def __init__(self, events: list) -> None:
        self.events = events

    def step(self, text: str) -> None:
        self.events.append(("step", text))

    def done(self, ok: bool = True) -> None:
        self.events.append(("done", ok))
