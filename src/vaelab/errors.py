"""The one exception type vaelab raises for bad input; the CLI prints it as a single line."""


class VaelabError(Exception):
    """A problem with the user's input, files or settings, with a message that says what to do."""


class ConfigError(VaelabError):
    """A setting that is out of range or inconsistent with the others."""


class SettingsFileError(ConfigError):
    """A settings file (a run's config.json) that does not hold valid settings: the message
    names the file, and each setting as the file spells it."""
