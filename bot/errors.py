"""Exceptions shared by the services and the Discord edge."""

from __future__ import annotations

from bot.i18n.text import Text


class UserError(Exception):
    """A problem the user can fix; `user_message` is shown to them (ephemerally, in their
    language)."""

    def __init__(self, user_message: Text) -> None:
        super().__init__(user_message.key)
        self.user_message = user_message


class ApiError(Exception):
    """The video API could not do what was asked."""

    #: True when the request certainly did not create anything upstream, so it may be re-sent.
    certainly_not_processed: bool = True


class ApiAuthError(ApiError):
    """The API rejected our key (401/403): a configuration error, not the user's fault."""


class ApiRejectedError(ApiError):
    """The API refused the request as invalid (4xx other than auth and rate limits)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ModelUnavailableError(ApiRejectedError):
    """The generate route called the model unknown or unavailable (a 404, or an error naming
    the model as such): retired upstream, say. Nothing was made or charged."""

    def __init__(self, model_id: str, status: int, message: str) -> None:
        super().__init__(status, message)
        self.model_id = model_id


class ApiUnavailableError(ApiError):
    """The API kept answering 429/5xx or could not be reached, after all retries."""


class ApiProtocolError(ApiError):
    """The API answered something that does not match its documented contract."""


class SubmitOutcomeUnknownError(ApiError):
    """A submit was sent but no answer came back: it may or may not have created a prediction."""

    certainly_not_processed = False


class DownloadError(Exception):
    """A clip could not be downloaded safely; `retryable` is True for transient network faults."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable


class ClipTooLargeError(DownloadError):
    """The clip is bigger than the cap the caller set (e.g. the channel's upload limit)."""
