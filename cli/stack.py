"""CLI commands: stack (being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root command."""

    @app.command()
    def version() -> None:
        """打印版本 (print the version)."""
        typer.echo("shuangbaodao 0.1.0")
