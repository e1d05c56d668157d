"""Entry point of the ``hokusai`` command: the CLI of ``hokusai.cli`` with the Dagster runner."""

import sys

from hokusai.cli import main as cli_main


def _runner_factory(settings, ephemeral):
    from hokusai_assets.runner import DagsterRunner

    return DagsterRunner(settings, ephemeral=ephemeral)


def main() -> None:
    sys.exit(cli_main(runner_factory=_runner_factory))


if __name__ == "__main__":
    main()
