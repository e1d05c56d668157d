"""Entry point of the ``hokusai`` command: the CLI of ``hokusai.cli`` with the Dagster runner.

``hokusai api`` and ``hokusai api-key`` belong to ``hokusai.api.cli``; the served app
gets the Dagster instance's run states from ``hokusai_assets.api_app``.
"""

import sys

from hokusai.cli import main as cli_main

API_COMMANDS = ("api", "api-key")


def _runner_factory(settings, dry_run):
    """A dry run keeps no Dagster history (an in-memory instance) and tags its runs as such."""
    from hokusai_assets.runner import DagsterRunner

    return DagsterRunner(settings, ephemeral=dry_run, dry_run=dry_run)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in API_COMMANDS:
        from hokusai.api.cli import main as api_main

        sys.exit(api_main(sys.argv[1:], app_factory="hokusai_assets.api_app:app"))
    sys.exit(cli_main(runner_factory=_runner_factory))


if __name__ == "__main__":
    main()
