"""The streamkit demo gallery: every recipe in one app.

Run it with ``python -m streamkit.demo`` (needs the ``demo`` extra) and open
http://127.0.0.1:8000. The recipes are small routers under
:mod:`streamkit.demo.recipes`; :func:`create_app` mounts them all, with the
pages, a fake LLM and generated data (a SQLite database, a large file, a
growing log) so that nothing needs a network or an API key.
"""

from streamkit.demo._app import RECIPES, Recipe, create_app

__all__ = ["RECIPES", "Recipe", "create_app"]
