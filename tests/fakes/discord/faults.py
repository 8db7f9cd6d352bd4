"""Injected failures: the next N matching requests (``fail_next``, 429s included) and a
random share of channel and webhook requests (``random_fault_rate``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.discord.http import json_response


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int


class Faults:
    """Fault injection (a part of ``FakeDiscord``)."""

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: dict[str, Any] | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``.

        ``path_regex`` must match the whole path without ``/api/v10``; ``method`` may be "*".
        A 429 gets ``Via: 1.1 google`` and a rate-limit body unless given.
        """
        hdrs = dict(headers or {})
        if status == 429:
            hdrs.setdefault("Via", "1.1 google")
            body = body or {
                "message": "You are being rate limited.",
                "retry_after": 0.05,
                "global": False,
            }
        self._faults.append(
            Fault(
                method=method.upper(),
                pattern=re.compile(path_regex),
                status=status,
                body=body if body is not None else {"code": 0, "message": f"{status}: injected"},
                headers=hdrs,
                remaining=times,
            )
        )

    def _injected_fault(self, method: str, path: str) -> web.Response | None:
        if (
            self.random_fault_rate > 0
            and self.random_fault_paths.fullmatch(path)
            and self.random.random() < self.random_fault_rate
        ):
            status = self.random.choice(self.random_fault_statuses)
            return json_response({"code": 0, "message": f"{status}: injected"}, status=status)
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.fullmatch(path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return json_response(fault.body, status=fault.status, headers=fault.headers)
        return None
