"""The registry's errors, at the bottom of ``hokusai.core``: every layer raises them, none imports upward."""


class RegistryError(RuntimeError):
    """A registry operation failed in a way the caller should report, not retry blindly."""


class RegistryUnavailableError(RegistryError, ConnectionError):
    """The MLflow tracking server did not answer (down, restarting, wrong URI)."""


class ModelNotFoundError(RegistryError, LookupError):
    """The model, version or run named does not exist at this tracking URI."""
