"""What the doctor reports: one finding per check of one component, ok, failed or skipped with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Finding", "Status"]

Status = Literal["ok", "FAIL", "skipped"]


@dataclass(frozen=True)
class Finding:
    """One check of one component; a failure's ``detail`` says what is wrong and how to fix it."""

    status: Status
    plugin: str
    kind: str
    name: str
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        """``STATUS kind 'name' of plugin 'plugin': detail``, the one line the command prints."""
        if self.kind == "plugin":
            return f"{self.status:<7} plugin {self.plugin!r}: {self.detail}"
        return f"{self.status:<7} {self.kind} {self.name!r} of plugin {self.plugin!r}: {self.detail}"
