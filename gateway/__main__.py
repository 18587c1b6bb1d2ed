"""`python -m gateway`: serve the gateway with settings from the environment."""

from __future__ import annotations

from gateway.app import create_app
from gateway.config import Settings
from kit import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
