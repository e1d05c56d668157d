"""Registry calls run off the event loop; their errors become problems a client can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from hokusai.api.problems import Problem


async def registry_call(function: Callable[..., Any], *args: Any) -> Any:
    from mlflow.exceptions import MlflowException

    from hokusai.core.registry import ModelNotFoundError, RegistryError, RegistryUnavailableError

    try:
        return await run_in_threadpool(function, *args)
    except ModelNotFoundError as error:
        raise Problem(404, str(error), slug="model-not-found") from None
    except RegistryUnavailableError:
        raise Problem(503, "the model registry is unreachable; retry shortly", slug="registry-unavailable",
                      headers={"Retry-After": "10"}) from None
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise Problem(404, error.message, slug="model-not-found") from None
        if error.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"):
            raise Problem(400, error.message, slug="invalid-model") from None
        raise
    except (ValueError, RegistryError) as error:
        raise Problem(400, str(error), slug="invalid-model") from None
