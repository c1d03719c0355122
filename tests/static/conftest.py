from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infralab.images import ImagePlan
from infralab.paths import COMPOSE_FILE, REPO_ROOT


@pytest.fixture(scope="session")
def compose_model() -> dict[str, Any]:
    model: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return model


@pytest.fixture(scope="session")
def image_of(lab_images: ImagePlan):  # type: ignore[no-untyped-def]
    """The image this lab uses for a component (official or offline)."""

    def lookup(component: str) -> str:
        image = lab_images.by_component()[component].image
        assert image, f"{component} has no image in this lab"
        return image

    return lookup


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO_ROOT
