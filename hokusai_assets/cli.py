"""Entry point of the ``hokusai`` command: the CLI of ``hokusai.cli`` with the Dagster runner."""

import sys

from hokusai.cli import main as cli_main


def _runner_factory(settings, dry_run):
    """A dry run keeps no Dagster history (an in-memory instance) and tags its runs as such."""
    from hokusai_assets.runner import DagsterRunner

    return DagsterRunner(settings, ephemeral=dry_run, dry_run=dry_run)


def main() -> None:
    sys.exit(cli_main(runner_factory=_runner_factory))


if __name__ == "__main__":
    main()
