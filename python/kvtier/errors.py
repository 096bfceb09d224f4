"""kvtier.Error: a failed call, with the C API's code and message."""

OK, INVALID_ARGUMENT, NOT_SUPPORTED, NOT_FOUND = 0, 1, 2, 3
RESOURCE_EXHAUSTED, UNAVAILABLE, IO_ERROR, CORRUPTION, INTERNAL = 4, 5, 6, 7, 8
CODE_NAMES = {OK: "OK", INVALID_ARGUMENT: "INVALID_ARGUMENT",
              NOT_SUPPORTED: "NOT_SUPPORTED", NOT_FOUND: "NOT_FOUND",
              RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED", UNAVAILABLE: "UNAVAILABLE",
              IO_ERROR: "IO_ERROR", CORRUPTION: "CORRUPTION", INTERNAL: "INTERNAL"}


class Error(Exception):
    """A kvtier call failed. `code` says what to do (kvtier/status.h); the
    message names the offending field, e.g. "options.host_codec: ..."."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.code_name = CODE_NAMES.get(code, str(code))
        self.message = message

    @property
    def retryable(self):
        return self.code in (RESOURCE_EXHAUSTED, UNAVAILABLE)
