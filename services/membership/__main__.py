from kit import serve

from .app import create_app
from .config import Settings

settings = Settings()
serve(create_app(settings), settings)
