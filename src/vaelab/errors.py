"""The one exception type vaelab raises for bad input; the CLI prints it as a single line."""


class VaelabError(Exception):
    """A problem with the user's input, files or settings, with a message that says what to do."""


class ConfigError(VaelabError):
    """A setting that is out of range or inconsistent with the others."""
