"""Where portal-archive keeps its state.

Everything lives in one data directory (``--data-dir`` or ``PORTAL_ARCHIVE_DATA``, default
under the user's data directory): the SQLite database, the Whoosh index, raw responses and
attachments. The database URL can be overridden with ``--db`` / ``PORTAL_ARCHIVE_DB``.
Precedence: command-line option > environment > default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

ENV_DATA = "PORTAL_ARCHIVE_DATA"
ENV_DB = "PORTAL_ARCHIVE_DB"
ENV_PORTALS = "PORTAL_ARCHIVE_PORTALS"
ENV_ALLOW_PRIVATE = "PORTAL_ARCHIVE_ALLOW_PRIVATE"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("portal-archive", appauthor=False))


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    """Resolved locations of the archive's state."""

    data_dir: Path
    db_url: str

    @classmethod
    def resolve(
        cls, data_dir: str | os.PathLike[str] | None = None, db: str | None = None
    ) -> Config:
        root = Path(data_dir or os.environ.get(ENV_DATA) or default_data_dir()).expanduser()
        root = root.resolve()
        url = db or os.environ.get(ENV_DB) or f"sqlite:///{root / 'archive.sqlite3'}"
        return cls(data_dir=root, db_url=url)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    def ensure(self) -> Config:
        for d in (self.data_dir, self.index_dir, self.raw_dir, self.attachments_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
