"""Dependencies handlers declare by name."""

from __future__ import annotations

from litestar.di import NamedDependency

from web.services import Services

# Handlers take ``services: AppServices``: the process-wide objects built once in create_app().
AppServices = NamedDependency[Services]
