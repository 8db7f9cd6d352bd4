"""Persistence: every SQL statement the bot runs, by aggregate, and the database's migrations.

Services depend on the narrow protocol they use (`JobStore`, `GuildStore`, `MemberStore`,
`ReportStore`, `MetaStore`); the composition root opens a `SqlStore`, which is all of them.
"""

from bot.storage.database import DatabaseUnusableError
from bot.storage.protocols import (
    Decision,
    GuildStore,
    Hints,
    JobStore,
    MemberStore,
    MetaStore,
    ReportStore,
    Store,
)

__all__ = [
    "DatabaseUnusableError",
    "Decision",
    "GuildStore",
    "Hints",
    "JobStore",
    "MemberStore",
    "MetaStore",
    "ReportStore",
    "Store",
]
